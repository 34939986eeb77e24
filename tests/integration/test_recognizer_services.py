"""The recognizers' network paths: faster-whisper's model fetched from a fake hub on 127.0.0.1
through our downloader (progress, cache, offline reuse), and Gemini's transcription of a take."""

from __future__ import annotations

import torch

from csm_desktop.services import recognizers
from csm_desktop.services.gemini import GeminiClient
from csm_desktop.services.recognizers import GeminiRecognizer, WhisperRecognizer, whisper_model_folder
from fakes.gemini import FakeGemini, text_reply
from fakes.hub import FakeHub, set_offline

WHISPER_REPO = "Systran/faster-whisper-test"


def test_whisper_downloads_its_model_on_first_use_then_works_offline(tiny_whisper, speech, monkeypatch):
    (tiny_whisper / "README.md").write_text("not a model file: left on the hub")
    with FakeHub() as hub:
        hub.add_folder(WHISPER_REPO, tiny_whisper)
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        set_offline(monkeypatch, False)
        events = []
        recognizer = WhisperRecognizer(WHISPER_REPO, on_progress=events.append)
        heard = recognizer.transcribe(torch.from_numpy(speech["line"]), 24_000)
        assert events and events[-1].done == events[-1].total > 0
        assert "README.md" not in {e.file for e in events}
        assert any(path.endswith("/model.bin") for _, path, _ in hub.requests)
    set_offline(monkeypatch, True)  # the hub is gone: the cached copy serves
    folder = whisper_model_folder(WHISPER_REPO)
    assert (folder / "model.bin").is_file() and not (folder / "README.md").exists()
    assert WhisperRecognizer(WHISPER_REPO).transcribe(speech["line"], 24_000) == heard


def test_make_recognizer_passes_the_hugging_face_token(monkeypatch):
    monkeypatch.setattr("csm_desktop.services.credentials.get_secret", lambda name: f"{name}-token")
    recognizer = recognizers.make_recognizer("whisper", whisper_model="owner/model")
    assert recognizer._token == "huggingface-token" and recognizer.name == "whisper:owner/model"


def test_gemini_transcribes_a_take_as_a_wav(monkeypatch, speech):
    with FakeGemini("AIza-fake-key") as fake:
        monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", fake.url)
        fake.replies.append(text_reply("We should leave before the rain starts."))
        recognizer = GeminiRecognizer(GeminiClient(api_key="AIza-fake-key"))
        assert recognizer.name == "gemini:gemini-2.5-flash"
        assert recognizer.transcribe(torch.from_numpy(speech["line"]), 24_000) == \
            "We should leave before the rain starts."
        parts = fake.requests[0]["body"]["contents"][0]["parts"]
        inline = [p.get("inlineData") or p.get("inline_data") for p in parts if "inlineData" in p or "inline_data" in p]
        assert inline and (inline[0].get("mimeType") or inline[0].get("mime_type")) == "audio/wav"
