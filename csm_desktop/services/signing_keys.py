"""The key and certificate that sign content credentials: this installation's own (made on first
use, kept in ``<data folder>/content-credentials/``, the key encrypted with a passphrase kept in
the keyring), or the user's own chain and key named in Settings, checked before they are used."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from csm_desktop.errors import CsmError
from csm_desktop.fileio import atomic_write, atomic_write_text
from csm_desktop.paths import data_dir
from csm_desktop.services import credentials as secrets_store
from csm_desktop.settings import Settings

FOLDER = "content-credentials"
KEY_FILE, CHAIN_FILE = "signing-key.pem", "certificate-chain.pem"
SECRET, OWN_SECRET = "content-credentials", "content-credentials-own"
_MAX_PEM_BYTES = 1_000_000
_YEARS = 10
_RENEW_BEFORE = dt.timedelta(days=30)
TRAINED_ALGORITHMIC_MEDIA = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"


class SigningError(CsmError):
    """Content credentials cannot be signed with the key and certificate at hand."""


@dataclass
class Credentials:
    algorithm: str  # c2pa's name: es256, es384, es512, ps256, ed25519
    chain_pem: str  # the signing certificate first, then its issuers
    key_pem: str  # unencrypted PKCS#8, in memory only
    signer: str  # how the user is told who signed
    notices: list[str] = field(default_factory=list)

    def signer_info(self):
        import c2pa

        return c2pa.C2paSignerInfo(self.algorithm.encode(), self.chain_pem.encode(), self.key_pem.encode(), None)


def _algorithm(key) -> str:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        names = {"secp256r1": "es256", "secp384r1": "es384", "secp521r1": "es512"}
        if key.curve.name in names:
            return names[key.curve.name]
        raise SigningError(f"The key uses the curve {key.curve.name}; C2PA signs with P-256, P-384 or P-521 only.")
    if isinstance(key, rsa.RSAPrivateKey):
        if key.key_size < 2048:
            raise SigningError(f"The RSA key has {key.key_size} bits; C2PA needs at least 2048.")
        return "ps256"
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return "ed25519"
    raise SigningError("The key is of a kind C2PA does not sign with: use an EC (P-256), RSA or Ed25519 key.")


def _pem(key) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode("ascii")


def _read(path: Path, what: str) -> bytes:
    try:
        if path.stat().st_size > _MAX_PEM_BYTES:
            raise SigningError(f"{path} is too large to be a PEM {what}.")
        return path.read_bytes()
    except OSError as exc:
        raise SigningError(f"The {what} {path} could not be read ({exc.strerror or exc}).") from None


def _usable(chain: list[x509.Certificate], key, source: str) -> None:
    """The key belongs to the first certificate, which is valid now and for a while yet."""
    leaf = chain[0]
    public = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    if leaf.public_key().public_bytes(*public) != key.public_key().public_bytes(*public):
        raise SigningError(f"The key does not belong to the first certificate of {source}. Put the signing "
                           "certificate first in the chain, and choose its own key.")
    now = dt.datetime.now(dt.timezone.utc)
    if not leaf.not_valid_before_utc <= now <= leaf.not_valid_after_utc:
        raise SigningError(f"The signing certificate of {source} is valid from {leaf.not_valid_before_utc:%Y-%m-%d} "
                           f"to {leaf.not_valid_after_utc:%Y-%m-%d}, not today. Renew it.")


def _check_with_c2pa(creds: Credentials) -> None:
    """Sign a tiny WAV in memory: c2pa checks the certificate's profile (key usages, extensions)
    itself, and its refusal is clearer now than at the first export."""
    import c2pa
    import numpy as np
    import soundfile as sf

    wav = io.BytesIO()
    sf.write(wav, np.zeros(800, dtype=np.int16), 8000, format="WAV", subtype="PCM_16")
    wav.seek(0)
    try:
        signer = c2pa.Signer.from_info(creds.signer_info())
        definition = {"claim_generator_info": [{"name": "CSM Desktop"}], "title": "check.wav",
                      "assertions": [{"label": "c2pa.actions", "data": {"actions": [{
                          "action": "c2pa.created", "digitalSourceType": TRAINED_ALGORITHMIC_MEDIA}]}}]}
        with signer, c2pa.Builder.from_json(definition) as builder:
            builder.sign(signer, "audio/wav", wav, io.BytesIO())
    except c2pa.C2paError as exc:
        raise SigningError(f"C2PA refuses to sign with this certificate ({exc}). A C2PA signing certificate must "
                           "not be a CA, must allow digital signatures, and name an extended key usage such as "
                           "document signing or e-mail protection.") from None


def own_credentials(cert: str | Path, key: str | Path, passphrase: str | None = None) -> Credentials:
    """The user's own PEM certificate chain and private key, checked (by c2pa too).

    Raises:
        SigningError: a file is unreadable or malformed, the key is locked or does not match, the
            certificate is out of date, or C2PA refuses it; the message says which.
    """
    cert, key = Path(cert).expanduser(), Path(key).expanduser()
    try:
        chain = x509.load_pem_x509_certificates(_read(cert, "certificate chain"))
    except ValueError:
        raise SigningError(f"{cert} is not a PEM certificate chain (-----BEGIN CERTIFICATE----- blocks).") from None
    try:
        private = serialization.load_pem_private_key(_read(key, "private key"),
                                                     passphrase.encode() if passphrase else None)
    except TypeError:
        raise SigningError(f"The key {key.name} is encrypted: enter its passphrase in Settings > Responsible "
                           "voice." if not passphrase else f"The key {key.name} is not encrypted: leave the "
                           "passphrase empty.") from None
    except (ValueError, UnsupportedAlgorithm):
        raise SigningError(f"{key} is not a PEM private key, or the passphrase is wrong.") from None
    subject = chain[0].subject.rfc4514_string()
    creds = Credentials(_algorithm(private), "".join(c.public_bytes(serialization.Encoding.PEM).decode("ascii")
                                                     for c in chain), _pem(private), f"your certificate ({subject})")
    _usable(chain, private, cert.name)
    _check_with_c2pa(creds)
    return creds


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "CSM Desktop (self-signed, unverified)")])


def _make(folder: Path, passphrase: str) -> tuple[list[x509.Certificate], ec.EllipticCurvePrivateKey]:
    """A root certificate and a signing certificate it issues, with a random installation id and
    nothing about the user or the computer in them."""
    ident = secrets.token_hex(4)
    now = dt.datetime.now(dt.timezone.utc)
    until = now + dt.timedelta(days=365 * _YEARS)
    root_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    root_name = _name(f"CSM Desktop installation {ident} root")

    def base(subject: x509.Name, public) -> x509.CertificateBuilder:
        return (x509.CertificateBuilder().subject_name(subject).issuer_name(root_name).public_key(public)
                .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
                .not_valid_after(until).add_extension(x509.SubjectKeyIdentifier.from_public_key(public), False))

    no_usage = dict.fromkeys(("content_commitment", "key_encipherment", "data_encipherment", "key_agreement",
                              "encipher_only", "decipher_only"), False)
    root = (base(root_name, root_key.public_key())
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), True)
            .add_extension(x509.KeyUsage(digital_signature=False, key_cert_sign=True, crl_sign=True, **no_usage), True)
            .sign(root_key, hashes.SHA256()))
    leaf = (base(_name(f"CSM Desktop installation {ident}"), key.public_key())
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=False, crl_sign=False, **no_usage), True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), False)
            .sign(root_key, hashes.SHA256()))
    encrypted = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.BestAvailableEncryption(passphrase.encode()))
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write(folder / KEY_FILE, lambda fh: fh.write(encrypted))
    os.chmod(folder / KEY_FILE, 0o600)
    atomic_write_text(folder / CHAIN_FILE, "".join(c.public_bytes(serialization.Encoding.PEM).decode("ascii")
                                                   for c in (leaf, root)))
    return [leaf, root], key


def _load(folder: Path, passphrase: str | None) -> tuple[list[x509.Certificate], object] | None:
    """This installation's chain and key, or None when they are missing, locked or out of date."""
    if not passphrase or not (folder / KEY_FILE).is_file() or not (folder / CHAIN_FILE).is_file():
        return None
    try:
        chain = x509.load_pem_x509_certificates(_read(folder / CHAIN_FILE, "certificate chain"))
        key = serialization.load_pem_private_key(_read(folder / KEY_FILE, "private key"), passphrase.encode())
        _usable(chain, key, "this installation's certificate")
        if chain[0].not_valid_after_utc - dt.datetime.now(dt.timezone.utc) < _RENEW_BEFORE:
            return None
    except (SigningError, ValueError, TypeError, UnsupportedAlgorithm):
        return None
    return chain, key


def installation_credentials(folder: Path | None = None) -> Credentials:
    """This installation's key and certificate, made on first use (and again when the old key
    cannot be unlocked: its passphrase was kept for one session only, or the keyring was reset).

    Raises:
        SigningError: the folder cannot be written.
    """
    folder = folder or data_dir() / FOLDER
    # Each data folder (an installation, a portable copy, a test) has a passphrase of its own.
    secret = f"{SECRET}@{hashlib.sha256(str(folder.resolve()).encode()).hexdigest()[:16]}"
    notices: list[str] = []
    passphrase = secrets_store.get_secret(secret)
    loaded = _load(folder, passphrase)
    if loaded is None:
        if (folder / KEY_FILE).exists():
            stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
            for name in (KEY_FILE, CHAIN_FILE):
                if (folder / name).exists():
                    (folder / name).replace(folder / f"{name}.replaced-{stamp}")
            notices.append("This installation's signing key could not be unlocked (its passphrase is not in the "
                           "keyring) or its certificate is running out, so a new key and certificate were made. "
                           "Files signed before keep their credentials.")
        passphrase = secrets.token_urlsafe(32)
        try:
            secrets_store.set_secret(secret, passphrase)
        except secrets_store.KeyringUnavailableError as exc:
            notices.append(f"{exc} Content credentials made later are then signed with a new key.")
        try:
            loaded = _make(folder, passphrase)
        except OSError as exc:
            raise SigningError(f"The signing key could not be stored in {folder} ({exc}).") from None
    chain, key = loaded
    common = chain[0].subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    return Credentials(_algorithm(key), "".join(c.public_bytes(serialization.Encoding.PEM).decode("ascii")
                                                for c in chain),
                       _pem(key), f"this installation's self-signed certificate ({common})", notices)


def signing_credentials(settings: Settings) -> Credentials:
    """The user's own certificate when Settings name one, else this installation's."""
    if settings.credentials_cert or settings.credentials_key:
        if not (settings.credentials_cert and settings.credentials_key):
            raise SigningError("Settings > Responsible voice names only one of the certificate and its key; "
                               "give both, or neither to use this installation's certificate.")
        return own_credentials(settings.credentials_cert, settings.credentials_key,
                               secrets_store.get_secret(OWN_SECRET))
    return installation_credentials()
