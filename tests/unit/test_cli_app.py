"""``csm-desktop`` with no arguments where the window's toolkit is missing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_without_pyside6_the_app_says_what_to_do_not_a_traceback():
    code = ("import sys; sys.modules['PySide6'] = None\n"  # as if PySide6 were not installed
            "from csm_desktop.cli import main\n"
            "sys.exit(main([]))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 1
    assert "needs PySide6" in proc.stderr and "./run-app" in proc.stderr
    assert "Traceback" not in proc.stderr and "usage: csm-desktop" in proc.stderr
