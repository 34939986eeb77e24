"""First run, or no model: explain the gated model, take a token, download with byte progress
(cancel, resume), or use a local folder, or a tiny test model that makes noise."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from csm_desktop.paths import data_dir
from csm_desktop.services import credentials
from csm_desktop.services.hub import is_repo_id
from csm_desktop.services.model_source import local_model_folder, needs_mimi_release
from csm_desktop.settings import DEFAULT_MODEL, Settings
from csm_desktop.ui.errors import show_error, show_exception
from csm_desktop.ui.tasks import Job


def model_is_available(settings: Settings) -> bool:
    """True when the configured model can load without a download (or generation is remote):
    its folder (or cached snapshot) holds a complete set of weights and the tokenizer, and moshi's
    Mimi release file is in the cache when the weights carry no codec. Never touches the network."""
    return settings.engine == "remote" or local_model_folder(settings.model) is not None


def _gb(n: int) -> str:
    return f"{n / 1e9:.2f} GB"


def _size(n: int) -> str:
    """Bytes as a person reads them: MB below a gigabyte."""
    return _gb(n) if n >= 1e9 else f"{n / 1e6:.0f} MB" if n >= 1e6 else f"{max(n, 0) / 1e3:.0f} kB"


class ModelSetupDialog(QDialog):
    def __init__(self, parent: QWidget | None, settings: Settings, tasks) -> None:
        super().__init__(parent)
        self.setObjectName("modelSetup")
        self.setWindowTitle("Set up the speech model")
        self.settings = settings
        self.tasks = tasks  # the network lane (ui.tasks.NetworkTasks)
        self.job = None  # the running ui.tasks.Job
        self.wants_remote = False  # closed to set up a remote engine instead
        self.planned: list | None = None  # the files to download, once their sizes are known
        self._repo: str | None = None
        self._notes: list[str] = []  # said once, kept above later status lines (a missing keyring)
        self.setMinimumWidth(720)
        layout = QVBoxLayout(self)
        self._available = model_is_available(settings)
        if self._available:
            text = (f"<h3>The CSM-1B speech model is set up</h3><p><b>{settings.model}</b> is ready to use. "
                    "Download checks it and fetches anything missing; you can also choose another folder.</p>")
        else:
            text = (
                "<h3>CSM Desktop needs the CSM-1B speech model</h3>"
                f"<p><b>{DEFAULT_MODEL}</b> is a gated model on Hugging Face. Open "
                f"<a href='https://huggingface.co/{DEFAULT_MODEL}'>its page</a>, sign in and accept the licence, "
                "then create an access token at <a href='https://huggingface.co/settings/tokens'>"
                "huggingface.co/settings/tokens</a> and paste it below. The download is about 7 GB (you see the "
                "exact size before it starts) and resumes if interrupted.</p>"
                "<p>No GPU here? <b>Generate remotely</b> on your own Cerebrium deployment or on a computer "
                "running <tt>csm-desktop serve</tt>.</p>")
        intro = QLabel(text)
        intro.setWordWrap(True)
        intro.setOpenExternalLinks(True)
        intro.setTextFormat(Qt.TextFormat.RichText)
        layout.addWidget(intro)
        row = QHBoxLayout()
        self.token = QLineEdit()
        self.token.setEchoMode(QLineEdit.EchoMode.Password)
        self.token.setPlaceholderText(self._token_placeholder())
        row.addWidget(QLabel("Access token"))
        row.addWidget(self.token)
        layout.addLayout(row)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        policy = self.progress.sizePolicy()
        policy.setRetainSizeWhenHidden(True)  # the buttons stay where they are when it appears
        self.progress.setSizePolicy(policy)
        self.progress.setVisible(False)
        layout.addWidget(self.progress)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.status.setOpenExternalLinks(True)
        layout.addWidget(self.status)
        buttons = QHBoxLayout()
        self.download_button = QPushButton("Download")
        self.download_button.setDefault(True)
        self.download_button.clicked.connect(self.start_download)
        self.cancel_button = QPushButton("Cancel download")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self._cancel)
        local = QPushButton("Use a local folder…")
        local.clicked.connect(self._choose_folder)
        tiny = QPushButton("Tiny test model (noise only)")
        tiny.clicked.connect(self.use_test_model)
        remote = QPushButton("Generate remotely…")
        remote.setToolTip("No GPU here? Generate on your own Cerebrium deployment of packaging/cerebrium, or on a\n"
                          "computer running csm-desktop serve (see the README: Remote generation).")
        remote.clicked.connect(self._choose_remote)
        close = QPushButton("Close")
        close.clicked.connect(self.reject)
        for b in (self.download_button, self.cancel_button, local):
            buttons.addWidget(b)
        others = QHBoxLayout()  # the ways around a download, on a row of their own
        for b in (remote, tiny):
            others.addWidget(b)
        others.addStretch(1)
        others.addWidget(close)
        layout.addLayout(buttons)
        layout.addLayout(others)

    def _cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()  # this download only; a render on the model's lane goes on

    def done(self, result: int) -> None:
        """Closed (in any way): its download is cancelled (what arrived is kept) and forgotten."""
        self._cancel()
        self.job = None
        super().done(result)

    def _choose_remote(self) -> None:
        self.wants_remote = True
        self.reject()

    @staticmethod
    def _token_placeholder() -> str:
        return {"environment": "token from the HF_TOKEN environment variable",
                "session": "token kept until CSM Desktop closes (no keyring)",
                "keyring": "token stored in the keyring"}.get(credentials.secret_source("huggingface") or "", "hf_…")

    def _say(self, text: str) -> None:
        """Show a status line (under any lasting note) and let the dialog grow to fit it. It never
        shrinks: adjustSize() could squeeze the explanation and its links out of sight."""
        self.status.setText("<br><br>".join([*self._notes, text]))
        layout = self.layout()
        wanted = max(self.sizeHint().height(),
                     layout.totalHeightForWidth(self.width()) if layout.hasHeightForWidth() else 0)
        if wanted > self.height():
            self.resize(self.width(), wanted)

    def start_download(self) -> Job | None:
        """First press: find the files and their sizes, and say how much will be downloaded.
        Second press: download them. Returns the job (None: a token is needed first)."""
        from csm_desktop.services import download, model_source

        token = self.token.text().strip()
        if token:
            try:
                credentials.set_secret("huggingface", token)
            except credentials.KeyringUnavailableError as exc:
                self._notes = [str(exc)]
            self.token.clear()
            self.token.setPlaceholderText(self._token_placeholder())
        token = credentials.get_secret("huggingface")
        repo = self._download_target()
        if token is None and repo == DEFAULT_MODEL:
            # The gated model refuses every request without a token: ask for it before trying.
            self._say(f"<b>Paste your Hugging Face access token above first.</b> {DEFAULT_MODEL} is gated: accept "
                      f"its licence on <a href='https://huggingface.co/{DEFAULT_MODEL}'>its page</a>, then create a "
                      "token at <a href='https://huggingface.co/settings/tokens'>huggingface.co/settings/tokens</a>.")
            self.token.setFocus()
            return None
        files = self.planned if self._repo == repo else None
        self._repo = repo
        if files is None:
            def job_fn(job):
                return model_source.plan_model(repo, token)

            self._say("Checking the files…")
        else:
            def job_fn(job):
                return download.download(files, token, on_progress=job.report, should_stop=job.should_stop)

            self.progress.setVisible(True)
            self.cancel_button.setEnabled(True)
        self.download_button.setEnabled(False)
        job = self.tasks.job("download")
        job.progressed.connect(lambda p: self._on_progress(job, p))
        job.succeeded.connect(lambda result: self._on_finished(job, result))
        job.failed.connect(lambda message, details: self._on_failed(job, message, details))
        job.cancelled.connect(lambda: self._on_cancelled(job))
        self.job = self.tasks.start(job, job_fn)
        return self.job

    def _download_target(self) -> str:
        """What Download fetches: the configured repository; for a local model folder without a
        codec, moshi's Mimi release file it needs (the folder stays the model); else the default."""
        model = self.settings.model
        if Path(model).expanduser().is_dir():
            return model if needs_mimi_release(Path(model).expanduser()) else DEFAULT_MODEL
        return model if is_repo_id(model) else DEFAULT_MODEL

    def _show_plan(self, files: list) -> None:
        from csm_desktop.services import download

        self.planned = files
        total, here = download.total_bytes(files), download.bytes_already_here(files)
        weights = sum(1 for f in files if f.name.endswith(".safetensors"))
        if here >= total:
            self._say(f"All {len(files)} files of {self._repo} ({_size(total)}) are already downloaded.")
            self.download_button.setText("Use this model")
        else:
            self._say(f"{self._repo}: <b>{_size(total - here)}</b> to download ({len(files)} files, {weights} of "
                      f"them weights" + (f"; {_size(here)} already here" if here >= 1e6 else "")
                      + "). Press Download to start.")
            self.download_button.setText(f"Download {_size(total - here)}")
        self.download_button.setFocus()

    def _on_progress(self, job, p) -> None:
        if job != self.job or isinstance(p, str):
            return
        self.progress.setValue(int(1000 * p.done / max(1, p.total)))
        self._say(f"{p.file}: {_size(p.file_done)} of {_size(p.file_size)} · total {_size(p.done)} of "
                  f"{_size(p.total)}")

    def _reset(self) -> None:
        self.job = None
        self.download_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self.download_button.setFocus()

    def _on_finished(self, job, result) -> None:
        if job != self.job:
            return
        self._reset()
        if isinstance(result, list):  # the plan: wait for the second press
            self._show_plan(result)
            return
        self.settings.model = self._repo
        self.settings.save()
        self._say("The model is ready.")
        self.accept()

    def _on_failed(self, job, message: str, details: str) -> None:
        if job != self.job:
            return
        self._reset()
        self.planned = None  # a new token or connection: plan again
        self.download_button.setText("Download")
        if self._available and "could not be reached" in message:
            # Offline with a complete copy: nothing to fix, the copy is usable.
            self._say("The hub cannot be reached, but the downloaded copy is complete: Close, and render.")
            return
        self._say("The download could not start or finish: see the message.")
        show_error(self, message, details)  # details: a traceback for an unexpected error only

    def _on_cancelled(self, job) -> None:
        if job != self.job:
            return
        self._reset()
        if self.planned:
            self._show_plan(self.planned)  # what is left to fetch
        self._say("Download stopped. What arrived is kept: Download resumes it.")

    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder with the CSM model files")
        if folder:
            self.use_folder(folder)

    def use_folder(self, folder: str | Path) -> bool:
        from csm_desktop.engine.checkpoint import folder_weights
        from csm_desktop.errors import CheckpointError

        folder = Path(folder)
        if not (folder / "config.json").is_file():
            show_error(self, f"{folder} has no config.json. Choose the folder that holds config.json, "
                             "the weights (model.safetensors, or transformers shards) and tokenizer.json.")
            return False
        try:
            folder_weights(folder)
        except CheckpointError as exc:
            show_exception(self, exc)
            return False
        self.settings.model = str(folder)
        self.settings.engine = "local"
        self.settings.save()
        self.accept()
        return True

    def use_test_model(self) -> Path:
        from csm_desktop.engine.testing import make_tiny_checkpoint

        folder = data_dir() / "tiny-test-model"
        if not (folder / "config.json").is_file():
            make_tiny_checkpoint(folder, seed=0)
        self.use_folder(folder)
        return folder
