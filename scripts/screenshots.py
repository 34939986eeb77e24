"""Write screenshots of the main window (empty, mid-render, finished) to docs/screenshots/.

    QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/screenshots.py [--dark]

Uses a fake engine (tones, slowed down so that a mid-render state exists) and temporary data
folders, so it touches nothing of yours.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
TMP = Path(tempfile.mkdtemp(prefix="csm-shots-"))
os.environ["CSM_DESKTOP_DATA_DIR"] = str(TMP / "data")
os.environ["CSM_DESKTOP_CONFIG_DIR"] = str(TMP / "config")

import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from csm_desktop.settings import Settings  # noqa: E402
from csm_desktop.ui.main_window import MainWindow  # noqa: E402
from csm_desktop.ui.settings_dialog import SettingsDialog  # noqa: E402
from fakes.engine import FakeEngine  # noqa: E402

SCRIPT = """# Episode 12: the coffee machine
Alice: Morning! Did you fix the coffee machine?
Bob: I tried. It now makes tea, somehow.
[pause 600ms]
Alice: That is either a bug or a feature.
Bob: Let's call it a feature and ship it.
Carol: Ship what? Please tell me it isn't the tea machine.
"""


class SlowFake(FakeEngine):
    def stream(self, *args, **kwargs):
        for chunk in super().stream(*args, **kwargs):
            time.sleep(0.01)
            yield chunk


def pump(app, seconds):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.01)


def main() -> None:
    out = ROOT / "docs" / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    app = QApplication.instance() or QApplication(sys.argv)
    dark = "--dark" in sys.argv
    if dark:  # what a user with a dark desktop theme sees
        os.environ["CSM_DESKTOP_THEME"] = "dark"
    from csm_desktop.ui.theme import apply_color_scheme

    apply_color_scheme(app)  # as run_app does
    suffix = "-dark" if dark else ""
    window = MainWindow(engine_factory=lambda: SlowFake(frames_per_char=1.5), settings=Settings())
    window.resize(1400, 820)
    window.show()
    pump(app, 0.3)
    window.grab().save(str(out / f"empty{suffix}.png"))

    t = np.arange(24_000 * 7) / 24_000
    for name, freq in (("alice-intro.wav", 200), ("bob-reads.flac", 120)):
        sf.write(TMP / name, 0.3 * np.sin(2 * np.pi * freq * t), 24_000)
    window.speakers_ctl.import_files([str(TMP / "alice-intro.wav"), str(TMP / "bob-reads.flac")])
    window.editor.setPlainText(SCRIPT)
    clips = window.library.clips()
    window.library.update(clips[0].id, transcript="Hi, I'm Alice and this is how I sound.")
    window.library.update(clips[1].id, transcript="Bob here, reading a short passage.")
    window.speakers_ctl.assign_clip("Alice", clips[0].id)
    window.speakers_ctl.assign_clip("Bob", clips[1].id)
    window.save_as(TMP / "Coffee")
    window.rendering.start_render(None)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and window.editor.states.count("done") < 2:
        pump(app, 0.05)
    pump(app, 0.2)
    window.grab().save(str(out / f"mid-render{suffix}.png"))
    while window.rendering.job is not None:
        pump(app, 0.05)
    window.editor.select_utterance(1)
    pump(app, 0.3)
    window.grab().save(str(out / f"finished{suffix}.png"))
    dialog = SettingsDialog(window, window.settings)
    dialog.show()
    pump(app, 0.3)
    dialog.grab().save(str(out / f"settings{suffix}.png"))
    dialog.reject()
    window.session.dirty = False
    window.close()
    print(f"Wrote {', '.join(p.name for p in sorted(out.glob('*.png')))} to {out}")


if __name__ == "__main__":
    main()
