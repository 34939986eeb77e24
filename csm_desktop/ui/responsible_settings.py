"""Settings > Responsible voice: the watermark's one exception (the user's own voice) with its
reason, and the certificate that signs content credentials (this installation's, or the user's
own, checked before it is saved)."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from csm_desktop.services import credentials
from csm_desktop.services.signing_keys import OWN_SECRET, SigningError, own_credentials
from csm_desktop.settings import Settings

WATERMARK_TEXT = (
    "Every take is marked with an inaudible AI watermark (Resemble's PerTh) before it is stored, so that "
    "anyone can tell it is generated speech (Tools > Check a file for the AI watermark, or csm-desktop "
    "check-watermark).")
OWN_VOICE_REASON = (
    "Why there is one exception: when every voice clip of a speaker is your own voice (you said so when you "
    "assigned it), nobody is impersonated, so you may leave those takes unmarked, for example to publish "
    "your own narration. Every other take is always watermarked. A take left unmarked says why, and "
    "exported files list it in their content credentials.")
CREDENTIALS_TEXT = (
    "Exported WAV, FLAC and MP3 files carry C2PA content credentials saying the audio was generated with "
    "CSM-1B, and whether consent was confirmed for the voices used. They are signed with this "
    "installation's self-signed certificate unless you choose your own below. A self-signed credential "
    "shows the file is unchanged since it was signed, not who you are.")


def _wrapped(text: str) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    return label


class ResponsibleVoiceTab(QWidget):
    """Edits ``settings`` when :meth:`apply` is called; :meth:`problem` checks the certificate."""

    def __init__(self, settings: Settings) -> None:
        super().__init__()
        self.setObjectName("responsibleVoiceTab")
        layout = QVBoxLayout(self)

        mark = QGroupBox("Watermark")
        m = QVBoxLayout(mark)
        m.addWidget(_wrapped(WATERMARK_TEXT))
        self.watermark_own_voice = QCheckBox("Watermark takes in my own voice too (recommended)")
        self.watermark_own_voice.setChecked(settings.watermark_own_voice)
        m.addWidget(self.watermark_own_voice)
        reason = _wrapped(OWN_VOICE_REASON)
        reason.setObjectName("ownVoiceReason")
        m.addWidget(reason)
        layout.addWidget(mark)

        creds = QGroupBox("Content credentials")
        form = QFormLayout(creds)
        form.addRow(_wrapped(CREDENTIALS_TEXT))
        self.cert = self._path_row(form, "Certificate chain (PEM)", settings.credentials_cert,
                                   "Certificates (*.pem *.crt *.cer);;All files (*)")
        self.key = self._path_row(form, "Private key (PEM)", settings.credentials_key,
                                  "Keys (*.pem *.key);;All files (*)")
        self.passphrase = QLineEdit()
        self.passphrase.setEchoMode(QLineEdit.EchoMode.Password)
        self.passphrase.setPlaceholderText("stored" if credentials.get_secret(OWN_SECRET) else
                                           "only if the key is encrypted")
        form.addRow("Key passphrase", self.passphrase)
        self.problem_label = QLabel("")
        self.problem_label.setObjectName("credentialsProblem")
        self.problem_label.setWordWrap(True)
        self.problem_label.setStyleSheet("color: #d9534f")
        form.addRow("", self.problem_label)
        layout.addWidget(creds)
        layout.addStretch(1)

    def _path_row(self, form: QFormLayout, label: str, value: str, filter_: str) -> QLineEdit:
        edit = QLineEdit(value)
        edit.setPlaceholderText("this installation's certificate")
        browse = QPushButton("Browse…")
        browse.clicked.connect(lambda: self._browse(edit, label, filter_))
        row = QHBoxLayout()
        row.addWidget(edit)
        row.addWidget(browse)
        form.addRow(label, row)
        return edit

    def _browse(self, edit: QLineEdit, title: str, filter_: str) -> None:
        path, _ = QFileDialog.getOpenFileName(self, title, edit.text(), filter_)
        if path:
            edit.setText(path)

    def _passphrase(self) -> str | None:
        return self.passphrase.text() or credentials.get_secret(OWN_SECRET)

    def problem(self) -> str | None:
        """Why the chosen certificate cannot sign (shown in the tab), or None."""
        cert, key = self.cert.text().strip(), self.key.text().strip()
        problem = None
        if bool(cert) != bool(key):
            problem = "Choose both the certificate chain and its private key, or neither (this installation's)."
        elif cert:
            try:
                own_credentials(cert, key, self._passphrase())
            except SigningError as exc:
                problem = str(exc)
        self.problem_label.setText(problem or "")
        return problem

    def apply(self, settings: Settings) -> list[str]:
        """Store the choices; returns keyring warnings (a passphrase kept for this session only)."""
        settings.watermark_own_voice = self.watermark_own_voice.isChecked()
        settings.credentials_cert = self.cert.text().strip()
        settings.credentials_key = self.key.text().strip()
        if self.passphrase.text():
            try:
                credentials.set_secret(OWN_SECRET, self.passphrase.text())
            except credentials.KeyringUnavailableError as exc:
                return [str(exc)]
        return []
