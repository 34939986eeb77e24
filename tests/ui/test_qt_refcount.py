"""The Qt binding keeps Python's reference count of ``None`` right.

PySide6 6.12.0 on Python 3.11 took one reference off ``None`` on every Qt call that returns
nothing; after some minutes of use the count reached zero and the app died with "Fatal Python
error: none_dealloc". Python 3.12+ makes ``None`` immortal, so the check only bites on 3.11.
The calls run in batches, checked after each, so a leaking binding fails here long before the
count reaches zero and takes the test run down with it. Only losses count: a count that grows
cannot free ``None`` (each ``QPainter`` begun and ended adds 6 in PySide6 6.11 and 6.12).
"""

from __future__ import annotations

import sys

import pytest
from PySide6.QtCore import QPointF
from PySide6.QtGui import QColor, QImage, QPainter, QPen
from PySide6.QtWidgets import QLabel, QWidget

BATCHES = 40
BATCH = 500  # 20,000 void calls per kind
ALLOWED_LOSS = 50  # the interpreter itself moves the count a little; the bug took BATCH per batch


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


@pytest.mark.parametrize("calls", [_label_set_text, _widget_update, _widget_set_tooltip, _painter_pen_and_line],
                         ids=["QLabel.setText", "QWidget.update", "QWidget.setToolTip", "QPainter.setPen+drawLine"])
def test_void_qt_calls_keep_the_reference_count_of_none(qapp, calls):
    calls(10)  # first calls may cache things
    before = sys.getrefcount(None)
    for batch in range(BATCHES):
        calls(BATCH)
        lost = before - sys.getrefcount(None)
        assert lost <= ALLOWED_LOSS, (
            f"{(batch + 1) * BATCH} rounds of {calls.__name__} took {lost} references off None: "
            "this Qt binding corrupts it and the app will die with 'none_dealloc' (pin a PySide6 that does not)")
