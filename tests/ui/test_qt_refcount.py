"""The Qt binding keeps Python's reference counts of ``None`` and ``True`` right.

PySide6 6.12.0 on Python 3.11 took one reference off ``None`` on every Qt call that returns
nothing, and one off ``True`` on every signal emitted; after some minutes of use a count reached
zero and the app died with "Fatal Python error: none_dealloc" (or "bool_dealloc"). Python 3.12+
makes these objects immortal, so the check only bites on 3.11.

The calls run in batches, checked after each, so a leaking binding fails here long before the
count reaches zero and takes the test run down with it. Only losses count: a count that grows
cannot free the object (each ``QPainter`` begun on a new ``QImage`` adds 6 to ``None``'s).
"""

from __future__ import annotations

import sys

import pytest
from PySide6.QtCore import QObject, QPointF, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPen
from PySide6.QtWidgets import QLabel, QWidget

BATCHES = 40
BATCH = 500  # 20,000 rounds of calls per kind
ALLOWED_LOSS = 50  # the interpreter itself moves a count a little; the bug took BATCH per batch


def _label_set_text(n: int) -> None:
    label = QLabel()
    for _ in range(n):
        label.setText("line")


def _widget_update(n: int) -> None:
    widget = QWidget()
    for _ in range(n):
        widget.update()


def _widget_set_tooltip(n: int) -> None:
    widget = QWidget()
    for _ in range(n):
        widget.setToolTip("tip")


def _painter_pen_and_line(n: int) -> None:
    image = QImage(64, 64, QImage.Format.Format_ARGB32)
    pen = QPen(QColor("#2f7ed8"), 1)
    painter = QPainter(image)
    for i in range(n):
        painter.setPen(pen)
        painter.drawLine(QPointF(0, 0), QPointF(i % 64, 63))
    painter.end()


class _Emitter(QObject):
    ticked = Signal(int)


def _signal_emit(n: int) -> None:
    emitter = _Emitter()
    emitter.ticked.connect(lambda value: None)
    for i in range(n):
        emitter.ticked.emit(i)


@pytest.mark.parametrize(("calls", "watched"), [
    (_label_set_text, None),
    (_widget_update, None),
    (_widget_set_tooltip, None),
    (_painter_pen_and_line, None),
    (_signal_emit, True),
], ids=["QLabel.setText", "QWidget.update", "QWidget.setToolTip", "QPainter.setPen+drawLine", "Signal.emit"])
def test_qt_calls_keep_the_reference_counts_of_none_and_true(qapp, calls, watched):
    calls(10)  # first calls may cache things
    before = sys.getrefcount(watched)
    for batch in range(BATCHES):
        calls(BATCH)
        lost = before - sys.getrefcount(watched)
        assert lost <= ALLOWED_LOSS, (
            f"{(batch + 1) * BATCH} rounds of {calls.__name__} took {lost} references off {watched}: this Qt "
            f"binding corrupts its count and the app will die with '{'none' if watched is None else 'bool'}_dealloc' "
            "(pin a PySide6 that does not)")
