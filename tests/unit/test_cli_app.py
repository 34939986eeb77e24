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


def test_render_options_out_of_range_are_refused_before_anything_loads(tmp_path, capsys):
    from csm_desktop.cli import main

    script = tmp_path / "s.txt"
    script.write_text("Alice: Hi.\n", encoding="utf-8")
    for option, value, shown in (("--max-line-ms", "0", "80 to"), ("--max-ms", "-5", "80 to"),
                                 ("--temperature", "nan", "0.01 to"), ("--topk", "0", "1 to"), ("--seed", "-1", "0 to")):
        assert main(["render", str(script), "-o", str(tmp_path / "o.wav"), option, value]) == 1
        err = capsys.readouterr().err
        assert shown in err and "Loading" not in err, (option, err)


def test_python_dash_m_runs_the_same_command():
    """``python -m csm_desktop`` is the ``csm-desktop`` command (here its help, which loads nothing)."""
    proc = subprocess.run([sys.executable, "-m", "csm_desktop", "--help"], capture_output=True, text=True, cwd=ROOT,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "usage: csm-desktop" in proc.stdout and "render" in proc.stdout
