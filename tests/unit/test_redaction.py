"""Secrets never reach a message, a log line or a traceback, whichever handler prints it."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from csm_desktop import redaction
from csm_desktop.errors import NetworkError

SECRET = "hf_SeCrEt_value_0123456789"


@pytest.mark.parametrize("text, hidden", [
    (f"token {SECRET} refused", SECRET),
    ("POST https://alice:pa55word@example.org/v4/p-1/app/generate_audio failed", "pa55word"),
    ("GET http://127.0.0.1:9/x?api_key=abcd1234&x=1", "abcd1234"),
    ("GET http://h/x?foo=1&token=zzzz9999", "zzzz9999"),
    ("Authorization: Bearer eyJhbGciOi.payload.sig", "eyJhbGciOi"),
])
def test_redact_hides_known_secrets_url_credentials_key_parameters_and_bearer_values(text, hidden):
    redaction.remember(SECRET)
    clean = redaction.redact(text)
    assert hidden not in clean and "***" in clean


def test_redact_keeps_ordinary_text():
    assert redaction.redact("Line 3: Alice has nothing to say. See http://example.org/a?b=1") == \
        "Line 3: Alice has nothing to say. See http://example.org/a?b=1"


def test_every_handler_and_every_traceback_is_redacted_once_installed(tmp_path):
    """In a fresh process as the app runs it: a handler added after install(), logger.exception
    with the secret in the traceback, an uncaught exception in a thread and in the main thread."""
    script = textwrap.dedent(f"""
        import logging, threading
        from csm_desktop import redaction
        redaction.remember({SECRET!r})
        redaction.install()
        logging.basicConfig(level=logging.INFO)          # a handler that did not exist at install()
        log = logging.getLogger("csm_desktop.anything")
        log.info("loaded with %s", {SECRET!r})
        log.warning("remote at https://bob:hunter22@example.org/app failed")
        try:
            raise ValueError("bad token " + {SECRET!r})
        except ValueError:
            log.exception("while talking to the hub")
        t = threading.Thread(target=lambda: (_ for _ in ()).throw(RuntimeError("thread saw " + {SECRET!r})))
        t.start(); t.join()
        raise RuntimeError("main saw " + {SECRET!r})
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    out = result.stdout + result.stderr
    assert result.returncode == 1
    for part in ("loaded with ***", "while talking to the hub", "bad token ***", "thread saw ***", "main saw ***",
                 "https://***@example.org/app"):
        assert part in out, out
    assert SECRET not in out and "hunter22" not in out


def test_remote_engine_never_shows_the_urls_credentials():
    from csm_desktop.services.remote import RemoteEngine

    engine = RemoteEngine("http://carol:s3cretpass@127.0.0.1:9", "cb-token-abcdef", timeout_s=2)
    with pytest.raises(NetworkError) as info:
        engine.model_id  # learnt from the server
    assert "s3cretpass" not in str(info.value) and "127.0.0.1" in str(info.value)
    with pytest.raises(NetworkError) as info:
        engine.generate("Hi.", 0, [], max_audio_length_ms=1000)
    assert "s3cretpass" not in str(info.value) and "127.0.0.1" in str(info.value)
    assert "s3cretpass" not in engine._model_id


def test_cli_errors_are_redacted(capsys, monkeypatch):
    from csm_desktop import cli

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    code = cli.main(["say", "Hi.", "-o", "x.wav", "--model", "https://dave:topsecret1@example.org/m"])
    assert code == 1
    assert "topsecret1" not in capsys.readouterr().err
