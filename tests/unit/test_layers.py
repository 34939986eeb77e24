"""Architecture rules: the core never imports Qt."""

from __future__ import annotations

import subprocess
import sys

CORE_MODULES = [
    "csm_desktop.engine", "csm_desktop.engine.testing", "csm_desktop.cli", "csm_desktop.audio", "csm_desktop.errors",
    "csm_desktop.paths", "csm_desktop.settings", "csm_desktop.dialogue.render", "csm_desktop.dialogue.export",
    "csm_desktop.dialogue.voices", "csm_desktop.services.credentials", "csm_desktop.services.hub",
    "csm_desktop.services.gemini", "csm_desktop.services.remote", "csm_desktop.services.engine_server",
    "csm_desktop.services.engines",
]


def test_core_imports_without_qt():
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('PySide6', 'shiboken6'):\n"
        "            raise ImportError('Qt is not allowed in the core: ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        + "".join(f"import {m}\n" for m in CORE_MODULES)
        + "assert not any(m.startswith('PySide6') for m in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
