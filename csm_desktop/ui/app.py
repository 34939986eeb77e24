"""Starting the desktop app."""

from __future__ import annotations

import sys

from csm_desktop import redaction
from csm_desktop.paths import resources_dir
from csm_desktop.services.desktop_entry import APP_ID


def run_app(argv: list[str] | None = None, projects: list[str] | None = None) -> int:
    """The window; ``projects``: what the command line named (a .csmproj folder or its project.json)."""
    from PySide6.QtGui import QIcon
    from PySide6.QtWidgets import QApplication, QMessageBox

    from csm_desktop.dialogue.voices import VoiceLibrary
    from csm_desktop.errors import CsmError
    from csm_desktop.services.engines import open_engine
    from csm_desktop.settings import Settings
    from csm_desktop.ui.main_window import MainWindow
    from csm_desktop.ui.theme import apply_color_scheme

    redaction.install()
    app = QApplication.instance() or QApplication(argv or sys.argv)
    app.setApplicationName("CSM Desktop")
    app.setOrganizationName("csm-desktop")
    app.setDesktopFileName(APP_ID)  # the menu entry (install-desktop) the window belongs to
    app.setWindowIcon(QIcon(str(resources_dir() / "icons" / "app.svg")))
    apply_color_scheme(app)
    settings = Settings.load()
    try:
        library = VoiceLibrary()
    except CsmError as exc:  # locked by another program for too long, or an unusable folder
        QMessageBox.critical(None, "CSM Desktop", str(exc))
        return 1
    window = MainWindow(engine_factory=lambda: open_engine(settings), settings=settings, library=library)
    window.show()
    window.start_up(projects or [])
    from csm_desktop.ui.model_setup import model_is_available

    if not model_is_available(settings):
        window.model_setup_dialog()
    try:
        return app.exec()
    finally:
        close_window(window)


def close_window(window) -> None:
    """Delete the window and all it holds now, while Python is whole. Left to PySide's clean-up at
    exit, our widgets were deleted one by one in no set order: a slot (a lambda) freed with one of
    them could drop the last reference to a dialog or window whose children were being deleted
    at that moment, which deleted them twice ("QObject: shared QObject was deleted directly",
    then a corrupted heap)."""
    import shiboken6

    if shiboken6.isValid(window):
        shiboken6.delete(window)
