"""Gemini drafting and transcription against a fake Gemini server on 127.0.0.1."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from csm_desktop.services import gemini as gem
from csm_desktop.services.gemini import GeminiClient, GeminiError
from fakes.gemini import FakeGemini, error_reply, text_reply

KEY = "AIza-fake-key"


@pytest.fixture
def fake(monkeypatch):
    with FakeGemini(KEY) as f:
        monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", f.url)
        yield f


def _client(**kw):
    return GeminiClient(api_key=KEY, **kw)


def _field(obj, camel, snake):
    """google-genai sends some fields in snake_case, the REST docs show camelCase: accept both."""
    return obj.get(camel, obj.get(snake)) if isinstance(obj, dict) else None


def _lines(*pairs):
    return json.dumps({"lines": [{"speaker": s, "text": t} for s, t in pairs]})


def test_draft_returns_a_valid_script(fake):
    fake.replies.append(text_reply(_lines(("Alice", "Hi Bob!"), ("Bob", "Hey,\nAlice."))))
    script = _client().draft_script("Two friends meet.", ["Alice", "Bob"])
    assert script == "Alice: Hi Bob!\nBob: Hey, Alice.\n"
    body = fake.requests[0]["body"]
    assert body["generationConfig"]["responseMimeType"] == "application/json"
    assert "Alice, Bob" in json.dumps(body["systemInstruction"])
    assert fake.requests[0]["path"].endswith(f"/models/{gem.DEFAULT_MODEL}:generateContent")


def test_invalid_draft_is_retried_once_then_a_clear_error(fake):
    fake.replies += [text_reply("not json"), text_reply(_lines(("Alice", "Fine.")))]
    assert _client().draft_script("x", ["Alice"]) == "Alice: Fine.\n"
    assert "previous answer was unusable" in json.dumps(fake.requests[1]["body"])
    fake.replies += [text_reply(_lines(("Mallory", "Hi"))), text_reply(_lines(("Alice", "")))]
    with pytest.raises(GeminiError, match="twice"):
        _client().draft_script("x", ["Alice"])


def test_transcribe_small_clip_inline(fake, tmp_path):
    sf.write(tmp_path / "c.wav", np.zeros(24_000), 24_000)
    fake.replies.append(text_reply("  Hello there,\n how are you?  "))
    assert _client().transcribe(tmp_path / "c.wav") == "Hello there, how are you?"
    parts = fake.requests[0]["body"]["contents"][0]["parts"]
    assert any(_field(_field(p, "inlineData", "inline_data"), "mimeType", "mime_type") == "audio/wav" for p in parts)
    assert fake.uploads == []


def test_transcribe_large_clip_uploads_it(fake, tmp_path, monkeypatch):
    monkeypatch.setattr(gem, "INLINE_LIMIT_BYTES", 1000)
    sf.write(tmp_path / "c.wav", np.zeros(24_000), 24_000)
    fake.replies.append(text_reply("Uploaded words."))
    assert _client().transcribe(tmp_path / "c.wav") == "Uploaded words."
    assert sum(map(len, fake.uploads)) == (tmp_path / "c.wav").stat().st_size
    parts = fake.requests[0]["body"]["contents"][0]["parts"]
    uris = [_field(_field(p, "fileData", "file_data"), "fileUri", "file_uri") for p in parts]
    assert any(u and u.endswith("/files/abc123") for u in uris)


def test_wrong_key(fake):
    with pytest.raises(GeminiError, match="did not accept the API key") as info:
        GeminiClient(api_key="AIza-wrong-key-123").draft_script("x")
    assert "AIza-wrong-key-123" not in str(info.value)


def test_missing_key(monkeypatch):
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    monkeypatch.setattr(gem, "get_secret", lambda name: None)
    with pytest.raises(GeminiError, match="No Google API key"):
        GeminiClient()


def test_quota_honours_retry_after_once(fake, monkeypatch):
    slept = []
    monkeypatch.setattr(gem.time, "sleep", slept.append)
    fake.replies += [error_reply(429, "RESOURCE_EXHAUSTED", "Quota exceeded", {"Retry-After": "2"}),
                     text_reply(_lines(("Alice", "Back.")))]
    assert _client().draft_script("x", ["Alice"]) == "Alice: Back.\n"
    assert slept == [2.0]
    fake.replies += [error_reply(429, "RESOURCE_EXHAUSTED", "Quota", {"Retry-After": "1"}),
                     error_reply(429, "RESOURCE_EXHAUSTED", "Quota", {"Retry-After": "1"})]
    with pytest.raises(GeminiError, match="quota"):
        _client().draft_script("x", ["Alice"])


def test_safety_block(fake):
    fake.replies.append((200, {"promptFeedback": {"blockReason": "SAFETY"}}, {}))
    with pytest.raises(GeminiError, match="safety"):
        _client().draft_script("x")
    fake.replies.append(text_reply("", finish="SAFETY"))
    with pytest.raises(GeminiError, match="safety"):
        _client().draft_script("x")


def test_server_error_and_unknown_model(fake):
    fake.replies.append(error_reply(503, "UNAVAILABLE", "overloaded"))
    with pytest.raises(GeminiError, match="server error"):
        _client().draft_script("x")
    fake.replies.append(error_reply(404, "NOT_FOUND", "model not found"))
    with pytest.raises(GeminiError, match="no model named"):
        _client(model="gemini-0").draft_script("x")


def test_timeout(fake):
    fake.delay_s = 3
    with pytest.raises(GeminiError, match="in time"):
        _client(timeout_s=1).draft_script("x")


def test_offline(monkeypatch):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", f"http://127.0.0.1:{port}")
    with pytest.raises(GeminiError, match="could not be reached"):
        _client().draft_script("x")


# ----- drafting: the fixes said, the command line ------------------------------------------------
def test_draft_fixes_slips_and_says_what_it_left_out(fake):
    fake.replies.append(text_reply(_lines(("alice", "Alice: Morning! (yawns)"), ("Narrator", "Later."),
                                          ("Bob", "Coffee?"), ("Alice", "Please."))))
    draft = _client().draft("Breakfast.", ["Alice", "Bob"], 3)
    assert draft.text == "Alice: Morning!\nBob: Coffee?\nAlice: Please.\n"
    assert any("Narrator" in n for n in draft.notes) and any("stage directions" in n for n in draft.notes)
    assert "Exactly 3 lines" in json.dumps(fake.requests[0]["body"]["systemInstruction"])


def test_draft_stopped_between_requests_sends_no_second_one(fake):
    from csm_desktop.errors import Cancelled

    asked = []

    def stop_after_first():
        asked.append(len(fake.requests))
        return len(fake.requests) >= 1

    fake.replies.append(text_reply("not json"))
    with pytest.raises(Cancelled):
        _client().draft("x", ["Alice"], 2, should_stop=stop_after_first)
    assert len(fake.requests) == 1 and asked == [0, 1]


def test_cli_draft_writes_a_script_that_parses(fake, monkeypatch, tmp_path, capsys):
    from csm_desktop.cli import main
    from csm_desktop.dialogue.script import parse_script

    monkeypatch.setenv("GOOGLE_API_KEY", KEY)
    fake.replies.append(text_reply(_lines(("Alice", "Ready?"), ("Bob", "Always."), ("Alice", "Go!"))))
    out = tmp_path / "script.txt"
    assert main(["draft", "A race start.", "--speakers", "Alice, Bob", "--lines", "3", "-o", str(out)]) == 0
    assert parse_script(out.read_text()).speakers() == ["Alice", "Bob"]
    assert out.read_text() == "Alice: Ready?\nBob: Always.\nAlice: Go!\n"
    assert f"Wrote {out} (3 lines: Alice, Bob)" in capsys.readouterr().err
    # An existing file is not replaced unless asked; stdout without -o.
    assert main(["draft", "Again.", "--speakers", "Alice", "-o", str(out)]) == 1
    assert "already exists" in capsys.readouterr().err and len(fake.requests) == 1
    fake.replies.append(text_reply(_lines(("Alice", "Solo."))))
    assert main(["draft", "Again.", "--speakers", "Alice", "--lines", "1"]) == 0
    assert capsys.readouterr().out == "Alice: Solo.\n"


@pytest.mark.parametrize("reply, expected", [
    (error_reply(429, "RESOURCE_EXHAUSTED", "Quota exceeded"), "quota for this key is used up"),
    (error_reply(403, "PERMISSION_DENIED", "API key not valid"), "did not accept the API key"),
])
def test_cli_draft_failures_are_one_clear_line(fake, monkeypatch, tmp_path, capsys, reply, expected):
    from csm_desktop.cli import main

    monkeypatch.setenv("GOOGLE_API_KEY", KEY)
    fake.replies.append(reply)
    assert main(["draft", "x", "-o", str(tmp_path / "s.txt")]) == 1
    err = capsys.readouterr().err
    assert expected in err and "Traceback" not in err and KEY not in err
    assert not (tmp_path / "s.txt").exists()


def test_cli_draft_without_a_key_or_network(monkeypatch, tmp_path, capsys):
    from csm_desktop.cli import main

    for var in ("GOOGLE_API_KEY", "GEMINI_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(gem, "get_secret", lambda name: None)
    assert main(["draft", "x", "--speakers", "Alice"]) == 1
    err = capsys.readouterr().err
    assert "No Google API key is set" in err and "GOOGLE_API_KEY" in err  # a terminal user can set it
    assert main(["draft", "x", "--speakers", "A & B"]) == 1  # checked before the key
    assert "cannot be a speaker's name" in capsys.readouterr().err
    import socket

    with socket.socket() as s:  # a port nobody listens on: the connection is refused
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setattr(gem, "get_secret", lambda name: KEY)
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", f"http://127.0.0.1:{port}")
    assert main(["draft", "x"]) == 1
    assert "could not be reached" in capsys.readouterr().err
