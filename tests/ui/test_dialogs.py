"""Settings and model set-up dialogs (driven without opening them modally)."""

from __future__ import annotations

import keyring
from keyring.backends import fail
from PySide6.QtWidgets import QLabel, QMessageBox

from csm_desktop.services import credentials
from csm_desktop.engine.accel import ACCELS
from csm_desktop.settings import Settings
from csm_desktop.ui.model_setup import ModelSetupDialog, model_is_available
from csm_desktop.ui.settings_dialog import SettingsDialog
from fakes.hub import REPO, TOKEN


def test_settings_dialog_saves_settings_and_drops_the_engine(make_window, monkeypatch, qtbot):
    monkeypatch.delenv("CEREBRIUM_API_KEY", raising=False)
    w = make_window()
    released = []
    w.engine_host.released.connect(lambda: released.append(True))
    dialog = SettingsDialog(w, w.settings)
    dialog.engine.setCurrentIndex(dialog.engine.findData("remote"))
    dialog.remote_url.setText("http://127.0.0.1:9/generate_audio")
    dialog.temperature.setValue(0.7)
    assert sorted(dialog.accel.itemData(i) for i in range(dialog.accel.count())) == sorted(ACCELS)
    dialog.accel.setCurrentIndex(dialog.accel.findData("off"))
    dialog.secrets["cerebrium"].setText("cb-token-xyz")
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    try:
        w.apply_settings(dialog)
    finally:
        keyring.set_keyring(previous)
    saved = Settings.load()
    assert saved.engine == "remote" and saved.remote_url.endswith("/generate_audio") and saved.temperature == 0.7
    assert saved.accel == "off"
    assert "cb-token-xyz" not in Settings.path().read_text()
    assert credentials.get_secret("cerebrium") == "cb-token-xyz"  # kept for the session, keyring missing
    assert any("only until CSM Desktop closes" in m for m in dialog.keyring_warnings)
    boxes = [b for b in w.findChildren(QMessageBox, "errorBox") if b.isVisible()]
    assert len(boxes) == 1 and "only until CSM Desktop closes" in boxes[0].text()
    qtbot.waitUntil(lambda: released == [True], timeout=5_000)  # the engine host reloads at the next job
    credentials.delete_secret("cerebrium")


def test_model_setup_downloads_with_progress(make_window, qtbot, fake_hub, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    w = make_window()
    settings = Settings(model=REPO)
    assert not model_is_available(settings)
    dialog = ModelSetupDialog(w, settings, w.tasks)
    dialog.start_download()  # first press: the size, before anything big is fetched
    qtbot.waitUntil(lambda: dialog.job is None, timeout=30_000)
    total = sum(f.size for f in dialog.planned)
    assert f"<b>{total / 1e6:.0f} MB</b> to download" in dialog.status.text()
    assert dialog.download_button.text() == f"Download {total / 1e6:.0f} MB"
    assert not any(k.endswith("00001-of-00002.safetensors") for k in fake_hub.served)
    dialog.start_download()  # second press: the download
    qtbot.waitUntil(lambda: dialog.job is None, timeout=30_000)
    assert dialog.progress.value() == 1000
    assert settings.model == REPO and model_is_available(settings)


def _folder_without_codec(tiny_folder, folder):
    """Sesame's original layout with no codec beside it: loading needs moshi's Mimi release."""
    import shutil

    folder.mkdir()
    for name in ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"):
        shutil.copy(tiny_folder / name, folder / name)
    return folder


def _serve_mimi(fake_hub, tiny_folder):
    from csm_desktop.services.hub import MIMI_RELEASE_FILE, MIMI_REPO
    from fakes.hub import Repo

    fake_hub.repos[MIMI_REPO] = Repo({MIMI_RELEASE_FILE: (tiny_folder / "mimi.safetensors").read_bytes()})


def test_a_folder_without_codec_is_ready_only_with_the_mimi_release_in_the_cache(fake_hub, tiny_folder, tmp_path,
                                                                                monkeypatch):
    import os

    from huggingface_hub import hf_hub_download

    from csm_desktop.services.hub import MIMI_RELEASE_FILE, MIMI_REPO
    from fakes.hub import set_offline

    settings = Settings(model=str(_folder_without_codec(tiny_folder, tmp_path / "orig")))
    _serve_mimi(fake_hub, tiny_folder)
    assert not model_is_available(settings)  # loading would have to download the codec
    # huggingface_hub's own download puts the file in the cache (as a moshi run would have)
    hf_hub_download(MIMI_REPO, MIMI_RELEASE_FILE, endpoint=fake_hub.url, cache_dir=os.environ["HF_HUB_CACHE"])
    asked = len(fake_hub.requests)
    fake_hub.server.stop()
    set_offline(monkeypatch, True)
    assert model_is_available(settings)
    assert len(fake_hub.requests) == asked  # the check asked nothing of the hub


def test_model_setup_fetches_the_mimi_release_for_a_folder_without_codec(make_window, qtbot, fake_hub, tiny_folder,
                                                                          tmp_path):
    from csm_desktop.services.hub import MIMI_RELEASE_FILE, MIMI_REPO

    folder = _folder_without_codec(tiny_folder, tmp_path / "orig")
    _serve_mimi(fake_hub, tiny_folder)
    w = make_window()
    settings = Settings(model=str(folder))
    dialog = ModelSetupDialog(w, settings, w.tasks)
    assert "needs the CSM-1B speech model" in dialog.findChild(QLabel).text()
    dialog.start_download()  # the plan: the codec only, not another model
    qtbot.waitUntil(lambda: dialog.job is None, timeout=30_000)
    assert [(f.repo_id, f.name) for f in dialog.planned] == [(MIMI_REPO, MIMI_RELEASE_FILE)]
    dialog.start_download()
    qtbot.waitUntil(lambda: dialog.job is None, timeout=30_000)
    assert dialog.progress.value() == 1000
    assert settings.model == str(folder) and model_is_available(settings)
    assert not any(REPO in path for _, path, _ in fake_hub.requests)


def test_model_setup_tiny_test_model_and_bad_folder(make_window, tmp_path):
    w = make_window()
    settings = Settings()
    dialog = ModelSetupDialog(w, settings, w.tasks)
    assert not dialog.use_folder(tmp_path)
    folder = dialog.use_test_model()
    assert settings.model == str(folder) and model_is_available(settings)
    assert Settings.load().model == str(folder)


def test_export_dialog_builds_the_options(make_window, tmp_path):
    from csm_desktop.ui.dialogs import ExportDialog

    w = make_window()
    d = ExportDialog(w, "Demo")
    d.path.setText(str(tmp_path / "Demo.wav"))
    d.format.setCurrentText("FLAC")
    assert d.output() == tmp_path / "Demo.flac"
    assert not d.depth.model().item(2).isEnabled()  # no float FLAC
    d.depth.setCurrentIndex(1)
    d.normalize.setChecked(True)
    d.speaker_stems.setChecked(True)
    d.srt.setChecked(True)
    d.vtt.setChecked(True)
    opts = d.options()
    assert (opts.format, opts.bit_depth, opts.normalize_lufs) == ("flac", "24", -16.0)
    assert opts.speaker_stems_dir == tmp_path / "Demo_stems" / "speakers" and opts.line_stems_dir is None
    assert opts.subtitles == [tmp_path / "Demo.srt", tmp_path / "Demo.vtt"]


def test_cancel_download_stops_the_running_download_and_is_not_an_error(make_window, qtbot, fake_hub, monkeypatch):
    """Cancel is a direct call (a queued one waited behind the download), and a stopped download
    is reported as stopped, not as a failure (no error box: it would fail this test)."""
    import threading

    from csm_desktop.services import download

    monkeypatch.setenv("HF_TOKEN", TOKEN)
    w = make_window()
    dialog = ModelSetupDialog(w, Settings(model=REPO), w.tasks)
    dialog.start_download()
    qtbot.waitUntil(lambda: dialog.job is None, timeout=30_000)
    running = threading.Event()

    def slow_download(files, token, *, on_progress=None, should_stop=None):
        running.set()
        while not should_stop():
            threading.Event().wait(0.01)
        raise download.DownloadCancelled("The download was stopped. What arrived is kept: downloading again resumes it.")

    monkeypatch.setattr(download, "download", slow_download)
    dialog.start_download()
    qtbot.waitUntil(running.is_set, timeout=10_000)
    dialog.cancel_button.click()
    qtbot.waitUntil(lambda: dialog.job is None, timeout=10_000)
    assert "Download stopped" in dialog.status.text()
    assert dialog.planned is not None  # the plan is kept: Download resumes


def test_setup_dialog_grows_with_its_status_and_says_when_everything_is_here(make_window, qtbot, fake_hub,
                                                                            monkeypatch):
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    w = make_window()
    dialog = ModelSetupDialog(w, Settings(model=REPO), w.tasks)
    dialog.show()
    height = dialog.height()
    dialog.start_download()
    qtbot.waitUntil(lambda: dialog.job is None, timeout=30_000)
    assert dialog.height() >= height and dialog.height() >= dialog.sizeHint().height()
    assert "MB</b> to download" in dialog.status.text()  # a tiny model: in MB, not "0.05 GB"
    dialog.start_download()
    qtbot.waitUntil(lambda: dialog.job is None, timeout=30_000)
    again = ModelSetupDialog(w, Settings(model=REPO), w.tasks)
    assert "token from the HF_TOKEN" in again.token.placeholderText()
    again.start_download()
    qtbot.waitUntil(lambda: again.job is None, timeout=30_000)
    assert "already downloaded" in again.status.text() and again.download_button.text() == "Use this model"
    dialog.close()


def test_offline_with_a_complete_download_says_the_copy_is_usable(make_window, qtbot, fake_hub, monkeypatch):
    import socket

    monkeypatch.setenv("HF_TOKEN", TOKEN)
    w = make_window()
    first = ModelSetupDialog(w, Settings(model=REPO), w.tasks)
    for _ in range(2):  # plan, then download
        first.start_download()
        qtbot.waitUntil(lambda: first.job is None, timeout=30_000)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{s.getsockname()[1]}")  # nobody listens
    dialog = ModelSetupDialog(w, Settings(model=REPO), w.tasks)
    dialog.start_download()
    qtbot.waitUntil(lambda: dialog.job is None, timeout=30_000)
    assert "copy is complete" in dialog.status.text()
    assert dialog.findChild(QMessageBox, "errorBox") is None


def test_a_model_folder_that_is_gone_offers_the_set_up_instead_of_crashing(make_window, tmp_path):
    settings = Settings(model=str(tmp_path / "gone" / "csm-1b"))
    assert not model_is_available(settings)
    w = make_window()
    dialog = ModelSetupDialog(w, settings, w.tasks)
    assert "needs the CSM-1B speech model" in dialog.findChild(QLabel).text()


def test_the_no_keyring_warning_is_said_once_a_session(make_window, qtbot):
    """Without a keyring, the first key typed in Settings brings the warning; later ones only a
    status-bar reminder, not the same box at every save."""
    w = make_window()
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    try:
        for n, name in enumerate(("google", "cerebrium")):
            dialog = SettingsDialog(w, w.settings)
            dialog.secrets[name].setText(f"key-{n}")
            w.apply_settings(dialog)
            assert dialog.keyring_warnings
            visible = [b for b in w.findChildren(QMessageBox, "errorBox") if b.isVisible()]
            if n == 0:
                assert len(visible) == 1 and "only until CSM Desktop closes" in visible[0].text()
                visible[0].done(0)
            else:
                assert visible == []
                assert "No system keyring" in w.statusBar().currentMessage()
    finally:
        keyring.set_keyring(previous)
        for name in ("google", "cerebrium"):
            credentials.delete_secret(name)


def test_error_boxes_join_instead_of_stacking(make_window, qtbot):
    """A second message while a box is open joins it (a settings warning and a failing remote
    warm-up arrive together); the same message twice is said once; a dismissed box takes none."""
    from csm_desktop.ui.errors import show_error

    w = make_window()
    first = show_error(w, "The settings could not be saved.")
    assert show_error(w, "The remote engine did not answer.", "trace 1") is first
    assert show_error(w, "The settings could not be saved.") is first
    visible = [b for b in w.findChildren(QMessageBox, "errorBox") if b.isVisible()]
    assert visible == [first]
    assert first.text() == "The settings could not be saved.\n\nThe remote engine did not answer."
    assert first.detailedText() == "trace 1"
    first.done(0)
    assert show_error(w, "Later.") is not first


def test_credentials_tab_says_where_keys_are_kept(make_window):
    """Without a keyring the tab does not claim one, and a key typed this session says it is kept
    until the app closes; with a keyring it says the keyring."""
    w = make_window()
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    try:
        assert not credentials.keyring_usable()
        try:
            credentials.set_secret("google", "g-key")
        except credentials.KeyringUnavailableError:
            pass
        dialog = SettingsDialog(w, w.settings)
        texts = " ".join(label.text() for label in dialog.findChildren(QLabel))
        assert "No system keyring was found" in texts and "Kept in your system keyring" not in texts
        assert dialog.secrets["google"].placeholderText() == "kept until CSM Desktop closes"
    finally:
        keyring.set_keyring(previous)
        credentials.delete_secret("google")
