"""The open project's generation settings (saved with the project): temperature, top-k, longest
line, the gap between lines, and the seed its takes are drawn from."""

from __future__ import annotations

import random

from PySide6.QtCore import QRegularExpression
from PySide6.QtGui import QRegularExpressionValidator
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QWidget,
)

from csm_desktop.dialogue.project import MAX_SEED, GenerationSettings
from csm_desktop.settings import BEST_OF, GAP_MS, LINE_MS, TEMPERATURE, TOPK


class ProjectSettingsDialog(QDialog):
    def __init__(self, parent: QWidget | None, name: str, settings: GenerationSettings) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Project settings · {name}")
        self._base = settings
        self.setMinimumWidth(440)
        form = QFormLayout(self)
        note = QLabel("These settings belong to this project and are saved with it. Changing them makes the "
                      "rendered lines out of date (the gap only moves them). Defaults for new projects are in "
                      "Edit > Settings > Generation.")
        note.setWordWrap(True)
        form.addRow(note)
        self.temperature = QDoubleSpinBox()
        self.temperature.setRange(*TEMPERATURE)
        self.temperature.setSingleStep(0.05)
        self.temperature.setValue(settings.temperature)
        form.addRow("Temperature", self.temperature)
        self.topk = _spin(TOPK, 1, settings.topk)
        form.addRow("Top-k", self.topk)
        self.max_line = _spin(LINE_MS, 1000, settings.max_line_ms, " ms")
        self.max_line.setToolTip("Lines that could run longer are split at sentence ends.")
        form.addRow("Longest line", self.max_line)
        self.gap = _spin(GAP_MS, 50, settings.default_gap_ms, " ms")
        self.gap.setToolTip("Silence between lines, unless a [pause] or the line's own gap says otherwise.")
        form.addRow("Gap between lines", self.gap)
        self.best_of = _spin(BEST_OF, 1, settings.best_of)
        self.best_of.setToolTip("Candidate takes rendered per line (different seeds); every take is checked and the "
                                "best-scoring one is used. All are kept: choose another in the takes panel.")
        form.addRow("Takes per line (best of)", self.best_of)
        self.seed = QLineEdit(str(settings.seed))
        self.seed.setValidator(QRegularExpressionValidator(QRegularExpression(r"\d{1,19}"), self.seed))
        self.seed.setToolTip("Every line's seed is drawn from this one (unless the line has its own).")
        new_seed = QPushButton("New seed")
        new_seed.setToolTip("Another seed: every line that has no seed of its own gets a new take when rendered.")
        new_seed.clicked.connect(lambda: self.seed.setText(str(random.randrange(2**31))))
        row = QHBoxLayout()
        row.addWidget(self.seed, 1)
        row.addWidget(new_seed)
        form.addRow("Seed", row)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def values(self) -> GenerationSettings:
        """The edited settings (what this dialog does not show is kept as it was)."""
        text = self.seed.text().strip()
        seed = min(int(text), MAX_SEED) if text else self._base.seed
        base = {k: v for k, v in vars(self._base).items()
                if k not in ("temperature", "topk", "max_line_ms", "default_gap_ms", "seed", "best_of")}
        return GenerationSettings(temperature=self.temperature.value(), topk=self.topk.value(),
                                  max_line_ms=self.max_line.value(), default_gap_ms=self.gap.value(), seed=seed,
                                  best_of=self.best_of.value(), **base)


def _spin(bounds: tuple[int, int], step: int, value: int, suffix: str = "") -> QSpinBox:
    spin = QSpinBox()
    spin.setRange(*bounds)
    spin.setSingleStep(step)
    spin.setValue(value)
    spin.setSuffix(suffix)
    return spin
