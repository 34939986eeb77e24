"""The freedesktop menu entry (csm-desktop install-desktop) and csm-desktop PROJECT."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from csm_desktop.services import desktop_entry

ROOT = Path(__file__).resolve().parents[2]


def _entry(path: Path) -> dict[str, str]:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # keys are case-sensitive
    parser.read(path, encoding="utf-8")
    return dict(parser["Desktop Entry"])


def _exec_args(value: str) -> list[str]:
    """An Exec value as the Desktop Entry spec has a launcher read it: the string escape (a
    doubled backslash), then quoting (inside "...", a backslash escapes " ` $ and itself), then %%."""
    text = value.replace("\\\\", "\\")
    args, current, quoted, i = [], None, False, 0
    while i < len(text):
        c = text[i]
        if quoted and c == "\\" and i + 1 < len(text) and text[i + 1] in '"`$\\':
            current += text[i + 1]
            i += 1
        elif c == '"':
            quoted = not quoted
            current = current or ""
        elif c == " " and not quoted:
            if current is not None:
                args.append(current)
            current = None
        else:
            current = (current or "") + c
        i += 1
    if current is not None:
        args.append(current)
    return [a.replace("%%", "%") for a in args]


def test_install_writes_an_entry_that_starts_this_installation(tmp_path, monkeypatch, capsys):
    from csm_desktop.cli import main

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "share"))
    assert main(["install-desktop"]) == 0
    entry_file = tmp_path / "share" / "applications" / "csm-desktop.desktop"
    icon = tmp_path / "share" / "icons" / "hicolor" / "scalable" / "apps" / "csm-desktop.svg"
    assert f"Wrote {entry_file}" in capsys.readouterr().err
    assert icon.read_bytes() == (ROOT / "resources" / "icons" / "app.svg").read_bytes()
    entry = _entry(entry_file)
    assert entry["Type"] == "Application" and entry["Name"] == "CSM Desktop" and entry["Icon"] == "csm-desktop"
    assert entry["Exec"].endswith(" %F") and entry["Terminal"] == "false"
    assert "MimeType" not in entry  # a project is a folder: no claim on every folder
    # The command the entry runs is this app: given --version in place of %F, it answers.
    command = _exec_args(entry["Exec"].removesuffix(" %F"))
    proc = subprocess.run([*command, "--version"], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 0 and "csm-desktop" in proc.stdout, proc.stderr
    if shutil.which("desktop-file-validate"):
        check = subprocess.run(["desktop-file-validate", str(entry_file)], capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr
    assert main(["install-desktop", "--uninstall"]) == 0
    assert not entry_file.exists() and not icon.exists()
    assert main(["install-desktop", "--uninstall"]) == 0
    assert "No CSM Desktop menu entry" in capsys.readouterr().err


def test_an_unwritable_place_is_a_clear_message(tmp_path, monkeypatch, capsys):
    from csm_desktop.cli import main

    blocker = tmp_path / "share"
    blocker.write_text("a file where the folder should be")
    monkeypatch.setenv("XDG_DATA_HOME", str(blocker))
    assert main(["install-desktop"]) == 1
    err = capsys.readouterr().err
    assert "could not be written" in err and "XDG_DATA_HOME" in err and "Traceback" not in err


@pytest.mark.parametrize("arg", ["/opt/CSM Desktop/bin/python", 'say "hi"', "100%", "back\\slash", "$HOME", "plain"])
def test_exec_quoting_round_trips(arg):
    assert _exec_args(desktop_entry.exec_quote(arg)) == [arg]


def test_a_relative_xdg_data_home_is_ignored(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_DATA_HOME", "relative/share")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert desktop_entry.data_home() == tmp_path / ".local" / "share"


def test_project_arguments_open_the_window_with_them(monkeypatch, tmp_path):
    """csm-desktop PROJECT (and python -m csm_desktop PROJECT) hands the project to the window;
    subcommands stay subcommands."""
    import csm_desktop.ui.app as app

    seen = []
    monkeypatch.setattr(app, "run_app", lambda argv=None, projects=None: seen.append(projects) or 0)
    from csm_desktop.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(["Story.csmproj"]) == 0
    assert main([str(tmp_path / "Other.csmproj" / "project.json"), "Second.csmproj"]) == 0
    assert main([]) == 0
    assert seen == [[str(tmp_path / "Story.csmproj")],
                    [str(tmp_path / "Other.csmproj" / "project.json"), str(tmp_path / "Second.csmproj")], []]
    with pytest.raises(SystemExit):
        main(["render", "--help"])
    assert len(seen) == 3


def test_python_dash_m_with_a_project_reaches_the_window(tmp_path):
    """``python -m csm_desktop PROJECT`` goes to the window, not to argparse (which would refuse it)."""
    code = ("import sys; import csm_desktop.ui.app as app\n"
            "app.run_app = lambda argv=None, projects=None: print('PROJECTS', projects) or 0\n"
            "import runpy; sys.argv = ['csm_desktop', 'My Story.csmproj']\n"
            "runpy.run_module('csm_desktop', run_name='__main__')")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=120,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "QT_QPA_PLATFORM": "offscreen"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert f"PROJECTS ['{tmp_path / 'My Story.csmproj'}']" in proc.stdout
