"""C2PA content credentials on exports, read back with c2pa-python's own Reader: what the manifest
says, that it is valid (and untrusted: self-signed), that tampering shows, the installation's key
(made once, kept encrypted, its passphrase in the keyring), and the user's own certificate."""

from __future__ import annotations

import datetime as dt
import json

import c2pa
import keyring
import numpy as np
import pytest
import soundfile as sf
import torch
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from keyring.backend import KeyringBackend
from keyring.backends import fail
from keyring.errors import PasswordDeleteError

from csm_desktop.audio import SAMPLE_RATE
from csm_desktop.dialogue.export import ExportOptions, export_dialogue
from csm_desktop.dialogue.project import Project
from csm_desktop.dialogue.takes import TakeInfo, TakeStore
from csm_desktop.dialogue.voices import VoiceLibrary
from csm_desktop.services import credentials
from csm_desktop.services.content_credentials import (
    ASSERTION,
    TRAINED_ALGORITHMIC_MEDIA,
    CredentialNotice,
    sign_exports,
)
from csm_desktop.services.signing_keys import SigningError, own_credentials
from csm_desktop.settings import Settings

MIME = {".wav": "audio/wav", ".flac": "audio/flac", ".mp3": "audio/mpeg"}


class MemoryKeyring(KeyringBackend):
    priority = 1

    def __init__(self):
        super().__init__()
        self.store: dict[tuple[str, str], str] = {}

    def get_password(self, service, username):
        return self.store.get((service, username))

    def set_password(self, service, username, password):
        self.store[(service, username)] = password

    def delete_password(self, service, username):
        if self.store.pop((service, username), None) is None:
            raise PasswordDeleteError(username)


@pytest.fixture
def memory_keyring(monkeypatch):
    previous = keyring.get_keyring()
    ring = MemoryKeyring()
    keyring.set_keyring(ring)
    monkeypatch.setattr(credentials, "_session", {})
    yield ring
    keyring.set_keyring(previous)


@pytest.fixture
def exported(tmp_path):
    """A two-line project with takes (a sweep: content does not matter here) exported as WAV."""
    def export(fmt: str = "wav", library: VoiceLibrary | None = None, clips: list[str] = ()):
        project = Project.new("Alice: One line.\nBob: Another line.")
        project.speaker("Alice").clip_ids.extend(clips)
        project.save(tmp_path / f"p-{fmt}")
        store = TakeStore(project.takes_dir, SAMPLE_RATE)
        t = np.arange(SAMPLE_RATE) / SAMPLE_RATE
        for n, key in enumerate(("a" * 24, "b" * 24)):
            audio = torch.from_numpy((0.2 * np.sin(2 * np.pi * (200 + 100 * n) * t)).astype(np.float32))
            store.save(TakeInfo(key, "x", "Alice", 0, 0, 0, 1.0, 13, watermark="PerTh"), audio)
            project.line(n).chosen_take = key
        out = tmp_path / f"dialogue.{'wav' if fmt == 'mp3' else fmt}"
        written = export_dialogue(project, store, out, ExportOptions(format="wav" if fmt == "mp3" else fmt))
        if fmt == "mp3":  # as an MP3 export writes it
            audio, rate = sf.read(out, dtype="float32")
            written = [out.with_suffix(".mp3")]
            sf.write(written[0], audio, rate, format="MP3", subtype="MPEG_LAYER_III")
        return project, store, written
    return export


def _ours(path) -> dict:
    return next(a for a in _manifest(path)[0]["assertions"] if a["label"] == ASSERTION)["data"]


def _manifest(path):
    with open(path, "rb") as fh, c2pa.Reader(MIME[path.suffix], fh) as reader:
        store = json.loads(reader.json())
        return store["manifests"][store["active_manifest"]], store.get("validation_status", []), \
            reader.get_validation_state()


@pytest.mark.parametrize("fmt", ["wav", "flac", "mp3"])
def test_exports_carry_a_manifest_that_c2pa_reads_back(memory_keyring, exported, fmt):
    project, store, written = exported(fmt)
    news = sign_exports(written, project, store, None)
    assert [n for n in news if isinstance(n, CredentialNotice)] == []
    manifest, status, state = _manifest(written[0])
    assert state == "Valid"
    assert [s["code"] for s in status] == ["signingCredential.untrusted"]  # self-signed: valid, not trusted
    assert manifest["claim_generator_info"][0]["name"] == "CSM Desktop"
    actions = next(a for a in manifest["assertions"] if a["label"].startswith("c2pa.actions"))["data"]["actions"]
    assert actions[0]["action"] == "c2pa.created" and actions[0]["digitalSourceType"] == TRAINED_ALGORITHMIC_MEDIA
    assert "CSM-1B" in actions[0]["description"]
    ours = next(a for a in manifest["assertions"] if a["label"] == ASSERTION)["data"]
    assert ours["watermark"]["lines"] == 2 and ours["watermark"]["lines_without"] == []
    assert ours["voice_consent"]["voice_clips"] == 0
    assert manifest["signature_info"]["common_name"].startswith("CSM Desktop installation ")
    assert sf.info(written[0]).frames > 0  # still audio every player reads


def test_tampering_after_signing_shows(memory_keyring, exported):
    project, store, written = exported()
    sign_exports(written, project, store, None)
    data = bytearray(written[0].read_bytes())
    at = data.index(b"data") + 100
    data[at:at + 8] = b"\x7f" * 8
    written[0].write_bytes(bytes(data))
    _, status, state = _manifest(written[0])
    assert state == "Invalid" and "assertion.dataHash.mismatch" in [s["code"] for s in status]


def test_the_watermark_survives_signing(perth, memory_keyring, tmp_path):
    from fakes.speech import espeak

    audio = perth.watermark(espeak("Signing adds a chunk and leaves the samples alone."), SAMPLE_RATE)
    project = Project.new("Alice: Hi.")
    project.save(tmp_path / "p")
    path = tmp_path / "marked.wav"
    sf.write(path, audio.numpy(), SAMPLE_RATE, subtype="PCM_16")
    sign_exports([path], project, None, None)
    assert _manifest(path)[2] == "Valid"
    assert perth.detect(sf.read(path, dtype="float32")[0], SAMPLE_RATE).present


def test_the_installation_key_is_made_once_encrypted_and_kept(memory_keyring, exported, tmp_path):
    project, store, written = exported()
    sign_exports(written, project, store, None)
    first = _manifest(written[0])[0]["signature_info"]
    folder = tmp_path / "data" / "content-credentials"
    key_pem = (folder / "signing-key.pem").read_text()
    assert "ENCRYPTED PRIVATE KEY" in key_pem and (folder / "signing-key.pem").stat().st_mode & 0o077 == 0
    (name, passphrase), = [(u, p) for (s, u), p in memory_keyring.store.items() if s == "csm-desktop"]
    assert name.startswith("content-credentials@") and passphrase not in key_pem
    serialization.load_pem_private_key(key_pem.encode(), passphrase.encode())  # the keyring's passphrase opens it

    news = sign_exports(written, project, store, None)  # a later export: the same key, nothing to say
    assert not [n for n in news if isinstance(n, CredentialNotice)]
    assert _manifest(written[0])[0]["signature_info"]["cert_serial_number"] == first["cert_serial_number"]

    memory_keyring.store.clear()  # the keyring forgot it (a reset, another account)
    news = sign_exports(written, project, store, None)
    assert any("could not be unlocked" in n for n in news)
    assert _manifest(written[0])[0]["signature_info"]["cert_serial_number"] != first["cert_serial_number"]
    assert len(list(folder.glob("signing-key.pem.replaced-*"))) == 1  # set aside, not deleted


def test_without_a_keyring_the_key_lasts_the_session_and_says_so(exported, monkeypatch):
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    monkeypatch.setattr(credentials, "_session", {})
    try:
        project, store, written = exported()
        news = sign_exports(written, project, store, None)
        assert any("kept only until CSM Desktop closes" in n for n in news)
        serial = _manifest(written[0])[0]["signature_info"]["cert_serial_number"]
        assert not [n for n in sign_exports(written, project, store, None) if isinstance(n, CredentialNotice)]
        assert _manifest(written[0])[0]["signature_info"]["cert_serial_number"] == serial
    finally:
        keyring.set_keyring(previous)


def _usage(**wanted) -> x509.KeyUsage:
    names = ("digital_signature", "content_commitment", "key_encipherment", "data_encipherment", "key_agreement",
             "key_cert_sign", "crl_sign", "encipher_only", "decipher_only")
    return x509.KeyUsage(**{n: wanted.get(n, False) for n in names})


def _own_chain(folder, *, passphrase: bytes | None, signer_is_ca: bool = False):
    """An organisation's CA and a signing certificate for "Jane Producer", as PEM files."""
    now = dt.datetime.now(dt.timezone.utc)
    ca_key, key = ec.generate_private_key(ec.SECP384R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Example Studio CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(1).not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
          .add_extension(_usage(key_cert_sign=True), True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
          .sign(ca_key, hashes.SHA384()))
    leaf = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Jane Producer")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(2)
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=signer_is_ca, path_length=None), True)
            .add_extension(_usage(digital_signature=True), True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False)
            .sign(ca_key, hashes.SHA384()))
    encryption = (serialization.BestAvailableEncryption(passphrase) if passphrase else serialization.NoEncryption())
    cert, key_file = folder / "jane.pem", folder / "jane.key"
    cert.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in (leaf, ca)))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption))
    return cert, key_file, ca_key


def test_the_users_own_certificate_signs_when_settings_name_it(memory_keyring, exported, tmp_path):
    cert, key, _ = _own_chain(tmp_path, passphrase=b"studio pass")
    credentials.set_secret("content-credentials-own", "studio pass")
    project, store, written = exported()
    news = sign_exports(written, project, store, None, Settings(credentials_cert=str(cert), credentials_key=str(key)))
    assert any("your certificate (CN=Jane Producer)" in n for n in news), news
    manifest, _, state = _manifest(written[0])
    assert state == "Valid" and manifest["signature_info"]["common_name"] == "Jane Producer"
    assert not (tmp_path / "data" / "content-credentials").exists()  # no installation key was needed


def test_own_certificates_that_cannot_sign_say_why(tmp_path):
    cert, key, ca_key = _own_chain(tmp_path, passphrase=b"pw")
    with pytest.raises(SigningError, match="is encrypted: enter its passphrase"):
        own_credentials(cert, key)
    with pytest.raises(SigningError, match="passphrase is wrong"):
        own_credentials(cert, key, "not it")
    other = tmp_path / "other.key"
    other.write_bytes(ca_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    with pytest.raises(SigningError, match="does not belong to the first certificate"):
        own_credentials(cert, other)
    with pytest.raises(SigningError, match="not a PEM certificate chain"):
        own_credentials(key, key, "pw")
    with pytest.raises(SigningError, match="could not be read"):
        own_credentials(tmp_path / "missing.pem", key, "pw")
    (tmp_path / "ca").mkdir()
    ca_cert, ca_key_file, _ = _own_chain(tmp_path / "ca", passphrase=None, signer_is_ca=True)
    with pytest.raises(SigningError, match="C2PA refuses to sign with this certificate"):
        own_credentials(ca_cert, ca_key_file)


def test_half_a_setting_and_formats_without_credentials_are_said(memory_keyring, exported, tmp_path):
    project, store, written = exported()
    before = written[0].read_bytes()
    news = sign_exports(written, project, store, None, Settings(credentials_cert=str(tmp_path / "c.pem")))
    assert any("names only one of the certificate and its key" in n for n in news)
    assert written[0].read_bytes() == before  # exported as it was, nothing lost
    opus = tmp_path / "dialogue.opus"
    sf.write(opus, np.zeros(SAMPLE_RATE, np.float32), SAMPLE_RATE, format="OGG", subtype="OPUS")
    opus_bytes = opus.read_bytes()
    news = sign_exports([opus, tmp_path / "dialogue.srt"], project, store, None)
    assert len(news) == 1 and "OPUS files cannot carry content credentials" in news[0]
    assert opus.read_bytes() == opus_bytes


def test_the_manifest_says_whether_consent_was_confirmed(memory_keyring, exported, tmp_path):
    from fakes.speech import espeak
    from csm_desktop.audio import write_audio

    library = VoiceLibrary(tmp_path / "lib")
    write_audio(tmp_path / "a.wav", espeak("A voice clip."), SAMPLE_RATE)
    write_audio(tmp_path / "b.wav", espeak("Another voice clip.", "en-gb"), SAMPLE_RATE)
    asked = library.record_consent(library.import_clip(tmp_path / "a.wav", name="asked").id, own_voice=True)
    unasked = library.import_clip(tmp_path / "b.wav", name="unasked")
    project, store, written = exported(library=library, clips=[asked.id])
    sign_exports(written, project, store, library)
    consent = _ours(written[0])["voice_consent"]
    assert consent["all_confirmed"] is True and "permission" in consent["statement"]
    assert consent["clips"] == [{"speaker": "Alice", "clip": "asked", "consent_confirmed": True,
                                 "confirmed_at": asked.consent_at, "own_voice": True}]
    project.speaker("Bob").clip_ids.append(unasked.id)
    sign_exports(written, project, store, library)
    consent = _ours(written[0])["voice_consent"]
    assert consent["all_confirmed"] is False and "not on record" in consent["statement"]
