"""The app in the desktop's menus (freedesktop.org): ``csm-desktop install-desktop`` writes a
``.desktop`` entry and the icon under ``$XDG_DATA_HOME`` (``~/.local/share``).

The entry starts this very installation (this Python, this package) with ``%F``, so "Open with"
and a launcher given a ``.csmproj`` folder or its ``project.json`` open that project. No MIME type
is claimed: a ``.csmproj`` project is a folder, which file managers open themselves, and claiming
``inode/directory`` would offer CSM Desktop for every folder.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from csm_desktop.paths import resources_dir

APP_ID = "csm-desktop"  # the entry's file name, the icon's name, the window's desktop file name
WM_CLASS = "CSM Desktop"  # the application name Qt gives the window's class
_RESERVED = set(" \t\n\"'\\><~|&;$*?#()`")


def data_home() -> Path:
    """``$XDG_DATA_HOME``, or ``~/.local/share`` when it is unset or not absolute (the spec's rule)."""
    value = os.environ.get("XDG_DATA_HOME", "")
    return Path(value) if value and os.path.isabs(value) else Path.home() / ".local" / "share"


def launcher() -> list[str]:
    """The command that starts this installation of the app: its console script when it is
    installed, else this Python with the package's folder on its path (a source checkout)."""
    package_parent = Path(__file__).resolve().parents[2]
    if package_parent.name in ("site-packages", "dist-packages"):
        script = Path(sys.executable).parent / APP_ID
        return [str(script)] if script.is_file() else [sys.executable, "-m", "csm_desktop"]
    return ["env", f"PYTHONPATH={package_parent}", sys.executable, "-m", "csm_desktop"]


def exec_quote(arg: str) -> str:
    """One argument of an ``Exec`` key, quoted as the Desktop Entry spec asks (then escaped as
    any string value is: a backslash doubled)."""
    arg = arg.replace("%", "%%")
    if _RESERVED & set(arg):
        arg = '"' + "".join("\\" + c if c in '"`$\\' else c for c in arg) + '"'
    return arg.replace("\\", "\\\\")


def entry_text(command: list[str]) -> str:
    exec_line = " ".join(exec_quote(a) for a in command) + " %F"
    try_exec = command[2] if command[0] == "env" else command[0]
    return "\n".join([
        "[Desktop Entry]",
        "Type=Application",
        "Version=1.5",
        "Name=CSM Desktop",
        "GenericName=Dialogue speech studio",
        "Comment=Render multi-speaker dialogue with Sesame's CSM-1B speech model",
        f"TryExec={try_exec.replace(chr(92), chr(92) * 2)}",
        f"Exec={exec_line}",
        f"Icon={APP_ID}",
        "Terminal=false",
        "Categories=AudioVideo;Audio;",
        "Keywords=speech;text to speech;tts;dialogue;voice;podcast;",
        f"StartupWMClass={WM_CLASS}",
        "StartupNotify=true",
        "",
    ])


def entry_paths(home: Path | None = None) -> tuple[Path, Path]:
    """Where the entry and the icon go."""
    home = home or data_home()
    return (home / "applications" / f"{APP_ID}.desktop",
            home / "icons" / "hicolor" / "scalable" / "apps" / f"{APP_ID}.svg")


def install(home: Path | None = None) -> list[Path]:
    """Write the entry and the icon; returns what was written.

    Raises: OSError: a folder could not be made or a file written.
    """
    entry, icon = entry_paths(home)
    for path in (entry, icon):
        path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(resources_dir() / "icons" / "app.svg", icon)
    tmp = entry.with_name(f".{entry.name}.part")
    tmp.write_text(entry_text(launcher()), encoding="utf-8")
    tmp.chmod(0o755)  # some desktops ask before they run an entry that is not executable
    tmp.replace(entry)
    return [entry, icon]


def uninstall(home: Path | None = None) -> list[Path]:
    """Remove the entry and the icon; returns what was there."""
    removed = []
    for path in entry_paths(home):
        if path.exists():
            path.unlink()
            removed.append(path)
    return removed
