"""Write the screenshots in docs/screenshots/: the main window (script, speakers and library, takes,
line inspector, timeline) at 1600x1000 and at 1280x720, light and dark, and its dialogs.

    QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/screenshots.py

Each theme is drawn by a process of its own (``--theme light|dark``, started by the first). The
window runs as a user meets it, with a fake engine that speaks each line with espeak-ng (tones
where espeak-ng is missing), voice clips made with espeak-ng, a silent player whose clock runs,
and a temporary home and data folders, so it touches nothing of yours. Questions the window
would ask (a dialog's exec) are answered by drawing the dialog and cancelling it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "screenshots"
SIZES = {"1600x1000": (1600, 1000), "1280x720": (1272, 680)}  # on a 1280x720 screen: the size the app picks
THEMES = ("light", "dark")
SCRIPT = """# The bicycle shop
Alice: Morning, Bob! Is my bike ready yet?
Bob: Almost. The back wheel needed a new spoke.
Carol: Sorry to barge in, but whose dog is sitting outside?
Alice: That would be Pepper. She waits for me everywhere.
[pause 600ms]
Bob: Pepper has better manners than most of my customers.
Carol: I teach music on the hill. Could Pepper come to class?
Alice: Only if she gets a solo.
Bob: Your bike is ready, Alice. No charge for the dog jokes.
"""
VOICES = {  # speaker: (espeak-ng voice, what the clip says)
    "Alice": ("en-us", "Hi, I am Alice. I like long walks by the river and reading old books on rainy afternoons."),
    "Bob": ("en-gb+m3", "Hello, this is Bob speaking. I repair bicycles and I drink far too much coffee every day."),
    "Carol": ("en-029", "Good evening, my name is Carol. I teach music at the school on the hill near the station."),
}
DRAFT = """Alice: Is that a parrot on your balcony, Bob?
Bob: His name is Captain. He only says one word.
Carol: Let me guess. It is not a polite word.
Alice: It is my name. He shouts it at six in the morning."""


def main() -> None:
    """Draw each theme in a fresh process (a palette is chosen once, at start-up)."""
    OUT.mkdir(parents=True, exist_ok=True)
    for theme in THEMES:
        env = dict(os.environ, QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"))
        subprocess.run([sys.executable, __file__, "--theme", theme], check=True, env=env)
    print(f"Screenshots in {OUT}:", ", ".join(p.name for p in sorted(OUT.glob("*.png"))))


def draw(theme: str) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="csm-shots-"))
    os.environ.update(HOME=str(tmp / "home"), CSM_DESKTOP_DATA_DIR=str(tmp / "data"),
                      CSM_DESKTOP_CONFIG_DIR=str(tmp / "config"), CSM_DESKTOP_THEME=theme,
                      XDG_DOCUMENTS_DIR=str(tmp / "home" / "Documents"))
    (tmp / "home" / "Documents").mkdir(parents=True)
    sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
    try:
        Shots(theme, tmp).run()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


class Shots:
    def __init__(self, theme: str, tmp: Path) -> None:
        from PySide6.QtWidgets import QApplication

        from csm_desktop.ui.theme import apply_color_scheme

        self.theme, self.tmp = theme, tmp
        self.app = QApplication.instance() or QApplication(sys.argv[:1])
        apply_color_scheme(self.app)  # as run_app does
        self._no_questions()

    # ----- helpers ------------------------------------------------------------------------------------
    def pump(self, seconds: float = 0.2) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.app.processEvents()
            time.sleep(0.01)

    def save(self, widget, name: str) -> None:
        self.pump(0.3)
        widget.grab().save(str(OUT / f"{name}.png"))

    def _no_questions(self) -> None:
        """Speakers with no voice are rendered; every clip's consent is on record (asked once a
        clip, about real people: the screenshots' voices are espeak-ng's)."""
        import csm_desktop.ui.controllers.speakers as speakers
        from csm_desktop.ui.controllers.voice_checks import RENDER, VoiceCheck

        VoiceCheck.ask = lambda self, fixes, voiceless: RENDER

        def confirmed(parent, library, clip, speaker, then):
            library.record_consent(clip.id)
            then()

        speakers.ask_consent = confirmed

    @contextmanager
    def dialogs_drawn(self, name: str):
        """A dialog the window runs with exec() is drawn as ``name`` and cancelled."""
        from PySide6.QtWidgets import QDialog, QMessageBox

        def exec_(dialog) -> int:
            dialog.show()
            self.save(dialog, name)
            dialog.hide()
            return 0

        saved = QDialog.exec, QMessageBox.exec
        QDialog.exec = QMessageBox.exec = exec_
        try:
            yield
        finally:
            QDialog.exec, QMessageBox.exec = saved

    def window(self, size: str, slow: bool = False):
        from csm_desktop.dialogue.voices import VoiceLibrary
        from csm_desktop.settings import Settings
        from csm_desktop.ui.main_window import MainWindow
        from fakes.player import ClockedPlayer

        engine = self._engine(slow)
        w = MainWindow(engine_factory=lambda: engine, settings=Settings(), player=ClockedPlayer(),
                       library=VoiceLibrary(self.tmp / "data" / f"library-{size}-{slow}"))
        w.resize(*SIZES[size])
        w.show()
        self.pump(0.3)
        return w

    @staticmethod
    def _engine(slow: bool):
        from fakes.engine import FakeEngine
        from fakes.speech import SpeakingEngine

        base = SpeakingEngine if shutil.which("espeak-ng") else FakeEngine

        class Engine(base):
            def stream(self, *args, **kwargs):
                for chunk in super().stream(*args, **kwargs):
                    time.sleep(0.02 if slow else 0)
                    yield chunk

        return Engine()

    def _clips(self) -> dict[str, Path]:
        import numpy as np
        import soundfile as sf

        clips = {}
        for speaker, (voice, words) in VOICES.items():
            path = clips[speaker] = self.tmp / f"{speaker.lower()}-voice.wav"
            if shutil.which("espeak-ng"):
                subprocess.run(["espeak-ng", "-v", voice, "-w", str(path), words], check=True)
            else:
                t = np.arange(24_000 * 7) / 24_000
                sf.write(path, 0.3 * np.sin(2 * np.pi * (120 + 40 * len(clips)) * t), 24_000)
        return clips

    def voiced(self, w, name: str) -> None:
        """The script typed, a clip for each speaker with its transcript, saved as ``name``."""
        w.editor.setPlainText(SCRIPT)
        clips = self._clips()
        w.speakers_ctl.import_files([str(p) for p in clips.values()])
        by_name = {c.name: c for c in w.library.clips()}
        for speaker, path in clips.items():
            clip = by_name[path.stem]
            w.speakers_ctl.edit_transcript(clip.id, VOICES[speaker][1])
            w.speakers_ctl.assign_clip(speaker, clip.id)
        assert w.save_as(self.tmp / "home" / "Documents" / f"{name}.csmproj")

    def render(self, w, lines=None) -> None:
        assert w.rendering.start_render(lines) is not None
        deadline = time.monotonic() + 120
        while w.rendering.job is not None and time.monotonic() < deadline:
            self.pump(0.05)
        self.pump(0.4)  # line states and the timeline

    # ----- the shots ----------------------------------------------------------------------------------
    def run(self) -> None:
        t = self.theme
        for size in SIZES:
            w = self.window(size)
            self.save(w, f"empty-{size}-{t}")  # what a new user sees first: each panel says what to do
            self.voiced(w, f"Bicycle-{size}")
            self.render(w)
            self.studio(w, size)
            if size == "1280x720":
                self.zoomed(w, size)
            if size == "1280x720" and t == "light":
                self.dialogs(w)
            if t == "light" or size == "1600x1000":
                self.settings(w)
            w.session.dirty = False
            w.close()
        if t == "light":
            self.rendering()

    def studio(self, w, size: str) -> None:
        """A line with three takes (one starred) and a gap of its own, a line edited since its
        render, the dialogue paused on the timeline with the line playing highlighted."""
        from csm_desktop.ui.widgets.line_inspector import LineOptions

        w.editor.select_utterance(1)
        w.takes_ctl.refresh()
        for _ in range(2):
            w.rendering.regenerate_selected()
            while w.rendering.job is not None:
                self.pump(0.05)
        first = w.takes.rows[0].key
        w.takes_ctl.choose_take(first)  # compared, and the first kept: the lines after it stay current
        w.takes_ctl.star_take(first, True)
        w.generation.set_line_options(LineOptions(900, None, None))  # a longer gap after this line
        cursor = w.editor.textCursor()
        block = w.editor.document().findBlockByNumber(8)  # "Alice: Only if she gets a solo."
        cursor.setPosition(block.position() + block.length() - 1)
        w.editor.setTextCursor(cursor)
        w.editor.insertPlainText(" And a bow tie.")
        self.pump(1.0)  # the line states are planned again
        w.editor.select_utterance(1)
        w.takes_ctl.refresh()
        w.timeline_ctl.play_from(w.timeline_ctl.start_of_editor_line(5) + 0.8)
        self.pump(0.1)
        w.timeline_ctl.pause()
        self.save(w, f"studio-{size}-{self.theme}")

    def zoomed(self, w, size: str) -> None:
        """Zoomed in on the timeline while the dialogue plays: the playhead is followed."""
        w.timeline.canvas.set_view(3.5, 0.0)
        w.timeline_ctl.play_from(9.0)
        self.pump(0.6)
        self.save(w, f"timeline-zoomed-{size}-{self.theme}")
        w.timeline_ctl.stop()
        w.timeline.canvas.fit()

    def dialogs(self, w) -> None:
        with self.dialogs_drawn("export-question"):  # a line changed since its render
            w.exporting.export_dialog()
        with self.dialogs_drawn("project-settings"):
            w.generation.edit_project_settings()
        with self.dialogs_drawn("voices-trim"):
            w.speakers_ctl.trim_dialog_for(w.library.clips()[0].id)
        dialog = w.drafting.open_dialog()
        dialog.prompt.setPlainText("Three neighbours argue about a parrot that wakes the street.")
        dialog.show_draft(DRAFT, 4, ["Alice", "Bob", "Carol"], ["Left out a stage direction: (laughs)"])
        self.save(dialog, "draft")
        dialog.close()
        w.editor.appendPlainText("Bbo: Sure thing.")  # a typo of a speaker who has a voice
        self.pump(0.8)
        self.save(w, "voices-typo-1280x720-light")

    def settings(self, w) -> None:
        """Settings, on its Generation tab."""
        from PySide6.QtWidgets import QTabWidget

        from csm_desktop.ui.settings_dialog import SettingsDialog

        dialog = SettingsDialog(w, w.settings)
        dialog.findChild(QTabWidget).setCurrentIndex(1)  # Generation: the defaults for new projects
        dialog.show()
        self.save(dialog, f"settings-{self.theme}")
        dialog.reject()

    def rendering(self) -> None:
        """Lines rendering one after another: states in the gutter, progress and time left."""
        w = self.window("1280x720", slow=True)
        self.voiced(w, "Rendering")
        w.rendering.start_render(None)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and w.editor.states.count("done") < 3:
            self.pump(0.05)
        self.save(w, "rendering-1280x720-light")
        w.rendering.stop()
        while w.rendering.job is not None:
            self.pump(0.05)
        w.session.dirty = False
        w.close()


if __name__ == "__main__":
    if "--theme" in sys.argv:
        draw(sys.argv[sys.argv.index("--theme") + 1])
    else:
        main()
