"""The "mlx" device in the window: offered in Settings, saved, and named in the status bar."""

from __future__ import annotations

import pytest

from csm_desktop.settings import Settings
from csm_desktop.ui.engine_host import describe_engine
from csm_desktop.ui.settings_dialog import SettingsDialog, detected_devices

pytest.importorskip("mlx.core")


def test_settings_offer_mlx_and_keep_the_choice(make_window):
    w = make_window()
    dialog = SettingsDialog(w, w.settings)
    assert "mlx" in [dialog.device.itemText(i) for i in range(dialog.device.count())]
    assert "MLX" in detected_devices()
    dialog.device.setCurrentText("mlx")
    w.apply_settings(dialog)
    assert Settings.load().device == "mlx"


def test_status_bar_says_mlx_and_where_it_runs(tiny_folder):
    from csm_desktop.engine import load_csm_1b

    text, tip = describe_engine(load_csm_1b("mlx", model=tiny_folder, warm_up=False))
    assert text == "MLX · CPU"  # mlx[cpu] on Linux; "MLX · Apple GPU" on a Mac
    assert "MLX on the CPU, Mimi on cpu" in tip
