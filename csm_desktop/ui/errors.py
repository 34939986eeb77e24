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
    """Show ``message`` in a window-modal box that never blocks the event loop. While one is open
    on ``parent``, later messages join it (one box to read and dismiss, not a stack of them; the
    same message twice is said once)."""
    message, details = redact(message), redact(details)
    box = _open_box(parent)
    if box is not None:
        if message not in box.text().split("\n\n"):
            box.setText(f"{box.text()}\n\n{message}")
        if details:
            box.setDetailedText(f"{box.detailedText()}\n\n{details}" if box.detailedText() else details)
        return box
    box = QMessageBox(QMessageBox.Icon.Warning, title, message, QMessageBox.StandardButton.Ok, parent)
    box.setObjectName("errorBox")
    if details:
        box.setDetailedText(details)
    box.open()
    return box


def _open_box(parent: QWidget | None) -> QMessageBox | None:
    if parent is None:
        return None
    for box in parent.findChildren(QMessageBox, "errorBox"):
        if box.isVisible():
            return box
    return None
