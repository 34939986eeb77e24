"""Dialogs: export options."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QWidget,
)

from csm_desktop.dialogue.export import ExportOptions


class ExportDialog(QDialog):
    def __init__(self, parent: QWidget | None, name: str, folder: Path | None = None) -> None:
        """``folder``: where the export goes by default (beside the project), else the home folder."""
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
        self.format.addItems(["WAV", "FLAC"])
        self.format.currentTextChanged.connect(self._format_changed)
        form.addRow("Format", self.format)
        self.depth = QComboBox()
        self.depth.addItems(["16-bit", "24-bit", "32-bit float"])
        form.addRow("Sample format", self.depth)
        self.normalize = QCheckBox("Normalise loudness to")
        self.lufs = QDoubleSpinBox()
        self.lufs.setRange(-36, -6)
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
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def _browse(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export to", self.path.text(), "Audio (*.wav *.flac)")
        if path:
            self.path.setText(path)

    def _format_changed(self, fmt: str) -> None:
        p = Path(self.path.text())
        self.path.setText(str(p.with_suffix(f".{fmt.lower()}")))
        float_item = self.depth.model().item(2)
        float_item.setEnabled(fmt == "WAV")
        if fmt == "FLAC" and self.depth.currentIndex() == 2:
            self.depth.setCurrentIndex(1)

    def output(self) -> Path:
        return Path(self.path.text()).expanduser()

    def options(self) -> ExportOptions:
        out = self.output()
        stem_root = out.with_name(f"{out.stem}_stems")
        subs = [out.with_suffix(".srt")] if self.srt.isChecked() else []
        subs += [out.with_suffix(".vtt")] if self.vtt.isChecked() else []
        return ExportOptions(
            format=self.format.currentText().lower(),
            bit_depth=["16", "24", "float"][self.depth.currentIndex()],
            normalize_lufs=self.lufs.value() if self.normalize.isChecked() else None,
            line_stems_dir=stem_root / "lines" if self.line_stems.isChecked() else None,
            speaker_stems_dir=stem_root / "speakers" if self.speaker_stems.isChecked() else None,
            subtitles=subs,
        )
