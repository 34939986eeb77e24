"""The window's size (issue 13, defect 2): it does not grow wider as lines are selected, and the
default window fits a 1280x720 screen with Import, Regenerate and the status bar in sight."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QRect
from PySide6.QtWidgets import QApplication, QPushButton

LONG = "Alice: " + " ".join(["Supercalifragilisticexpialidocious-and-then-some"] * 6)


def _button(w, text: str) -> QPushButton:
    return next(b for b in w.findChildren(QPushButton) if b.text() == text)


def _inside(w, widget) -> bool:
    """``widget`` is shown whole inside the window."""
    top_left = widget.mapTo(w, QPoint(0, 0))
    return widget.isVisible() and QRect(QPoint(0, 0), w.size()).contains(QRect(top_left, widget.size()))


def test_selecting_lines_does_not_widen_the_window(make_window, qtbot, tmp_path):
    w = make_window()
    w.resize(1280, 700)
    w.show()
    qtbot.waitExposed(w)
    w.editor.setPlainText(f"{LONG}\nBob: Short.\n{LONG.replace('Alice', 'Carol')}\n")
    assert w.save_as(tmp_path / "Wide")
    assert w.rendering.start_render(None) is not None
    qtbot.waitUntil(lambda: w.rendering.job is None, timeout=30_000)
    w.banner.setText("Tiny test model: random weights, its output is noise. " + "A-very-long-unbroken-word-" * 8)
    w.banner.setVisible(True)
    w.timeline_ctl.refresh()
    for n in (0, 1, 2, 0):
        w.editor.select_utterance(n)
        QApplication.processEvents()
        assert w.width() == 1280, n
    assert w.minimumSizeHint().width() <= 1280
    assert w.takes.title.toolTip().startswith("Takes · Alice: Supercal")  # cut in the panel, whole here


class _Screen:
    """A 1280x720 screen less a 28-pixel panel."""

    def availableGeometry(self):  # noqa: N802
        return QRect(0, 28, 1280, 692)


def test_the_default_window_fits_a_1280x720_screen(make_window, qtbot, monkeypatch):
    from csm_desktop.ui.main_window import MainWindow

    monkeypatch.setattr(MainWindow, "screen", lambda self: _Screen())
    w = make_window()
    assert w.width() <= 1280 and w.height() + 40 <= 692  # room for the title bar
    minimum = w.minimumSizeHint()
    assert minimum.width() <= w.width() and minimum.height() <= w.height()
    w.show()
    qtbot.waitExposed(w)
    assert w.width() <= 1280 and w.height() + 40 <= 692
    for widget in (_button(w, "Import…"), _button(w, "Regenerate"), w.statusBar(), w.timeline.play_button,
                   w.timeline.readout):
        assert _inside(w, widget), widget
