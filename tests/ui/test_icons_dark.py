"""The line icons read on a dark palette (the screenshots' dark window: grey strokes on grey buttons)."""

from __future__ import annotations

from PySide6.QtGui import QColor
from PySide6.QtWidgets import QApplication

from csm_desktop.ui.icons import icon
from csm_desktop.ui.theme import dark_palette


def _lightest_stroke(name: str) -> int:
    image = icon(name).pixmap(24, 24).toImage()
    return max(QColor(image.pixelColor(x, y)).lightness() for x in range(image.width()) for y in range(image.height())
               if image.pixelColor(x, y).alpha() > 200)


def test_icons_are_drawn_light_on_a_dark_palette(qapp):
    light = QApplication.palette()
    try:
        assert _lightest_stroke("zoom-in") < 130  # the icons' own grey, made for light buttons
        QApplication.setPalette(dark_palette())
        assert _lightest_stroke("zoom-in") > 180 and _lightest_stroke("play") > 180
    finally:
        QApplication.setPalette(light)
