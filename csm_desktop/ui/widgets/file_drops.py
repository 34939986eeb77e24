"""Files dropped anywhere in the window: on the script they are not pasted as ``file:///…`` lines;
audio is imported into the library wherever it lands (the speakers panel and the library take
their own drops first)."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Signal
from PySide6.QtWidgets import QWidget

from csm_desktop.ui.widgets.common import local_files

_DRAGS = (QEvent.Type.DragEnter, QEvent.Type.DragMove)


class FileDropCatcher(QObject):
    """Watches widgets for drags of local files; text drags pass through untouched."""

    files_dropped = Signal(list)  # paths

    def watch(self, widget: QWidget) -> None:
        widget.setAcceptDrops(True)
        widget.installEventFilter(self)

    def eventFilter(self, obj, event) -> bool:  # noqa: N802
        kind = event.type()
        if kind not in _DRAGS and kind != QEvent.Type.Drop:
            return False
        files = local_files(event.mimeData())
        if not files:
            return False
        event.acceptProposedAction()
        if kind == QEvent.Type.Drop:
            self.files_dropped.emit(files)
        return True
