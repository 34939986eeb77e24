"""Architecture rules: the core never imports Qt; the engine never reaches the network."""

from __future__ import annotations

import subprocess
import sys

def _core_modules() -> list[str]:
    """Every module of the package outside ui/ (found, not listed by hand)."""
    import pkgutil

    import csm_desktop

    return [m.name for m in pkgutil.walk_packages(csm_desktop.__path__, "csm_desktop.")
            if not m.name.startswith("csm_desktop.ui")]


CORE_MODULES = _core_modules()


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


def _lint_imports(root) -> subprocess.CompletedProcess:
    from pathlib import Path

    tool = Path(sys.executable).with_name("lint-imports")
    return subprocess.run([str(tool), "--config", str(root / "pyproject.toml")], capture_output=True, text=True,
                          cwd=root, env={**__import__("os").environ, "PYTHONPATH": str(root)}, timeout=300)


def test_the_import_contracts_hold():
    """pyproject.toml's [tool.importlinter]: Qt only in ui/, ui > services > dialogue > engine, and no
    hub or HTTP client in the engine."""
    from pathlib import Path

    import tomllib

    root = Path(__file__).resolve().parents[2]
    contracts = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    result = _lint_imports(root)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert f"{len(contracts)} kept, 0 broken" in result.stdout


def test_the_import_contracts_catch_a_layer_pointing_up(tmp_path):
    import shutil
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    shutil.copytree(root / "csm_desktop", tmp_path / "csm_desktop", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(root / "pyproject.toml", tmp_path / "pyproject.toml")
    with open(tmp_path / "csm_desktop" / "engine" / "codec.py", "a") as f:
        f.write("\nfrom csm_desktop.dialogue import render  # noqa\nimport PySide6  # noqa\n")
    with open(tmp_path / "csm_desktop" / "engine" / "weights.py", "a") as f:
        f.write("\ndef _fetch():\n    import huggingface_hub  # noqa\n    import requests  # noqa\n")
    with open(tmp_path / "csm_desktop" / "ui" / "controllers" / "rendering.py", "a") as f:
        f.write("\nfrom csm_desktop.ui.controllers import takes  # noqa\n")
    with open(tmp_path / "csm_desktop" / "ui" / "widgets" / "takes_panel.py", "a") as f:
        f.write("\nfrom csm_desktop.ui import session  # noqa\n")
    result = _lint_imports(tmp_path)
    assert result.returncode != 0
    assert "csm_desktop.engine.codec -> csm_desktop.dialogue.render" in result.stdout
    assert "csm_desktop.engine.codec -> PySide6" in result.stdout
    assert "csm_desktop.engine.weights -> huggingface_hub" in result.stdout
    assert "csm_desktop.engine.weights -> requests" in result.stdout
    assert "csm_desktop.ui.controllers.rendering -> csm_desktop.ui.controllers.takes" in result.stdout
    assert "csm_desktop.ui.widgets.takes_panel -> csm_desktop.ui.session" in result.stdout
