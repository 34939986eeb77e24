"""The selected line's own settings: the gap after it, and a seed and temperature of its own
instead of the project's. Each change is emitted as a whole :class:`LineOptions`."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QRegularExpression, Signal
from PySide6.QtGui import QRegularExpressionValidator
from PySide6.QtWidgets import (
    QCheckBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSizePolicy,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from csm_desktop.dialogue.project import MAX_LINE_SEED
from csm_desktop.dialogue.script import MAX_PAUSE_MS
from csm_desktop.settings import TEMPERATURE


@dataclass(frozen=True)
class LineOptions:
    gap_after_ms: int | None  # None: the [pause] after the line, else the project's gap
    seed: int | None  # None: drawn from the project's seed
    temperature: float | None  # None: the project's


class LineInspector(QGroupBox):
    options_changed = Signal(object)  # LineOptions

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Line", parent)
        self.setObjectName("lineInspector")
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Maximum)
        outer = QVBoxLayout(self)
        self.hint = QLabel("Click a line of the script to set its gap, seed and temperature.")
        self.hint.setWordWrap(True)
        outer.addWidget(self.hint)
        self.fields = QWidget()
        form = QFormLayout(self.fields)
        form.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self.fields)

        self.gap = QSpinBox()
        self.gap.setRange(-1, MAX_PAUSE_MS)
        self.gap.setSingleStep(50)
        self.gap.setSuffix(" ms")
        self.gap.setKeyboardTracking(False)
        self.gap.setToolTip("Silence after this line in playback and exports. At the lowest value: the [pause] "
                            "written after the line, else the project's gap.")
        self.gap.valueChanged.connect(self._emit)
        form.addRow("Gap after", self.gap)

        self.own_temperature = QCheckBox()
        self.temperature = QDoubleSpinBox()
        self.temperature.setRange(*TEMPERATURE)
        self.temperature.setSingleStep(0.05)
        self.temperature.setKeyboardTracking(False)
        self.temperature.setToolTip("Lower: steadier delivery; higher: more varied. Unticked: the project's.")
        form.addRow("Temperature", _pair(self.own_temperature, self.temperature))

        self.own_seed = QCheckBox()
        self.seed = QLineEdit()
        self.seed.setValidator(QRegularExpressionValidator(QRegularExpression(r"\d{1,10}"), self.seed))
        self.seed.setToolTip(f"A seed of the line's own (0 to {MAX_LINE_SEED}): the same seed, words and context "
                             "give the same take. Regenerate tries the next seed. Unticked: drawn from the "
                             "project's seed.")
        form.addRow("Seed", _pair(self.own_seed, self.seed))
        self.own_temperature.toggled.connect(self._toggled)
        self.own_seed.toggled.connect(self._toggled)
        self.temperature.valueChanged.connect(self._emit)
        self.seed.editingFinished.connect(self._emit)
        self._filling = False
        self._project_temperature = 0.9
        self.show_line(None, None, 0.9, 300)

    def show_line(self, label: str | None, options: LineOptions | None, temperature: float, gap_ms: int,
                  seed: int | None = None) -> None:
        """``label`` (None: no line selected), its options, and the project's values it falls
        back to; ``seed``: the seed its next take would use (shown when it has none of its own)."""
        self._filling = True
        try:
            self._project_temperature = temperature
            self.setTitle(label or "Line")
            self.hint.setVisible(options is None)
            self.fields.setVisible(options is not None)
            options = options or LineOptions(None, None, None)
            self.gap.setSpecialValueText(f"Default ({gap_ms} ms)")
            self.gap.setValue(-1 if options.gap_after_ms is None else options.gap_after_ms)
            self.own_temperature.setChecked(options.temperature is not None)
            self.temperature.setValue(temperature if options.temperature is None else options.temperature)
            self.own_seed.setChecked(options.seed is not None)
            self.seed.setText("" if options.seed is None else str(options.seed))
            self.seed.setPlaceholderText(f"project's ({seed})" if seed is not None else "from the project's seed")
            self._enable()
        finally:
            self._filling = False

    def options(self) -> LineOptions:
        seed_text = self.seed.text().strip()
        seed = int(seed_text) if self.own_seed.isChecked() and seed_text else None
        return LineOptions(None if self.gap.value() < 0 else self.gap.value(),
                           None if seed is None else min(seed, MAX_LINE_SEED),
                           self.temperature.value() if self.own_temperature.isChecked() else None)

    def _enable(self) -> None:
        self.temperature.setEnabled(self.own_temperature.isChecked())
        self.seed.setEnabled(self.own_seed.isChecked())

    def _toggled(self) -> None:
        self._enable()
        if not self._filling and self.own_seed.isChecked() and not self.seed.text().strip():
            self.seed.setFocus()  # a seed is typed (or pasted) before it counts
            return
        if not self.own_temperature.isChecked():
            self._filling, was = True, self._filling
            self.temperature.setValue(self._project_temperature)
            self._filling = was
        self._emit()

    def _emit(self) -> None:
        if not self._filling:
            self.options_changed.emit(self.options())


def _pair(check: QCheckBox, field: QWidget) -> QWidget:
    box = QWidget()
    row = QHBoxLayout(box)
    row.setContentsMargins(0, 0, 0, 0)
    check.setToolTip("Tick to give this line its own value")
    row.addWidget(check)
    row.addWidget(field, 1)
    return box
