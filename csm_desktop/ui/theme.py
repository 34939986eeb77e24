"""Light or dark, as the operating system says: Fusion with a palette to match the scheme."""

from __future__ import annotations

import os

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication


def dark_palette() -> QPalette:
    p = QPalette()
    roles = {
        QPalette.ColorRole.Window: "#2b2d31", QPalette.ColorRole.WindowText: "#e6e6e6",
        QPalette.ColorRole.Base: "#1e1f22", QPalette.ColorRole.AlternateBase: "#26282c",
        QPalette.ColorRole.Text: "#e6e6e6", QPalette.ColorRole.Button: "#34363b",
        QPalette.ColorRole.ButtonText: "#e6e6e6", QPalette.ColorRole.Highlight: "#2f7ed8",
        QPalette.ColorRole.HighlightedText: "#ffffff", QPalette.ColorRole.ToolTipBase: "#34363b",
        QPalette.ColorRole.ToolTipText: "#e6e6e6", QPalette.ColorRole.PlaceholderText: "#8a8f98",
        QPalette.ColorRole.Link: "#6aa9f0", QPalette.ColorRole.BrightText: "#ff6b6b",
    }
    for role, color in roles.items():
        p.setColor(role, QColor(color))
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText, QPalette.ColorRole.WindowText):
        p.setColor(QPalette.ColorGroup.Disabled, role, QColor("#6b6f76"))
    return p


def apply_color_scheme(app: QApplication) -> None:
    """Use Fusion, dark when the system scheme is dark, and follow later changes.
    ``CSM_DESKTOP_THEME=dark|light`` overrides what the platform reports (some report nothing)."""
    app.setStyle("Fusion")
    forced = os.environ.get("CSM_DESKTOP_THEME", "").lower()

    def update(*_args) -> None:
        dark = forced == "dark" or (forced != "light" and app.styleHints().colorScheme() == Qt.ColorScheme.Dark)
        app.setPalette(dark_palette() if dark else app.style().standardPalette())

    update()
    app.styleHints().colorSchemeChanged.connect(update)
