"""C2PA content credentials on exported audio (``c2pa-python``): a signed manifest that says the
audio was generated with CSM-1B by CSM Desktop (action ``c2pa.created``, digital source type
``trainedAlgorithmicMedia``), whether every voice clip it imitates had its speaker's consent on
record, and which lines carry the PerTh watermark.

Signing uses, by default, a key and certificate this installation makes on its first export and
keeps in ``<data folder>/content-credentials/``: a small root certificate of its own and a signing
certificate issued by it (C2PA refuses a signing certificate that signs itself). The private key
is encrypted; its passphrase lives in the system keyring (for this session only when there is
none: the next session then makes a new key). Settings may name the user's own certificate chain
and key instead (:mod:`csm_desktop.services.signing_keys`).

A self-signed credential proves that the file is unchanged since this installation signed it and
what the app said about it then; it does not prove who the signer is (see the README).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from csm_desktop import __version__
from csm_desktop.dialogue.project import Project
from csm_desktop.dialogue.takes import TakeStore
from csm_desktop.dialogue.voices import ClipError, VoiceLibrary
from csm_desktop.dialogue.watermark import NAME as WATERMARK_NAME
from csm_desktop.errors import CsmError
from csm_desktop.fileio import atomic_write
from csm_desktop.services.signing_keys import TRAINED_ALGORITHMIC_MEDIA, Credentials, SigningError, signing_credentials
from csm_desktop.settings import Settings

ASSERTION = "org.csm-desktop.responsible-voice"
# Audio containers c2pa-python 0.38 signs (its Builder.get_supported_mime_types()); Ogg (Vorbis,
# Opus) is not among them.
AUDIO_TYPES = {".wav": "audio/wav", ".flac": "audio/flac", ".mp3": "audio/mpeg", ".m4a": "audio/mp4"}
_SUBTITLES = {".srt", ".vtt"}


class CredentialNotice(str):
    """A line of news about the credentials that the user should read (a file left without them,
    a key kept for this session only), as opposed to a plain report."""


@dataclass
class VoiceConsent:
    speaker: str
    clip: str
    confirmed_at: str | None  # ISO date-time (UTC) of the user's confirmation; None: not on record
    own_voice: bool


def voice_consents(project: Project, library: VoiceLibrary | None) -> list[VoiceConsent]:
    """Every voice clip the project's speakers use, with its consent as the library records it."""
    found = []
    for speaker in project.speakers:
        for clip_id in dict.fromkeys(speaker.clip_ids):
            try:
                clip = library.get(clip_id) if library is not None else None
            except ClipError:
                clip = None
            if clip is None:
                found.append(VoiceConsent(speaker.name, clip_id, None, False))
            else:
                found.append(VoiceConsent(speaker.name, clip.name, clip.consent_at, clip.own_voice))
    return found


def manifest(title: str, consents: Sequence[VoiceConsent], unmarked: dict[str, str], lines: int) -> dict:
    """The manifest definition of one exported file.

    Args:
        unmarked: lines (by script line number) whose takes carry no watermark, with the reason.
        lines: how many lines the file holds.
    """
    confirmed = all(c.confirmed_at for c in consents)
    return {
        "claim_generator_info": [{"name": "CSM Desktop", "version": __version__}],
        "title": title,
        "assertions": [
            {"label": "c2pa.actions", "data": {"actions": [{
                "action": "c2pa.created",
                "digitalSourceType": TRAINED_ALGORITHMIC_MEDIA,
                "softwareAgent": {"name": "CSM Desktop", "version": __version__},
                "description": "Speech generated with Sesame's CSM-1B speech model by CSM Desktop.",
            }]}},
            {"label": ASSERTION, "data": {
                "model": "CSM-1B (Sesame)",
                "voice_consent": {
                    "voice_clips": len(consents),
                    "all_confirmed": confirmed,
                    "statement": ("Every voice clip used was confirmed by the user to be used with its speaker's "
                                  "permission." if consents and confirmed else
                                  "No voice clip was used: the model's own voices." if not consents else
                                  "Consent is not on record for every voice clip used."),
                    "clips": [{"speaker": c.speaker, "clip": c.clip, "consent_confirmed": bool(c.confirmed_at),
                               "confirmed_at": c.confirmed_at, "own_voice": c.own_voice} for c in consents],
                },
                "watermark": {
                    "name": f"{WATERMARK_NAME} implicit watermark (Resemble AI, resemble-perth)",
                    "lines": lines,
                    "lines_without": [{"line": k, "reason": v} for k, v in unmarked.items()],
                },
            }},
        ],
    }


def _unmarked_lines(project: Project, store: TakeStore | None) -> tuple[dict[str, str], int]:
    """Lines whose chosen take has no watermark (with the take's reason), and the line count."""
    if store is None:
        return {}, 0
    unmarked, utterances = {}, project.script().utterances
    for n, u in enumerate(utterances):
        key = project.line(n).chosen_take
        info = store.info(key) if key else None
        if info is not None and info.watermark != WATERMARK_NAME:
            unmarked[str(u.line)] = info.watermark or "made before takes were watermarked; render it again"
    return unmarked, len(utterances)


def sign_file(path: Path, definition: dict, credentials: Credentials) -> None:
    """Embed a signed manifest in ``path`` (atomically: on any failure the file is unchanged).

    Raises:
        SigningError: c2pa could not sign or write the file.
    """
    import c2pa

    mime = AUDIO_TYPES[path.suffix.lower()]
    try:
        signer = c2pa.Signer.from_info(credentials.signer_info())
        with signer, c2pa.Builder.from_json(definition) as builder, open(path, "rb") as source:
            atomic_write(path, lambda out: builder.sign(signer, mime, source, out))
    except c2pa.C2paError as exc:
        raise SigningError(f"{path.name} could not be signed ({exc}).") from None


def read_manifest(path: str | Path) -> dict | None:
    """The active manifest of ``path`` as c2pa reads it (with ``validation_state``), or None."""
    import c2pa

    path = Path(path)
    mime = AUDIO_TYPES.get(path.suffix.lower())
    if mime is None:
        return None
    try:
        with open(path, "rb") as fh, c2pa.Reader(mime, fh) as reader:
            store = json.loads(reader.json())
            active = store["manifests"][store["active_manifest"]]
            active["validation_state"] = reader.get_validation_state()
            active["validation_status"] = store.get("validation_status", [])
            return active
    except (c2pa.C2paError, KeyError, OSError):
        return None


def sign_exports(paths: Sequence[Path], project: Project, store: TakeStore | None, library: VoiceLibrary | None,
                 settings: Settings | None = None) -> list[str]:
    """Sign every exported file that can carry a manifest. Never raises for a file: a file that
    could not be signed stays as exported, and a :class:`CredentialNotice` says why.

    Returns: one line per file, and notices (about the key, or formats that carry none).
    """
    audio = [Path(p) for p in paths if Path(p).suffix.lower() not in _SUBTITLES]
    signable = [p for p in audio if p.suffix.lower() in AUDIO_TYPES]
    news: list[str] = []
    for p in audio:
        if p not in signable:
            news.append(CredentialNotice(
                f"{p.name}: {p.suffix.lstrip('.').upper()} files cannot carry content credentials (C2PA) yet; the "
                "watermark in its audio still marks it as AI speech. Export WAV, FLAC or MP3 for credentials."))
    if not signable:
        return news
    try:
        credentials = signing_credentials(settings or Settings.load())
    except CsmError as exc:
        return news + [CredentialNotice(f"Exported without content credentials: {exc}")]
    news += [CredentialNotice(n) for n in credentials.notices]
    consents = voice_consents(project, library)
    unmarked, lines = _unmarked_lines(project, store)
    for p in signable:
        try:
            sign_file(p, manifest(p.name, consents, unmarked, lines), credentials)
        except CsmError as exc:
            news.append(CredentialNotice(f"{p.name} was exported without content credentials: {exc}"))
            continue
        news.append(f"{p.name}: content credentials signed with {credentials.signer}")
    return news
