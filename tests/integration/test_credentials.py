"""Credentials against a real Secret Service, env overrides, no keyring, redaction."""

from __future__ import annotations

import logging

import keyring
import pytest
from keyring.backends import fail

from csm_desktop.services import credentials as cred


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    for names in cred.ENV_OVERRIDES.values():
        for var in names:
            monkeypatch.delenv(var, raising=False)
    cred._session.clear()


def test_round_trip_in_the_real_keyring(secret_service):
    cred.set_secret("google", "AIza-test-key-1")
    assert secret_service.get_password("csm-desktop", "google") == "AIza-test-key-1"
    assert cred.get_secret("google") == "AIza-test-key-1"
    cred.set_secret("google", "AIza-test-key-2")
    assert cred.get_secret("google") == "AIza-test-key-2"
    cred.delete_secret("google")
    assert cred.get_secret("google") is None
    cred.delete_secret("google")  # deleting twice is fine


def test_environment_overrides_without_storing(secret_service, monkeypatch):
    cred.set_secret("huggingface", "hf_stored")
    monkeypatch.setenv("HF_TOKEN", "hf_from_env")
    assert cred.get_secret("huggingface") == "hf_from_env"
    assert secret_service.get_password("csm-desktop", "huggingface") == "hf_stored"
    monkeypatch.setenv("GEMINI_API_KEY", "gemini-env")
    assert cred.get_secret("google") == "gemini-env"
    monkeypatch.setenv("GOOGLE_API_KEY", "google-env")
    assert cred.get_secret("google") == "google-env"
    cred.delete_secret("huggingface")


def test_no_keyring_keeps_the_secret_for_the_session(monkeypatch):
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    try:
        with pytest.raises(cred.KeyringUnavailableError, match="only until CSM Desktop closes") as info:
            cred.set_secret("cerebrium", "cb-secret-value")
        assert "gnome-keyring" in str(info.value) and "cb-secret-value" not in str(info.value)
        assert cred.get_secret("cerebrium") == "cb-secret-value"
        cred.delete_secret("cerebrium")
        assert cred.get_secret("cerebrium") is None
    finally:
        keyring.set_keyring(previous)


def test_secrets_are_redacted_from_text_and_logs(secret_service, caplog):
    cred.set_secret("google", "AIza-very-secret")
    assert cred.redact("key=AIza-very-secret failed") == "key=*** failed"
    log = logging.getLogger("csm-test-redact")
    log.addFilter(cred.RedactingFilter())
    with caplog.at_level(logging.INFO, logger="csm-test-redact"):
        log.info("calling with %s", "AIza-very-secret")
    assert "AIza-very-secret" not in caplog.text and "***" in caplog.text
    cred.delete_secret("google")


def test_unknown_name_is_a_programming_error():
    with pytest.raises(ValueError):
        cred.get_secret("github")


def test_the_signing_keys_passphrase_lives_in_the_real_keyring(secret_service, tmp_path):
    """Content credentials: the installation's key is encrypted on disk and its passphrase is in the
    Secret Service, so a later session (nothing in memory) opens the same key."""
    from csm_desktop.services.signing_keys import installation_credentials

    folder = tmp_path / "content-credentials"
    first = installation_credentials(folder)
    assert first.notices == []
    stored = [i for i in secret_service.get_preferred_collection().get_all_items()
              if i.get_attributes().get("username", "").startswith("content-credentials@")]
    assert len(stored) == 1 and stored[0].get_secret().decode() not in (folder / "signing-key.pem").read_text()
    cred._session.clear()  # a new session
    again = installation_credentials(folder)
    assert again.chain_pem == first.chain_pem and again.notices == []
    cred.delete_secret(stored[0].get_attributes()["username"])
