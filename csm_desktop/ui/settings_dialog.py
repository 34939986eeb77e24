"""Settings: engine (local device and model, or remote), generation defaults, credentials, responsible
voice (ui/responsible_settings.py)."""

from __future__ import annotations

from PySide6.QtCore import Qt
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
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from csm_desktop.engine import backends
from csm_desktop.errors import CsmError
from csm_desktop.services import credentials
from csm_desktop.services.remote import base_url
from csm_desktop.settings import DEFAULT_MODEL, DEVICES, PARALLEL, Settings
from csm_desktop.ui.responsible_settings import ResponsibleVoiceTab

ACCEL_LABELS = (
    ("Automatic (CUDA graphs on NVIDIA GPUs)", "auto"),
    ("Off (plain PyTorch)", "off"),
    ("CUDA graphs", "graph"),
    ("Compile (slow first start)", "compile"),
)


def detected_devices() -> str:
    import torch

    found = []
    if torch.cuda.is_available():
        found.append(f"CUDA: {torch.cuda.get_device_name()}")
    if torch.backends.mps.is_available():
        found.append("Apple GPU (MPS)")
    if backends.mlx_installed():
        found.append("MLX")
    found.append("CPU")
    return "Detected: " + ", ".join(found)


def compile_refusal(device: str) -> str:
    """Why the 'compile' speed-up cannot be used with ``device`` ("": it can). "auto" on Apple
    Silicon means MLX where it is installed, else the Mac's GPU."""
    if device == backends.MLX or (device == "auto" and backends.wants_mlx(device)):
        return "The MLX engine runs without PyTorch's speed-ups: there is nothing to compile."
    if device == "mps" or (device == "auto" and backends.is_apple_silicon()):
        return ("torch.compile is not offered on a Mac's GPU (MPS): its Metal backend is an early prototype "
                "that can give wrong audio.")
    return ""


def _spin(box, low, high, step, value, suffix: str = ""):
    box.setRange(low, high)
    box.setSingleStep(step)
    box.setValue(value)
    box.setSuffix(suffix)
    return box


class SettingsDialog(QDialog):
    """Edits a copy of the settings; :meth:`apply` saves them and the secrets."""

    def __init__(self, parent: QWidget | None, settings: Settings) -> None:
        super().__init__(parent)
        self.setObjectName("settingsDialog")
        self.setWindowTitle("Settings")
        self.settings = settings
        self.messages: list[str] = []
        self.keyring_warnings: list[str] = []  # a secret kept for this session only (no keyring)
        tabs = QTabWidget()

        engine = QWidget()
        form = QFormLayout(engine)
        self.engine = QComboBox()
        self.engine.addItem("This computer", "local")
        self.engine.addItem("Remote (Cerebrium or csm-desktop serve)", "remote")
        self.engine.setCurrentIndex(max(0, self.engine.findData(settings.engine)))
        form.addRow("Generate on", self.engine)
        self.device = QComboBox()
        self.device.addItems(DEVICES)
        self.device.setCurrentText(settings.device)
        form.addRow("Device", self.device)
        form.addRow("", QLabel(detected_devices()))
        self.accel = QComboBox()
        for label, value in ACCEL_LABELS:
            self.accel.addItem(label, value)
        self.accel.setCurrentIndex(max(0, self.accel.findData(settings.accel)))
        self.accel.setToolTip("How each audio frame runs. Graphs and compilation make NVIDIA GPUs several times\n"
                              "faster; turn them off if generation fails on your GPU. Compiling takes a few minutes\n"
                              "the first time the model loads.")
        form.addRow("Speed-up", self.accel)
        self.device.currentTextChanged.connect(self._offer_speed_ups)
        self._offer_speed_ups()
        self.model = QLineEdit(settings.model)
        self.model.setPlaceholderText("sesame/csm-1b, or a folder with config.json and model.safetensors")
        browse = self.browse_model = QPushButton("Folder…")
        browse.clicked.connect(self._browse_model)
        row = QHBoxLayout()
        row.addWidget(self.model)
        row.addWidget(browse)
        form.addRow("Model", row)
        self.remote_url = QLineEdit(settings.remote_url)
        self.remote_url.setPlaceholderText("https://api.cerebrium.ai/v4/p-xxxxxxxx/csm-desktop, or http://127.0.0.1:8000")
        self.remote_url.setToolTip("Your Cerebrium deployment of packaging/cerebrium (its API key goes in Credentials),\n"
                                   "or a computer running csm-desktop serve (its CSM_SERVER_TOKEN goes there).")
        form.addRow("Remote URL", self.remote_url)
        self.remote_parallel = _spin(QSpinBox(), *PARALLEL, 1, settings.remote_parallel)
        self.remote_parallel.setToolTip("Scenes ([scene] lines in the script) rendered at once on the remote engine, one\n"
                                        "replica each. Up to the deployment's max_replicas; the audio is the same as\n"
                                        "rendering them one after another.")
        form.addRow("Parallel scenes", self.remote_parallel)
        self.remote_problem = QLabel("")
        self.remote_problem.setObjectName("remoteProblem")
        self.remote_problem.setWordWrap(True)
        self.remote_problem.setStyleSheet("color: #d9534f")
        # Room for the longest message (a wrapped label in a form layout is given one line).
        self.remote_problem.setMinimumHeight(4 * self.remote_problem.fontMetrics().lineSpacing())
        form.addRow("", self.remote_problem)
        self.tabs = tabs
        self.engine.currentIndexChanged.connect(self._engine_changed)
        self._engine_changed()
        tabs.addTab(engine, "Engine")

        gen = QWidget()
        g = QFormLayout(gen)
        defaults_note = QLabel("Defaults for new projects. The open project keeps its own settings: change them in "
                               "File > Project settings…, or tick the box below.")
        defaults_note.setObjectName("generationDefaultsNote")
        defaults_note.setWordWrap(True)
        g.addRow(defaults_note)
        self.temperature = _spin(QDoubleSpinBox(), 0.05, 2.0, 0.05, settings.temperature)
        g.addRow("Temperature", self.temperature)
        self.topk = _spin(QSpinBox(), 1, 2048, 1, settings.topk)
        g.addRow("Top-k", self.topk)
        self.max_line = _spin(QSpinBox(), 1_000, 60_000, 1_000, settings.max_line_ms, " ms")
        g.addRow("Longest line", self.max_line)
        self.gap = _spin(QSpinBox(), 0, 5_000, 50, settings.default_gap_ms, " ms")
        g.addRow("Gap between lines", self.gap)
        self.apply_to_project = QCheckBox("Use these for the open project too")
        self.apply_to_project.setToolTip("Rendered lines go out of date when the temperature, top-k or longest "
                                         "line change.")
        g.addRow("", self.apply_to_project)
        self.gemini_model = QLineEdit(settings.gemini_model)
        g.addRow("Gemini model", self.gemini_model)
        tabs.addTab(gen, "Generation")

        cred = QWidget()
        c = QFormLayout(cred)
        where = ("Kept in your system keyring, never in files." if credentials.keyring_usable() else
                 "No system keyring was found: keys you type are kept until CSM Desktop closes, never in files.")
        c.addRow(QLabel(f"{where} Leave a field empty to keep what is stored."))
        self.secrets: dict[str, QLineEdit] = {}
        for name, label in credentials.LABELS.items():
            edit = QLineEdit()
            edit.setEchoMode(QLineEdit.EchoMode.Password)
            edit.setPlaceholderText({"keyring": "stored", "session": "kept until CSM Desktop closes",
                                     "environment": "set in the environment"}.get(credentials.secret_source(name) or "",
                                                                                   "not set"))
            clear = QPushButton("Remove")
            clear.clicked.connect(lambda _=False, n=name, e=edit: self._remove_secret(n, e))
            row = QHBoxLayout()
            row.addWidget(edit)
            row.addWidget(clear)
            c.addRow(label, row)
            self.secrets[name] = edit
        tabs.addTab(cred, "Credentials")
        self.responsible = ResponsibleVoiceTab(settings)  # watermark exception, signing certificate
        tabs.addTab(self.responsible, "Responsible voice")

        start = QWidget()
        st = QVBoxLayout(start)
        self.open_last = QCheckBox("Open the last project when CSM Desktop starts")
        self.open_last.setChecked(settings.open_last_project)
        st.addWidget(self.open_last)
        hint = QLabel("Unsaved work is kept while you edit: after a crash, the next start offers to restore it. "
                      "<tt>csm-desktop install-desktop</tt> adds CSM Desktop to your applications menu; "
                      "<tt>csm-desktop PROJECT</tt> opens a project from a terminal.")
        hint.setWordWrap(True)
        st.addWidget(hint)
        st.addStretch(1)
        tabs.addTab(start, "Start-up")

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(tabs)
        layout.addWidget(buttons)

    def _offer_speed_ups(self) -> None:
        """'Compile' only where it can run: greyed, saying why, for MPS and MLX (and Automatic when
        that means one of them); a choice of it there goes back to Automatic."""
        why = compile_refusal(self.device.currentText())
        index = self.accel.findData("compile")
        self.accel.model().item(index).setEnabled(not why)
        self.accel.setItemData(index, why or None, Qt.ItemDataRole.ToolTipRole)
        if why and self.accel.currentData() == "compile":
            self.accel.setCurrentIndex(self.accel.findData("auto"))

    def _engine_changed(self) -> None:
        """Only the fields of the chosen engine can be edited."""
        remote = self.engine.currentData() == "remote"
        for field in (self.device, self.accel, self.model, self.browse_model):
            field.setEnabled(not remote)
        for field in (self.remote_url, self.remote_parallel):
            field.setEnabled(remote)

    def choose_remote(self) -> None:
        """Opened to set up a remote engine: Remote chosen, the URL field ready to type in."""
        self.engine.setCurrentIndex(self.engine.findData("remote"))
        self.tabs.setCurrentIndex(0)
        self.remote_url.setFocus()

    def accept(self) -> None:
        """A remote URL that cannot be used keeps the dialog open, saying why (nothing is lost)."""
        url = self.remote_url.text().strip()
        if self.engine.currentData() == "remote":
            problem = "Remote generation needs the engine's URL." if not url else None
            if url:
                try:
                    base_url(url)
                except CsmError as exc:
                    problem = str(exc)
            if problem:
                self.remote_problem.setText(problem)
                self.tabs.setCurrentIndex(0)
                self.remote_url.setFocus()
                return
        if self.responsible.problem():
            self.tabs.setCurrentWidget(self.responsible)
            return
        super().accept()

    def _browse_model(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Model folder")
        if folder:
            self.model.setText(folder)

    def _remove_secret(self, name: str, edit: QLineEdit) -> None:
        credentials.delete_secret(name)
        edit.clear()
        edit.setPlaceholderText("not set")

    def apply(self) -> bool:
        """Store the edited settings and secrets. Returns whether the engine must be reloaded."""
        s = self.settings
        before = (s.engine, s.device, s.accel, s.model, s.remote_url)
        s.engine = self.engine.currentData()
        s.device = self.device.currentText()
        s.accel = self.accel.currentData()
        s.model = self.model.text().strip() or DEFAULT_MODEL
        s.remote_url = self.remote_url.text().strip()
        s.remote_parallel = self.remote_parallel.value()
        s.temperature = self.temperature.value()
        s.topk = self.topk.value()
        s.max_line_ms = self.max_line.value()
        s.default_gap_ms = self.gap.value()
        s.gemini_model = self.gemini_model.text().strip() or s.gemini_model
        self.keyring_warnings += self.responsible.apply(s)
        s.open_last_project = self.open_last.isChecked()
        secrets_changed = False
        for name, edit in self.secrets.items():
            if edit.text().strip():
                secrets_changed |= name != "google"  # a Gemini key is no reason to reload the engine
                try:
                    credentials.set_secret(name, edit.text())
                except credentials.KeyringUnavailableError as exc:
                    self.keyring_warnings.append(str(exc))
        try:
            s.save()
        except OSError as exc:
            self.messages.append(f"The settings could not be saved ({exc}); they apply until you quit.")
        return before != (s.engine, s.device, s.accel, s.model, s.remote_url) or secrets_changed
