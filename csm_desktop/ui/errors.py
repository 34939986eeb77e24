"""The one place the app shows an error: a plain message, with the traceback under Details."""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox, QWidget

from csm_desktop.services.credentials import redact


def show_error(parent: QWidget | None, message: str, details: str = "", title: str = "CSM Desktop") -> QMessageBox:
    box = QMessageBox(QMessageBox.Icon.Warning, title, redact(message), QMessageBox.StandardButton.Ok, parent)
    box.setObjectName("errorBox")
    if details:
        box.setDetailedText(redact(details))
    box.open()  # window-modal, never blocks the event loop
    return box
