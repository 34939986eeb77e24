"""The window's line icons (resources/icons/*.svg, drawn in one grey). On a dark palette that grey
hardly shows against the buttons, so the strokes are drawn light there."""

from __future__ import annotations

from PySide6.QtCore import QByteArray, Qt
from PySide6.QtGui import QGuiApplication, QIcon, QPainter, QPalette, QPixmap
from PySide6.QtSvg import QSvgRenderer

from csm_desktop.paths import resources_dir

STROKE = b"#5f6b7a"  # the icons' own colour, made for light buttons
STROKE_ON_DARK = b"#c9ced6"
SIZES = (16, 24, 32, 48)


def _dark() -> bool:
    app = QGuiApplication.instance()
    return app is not None and app.palette().color(QPalette.ColorRole.Window).lightness() < 128


def icon(name: str) -> QIcon:
    """``resources/icons/<name>.svg``, light-stroked when the palette is dark."""
    path = resources_dir() / "icons" / f"{name}.svg"
    if not _dark():
        return QIcon(str(path))
    renderer = QSvgRenderer(QByteArray(path.read_bytes().replace(STROKE, STROKE_ON_DARK)))
    out = QIcon()
    for size in SIZES:
        pix = QPixmap(size, size)
        pix.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pix)
        renderer.render(painter)
        painter.end()
        out.addPixmap(pix)
    return out
