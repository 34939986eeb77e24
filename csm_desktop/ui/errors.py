"""The one place the app shows an error: a plain message, with the traceback under Details
when the error is not one the app expects (a :class:`~csm_desktop.errors.CsmError` says what to
do; its traceback would only alarm)."""

from __future__ import annotations

import traceback

from PySide6.QtWidgets import QMessageBox, QWidget

from csm_desktop.errors import CsmError
from csm_desktop.services.credentials import redact


def describe(exc: BaseException) -> tuple[str, str]:
    """The message and the details to show for ``exc``."""
    if isinstance(exc, CsmError):
        return str(exc), ""
    details = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return f"Unexpected error: {type(exc).__name__}: {exc}", details


def show_exception(parent: QWidget | None, exc: BaseException) -> QMessageBox:
    return show_error(parent, *describe(exc))


def show_error(parent: QWidget | None, message: str, details: str = "", title: str = "CSM Desktop") -> QMessageBox:
    box = QMessageBox(QMessageBox.Icon.Warning, title, redact(message), QMessageBox.StandardButton.Ok, parent)
    box.setObjectName("errorBox")
    if details:
        box.setDetailedText(redact(details))
    box.open()  # window-modal, never blocks the event loop
    return box
