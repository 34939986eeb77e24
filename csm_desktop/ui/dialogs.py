"""Dialogs: export options (remembered between exports)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QWidget,
)

from csm_desktop.audio import SAMPLE_RATE
from csm_desktop.dialogue.export import FORMATS, ExportOptions, format_problem, rates_for

FORMAT_NAMES = {"wav": "WAV", "flac": "FLAC", "mp3": "MP3", "opus": "Opus"}
DEPTHS = ["16", "24", "float"]
LUFS = (-36.0, -6.0)


class ExportDialog(QDialog):
    def __init__(self, parent: QWidget | None, name: str, folder: Path | None = None,
                 remembered: dict[str, Any] | None = None) -> None:
        """``folder``: where the export goes by default (beside the project), else the home folder;
        ``remembered``: :meth:`choices` of the last export (checked here: anything odd is ignored)."""
        super().__init__(parent)
        self.setWindowTitle("Export dialogue")
        form = QFormLayout(self)
        self.path = QLineEdit(str((folder or Path.home()) / f"{name}.wav"))
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.path)
        row.addWidget(browse)
        form.addRow("File", row)
        self.format = QComboBox()
        problems = []
        for fmt, label in FORMAT_NAMES.items():
            self.format.addItem(label, fmt)
            problem = format_problem(fmt)
            if problem:
                item = self.format.model().item(self.format.count() - 1)
                item.setEnabled(False)
                item.setToolTip(problem)
                problems.append(problem)
        self.format.currentIndexChanged.connect(self._format_changed)
        form.addRow("Format", self.format)
        self.format_note = QLabel(problems[0] if problems else "")
        self.format_note.setWordWrap(True)
        self.format_note.setVisible(bool(problems))
        form.addRow("", self.format_note)
        self.depth = QComboBox()
        self.depth.addItems(["16-bit", "24-bit", "32-bit float"])
        form.addRow("Sample format", self.depth)
        self.rate = QComboBox()
        form.addRow("Sample rate", self.rate)
        self.normalize = QCheckBox("Normalise loudness to")
        self.lufs = QDoubleSpinBox()
        self.lufs.setRange(*LUFS)
        self.lufs.setValue(-16)
        self.lufs.setSuffix(" LUFS")
        row2 = QHBoxLayout()
        row2.addWidget(self.normalize)
        row2.addWidget(self.lufs)
        form.addRow("Loudness", row2)
        self.line_stems = QCheckBox("One file per line")
        self.speaker_stems = QCheckBox("One file per speaker")
        form.addRow("Stems", self.line_stems)
        form.addRow("", self.speaker_stems)
        self.srt = QCheckBox("SRT")
        self.vtt = QCheckBox("WebVTT")
        row3 = QHBoxLayout()
        row3.addWidget(self.srt)
        row3.addWidget(self.vtt)
        form.addRow("Subtitles", row3)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Export")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)
        self._format_changed()
        self._restore(remembered or {}, name)

    def _browse(self) -> None:
        patterns = " ".join(f"*.{suffix}" for _c, _s, suffix in FORMATS.values())
        path, _ = QFileDialog.getSaveFileName(self, "Export to", self.path.text(), f"Audio ({patterns})")
        if path:
            self.path.setText(path)

    def fmt(self) -> str:
        return self.format.currentData()

    def _format_changed(self, *_args) -> None:
        fmt = self.fmt()
        p = Path(self.path.text())
        self.path.setText(str(p.with_suffix(f".{FORMATS[fmt][2]}")))
        compressed = FORMATS[fmt][1] is not None
        self.depth.setEnabled(not compressed)
        self.depth.setToolTip("MP3 and Opus choose their own sample format." if compressed else "")
        self.depth.model().item(2).setEnabled(fmt == "wav")
        if fmt == "flac" and self.depth.currentIndex() == 2:
            self.depth.setCurrentIndex(1)
        wanted = self.rate.currentData() or SAMPLE_RATE
        self.rate.clear()
        for rate in rates_for(fmt):
            self.rate.addItem(f"{rate:,} Hz" + (" (as rendered)" if rate == SAMPLE_RATE else ""), rate)
        index = self.rate.findData(wanted)
        self.rate.setCurrentIndex(index if index >= 0 else self.rate.findData(SAMPLE_RATE))

    def output(self) -> Path:
        return Path(self.path.text()).expanduser()

    def options(self) -> ExportOptions:
        out = self.output()
        stem_root = out.with_name(f"{out.stem}_stems")
        subs = [out.with_suffix(".srt")] if self.srt.isChecked() else []
        subs += [out.with_suffix(".vtt")] if self.vtt.isChecked() else []
        rate = self.rate.currentData()
        return ExportOptions(
            format=self.fmt(),
            bit_depth=DEPTHS[self.depth.currentIndex()],
            sample_rate=None if rate == SAMPLE_RATE else rate,
            normalize_lufs=self.lufs.value() if self.normalize.isChecked() else None,
            line_stems_dir=stem_root / "lines" if self.line_stems.isChecked() else None,
            speaker_stems_dir=stem_root / "speakers" if self.speaker_stems.isChecked() else None,
            subtitles=subs,
        )

    # ----- remembered between exports --------------------------------------------------------------
    def choices(self) -> dict[str, Any]:
        """What the next export dialog starts from."""
        return {"format": self.fmt(), "bit_depth": DEPTHS[self.depth.currentIndex()], "sample_rate": self.rate.currentData(),
                "normalize": self.normalize.isChecked(), "lufs": self.lufs.value(),
                "line_stems": self.line_stems.isChecked(), "speaker_stems": self.speaker_stems.isChecked(),
                "srt": self.srt.isChecked(), "vtt": self.vtt.isChecked(), "folder": str(self.output().parent)}

    def _restore(self, saved: dict[str, Any], name: str) -> None:
        """Each remembered choice that is still valid (the settings file may be hand-edited)."""
        folder = saved.get("folder")
        if isinstance(folder, str) and folder and Path(folder).is_dir():
            self.path.setText(str(Path(folder) / Path(self.path.text()).name))
        index = self.format.findData(saved.get("format"))
        if index >= 0 and self.format.model().item(index).isEnabled():
            self.format.setCurrentIndex(index)
        if saved.get("bit_depth") in DEPTHS and self.depth.model().item(DEPTHS.index(saved["bit_depth"])).isEnabled():
            self.depth.setCurrentIndex(DEPTHS.index(saved["bit_depth"]))
        rate = saved.get("sample_rate")
        if isinstance(rate, int) and not isinstance(rate, bool) and self.rate.findData(rate) >= 0:
            self.rate.setCurrentIndex(self.rate.findData(rate))
        lufs = saved.get("lufs")
        if isinstance(lufs, (int, float)) and not isinstance(lufs, bool) and LUFS[0] <= lufs <= LUFS[1]:
            self.lufs.setValue(lufs)
        for key, box in (("normalize", self.normalize), ("line_stems", self.line_stems),
                         ("speaker_stems", self.speaker_stems), ("srt", self.srt), ("vtt", self.vtt)):
            if isinstance(saved.get(key), bool):
                box.setChecked(saved[key])
