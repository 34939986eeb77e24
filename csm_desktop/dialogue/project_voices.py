"""Portable projects: a project folder carries copies of the voice clips its speakers use
(``voices/<clip id>.wav`` and ``voices/voices.json`` with their names and transcripts), written on
save; opened where the voice library lacks them, they are brought into that library.

A clip's file is copied byte for byte, so its audio hash, and with it the Mimi codes cache and
the keys of the takes rendered with it, is the same on every machine. A clip's audio never
changes under its id, so a copy that exists is up to date.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from csm_desktop.dialogue.project import Project
from csm_desktop.dialogue.voices import ClipError, VoiceLibrary
from csm_desktop.errors import CsmError
from csm_desktop.fileio import atomic_write, atomic_write_text, remove_stale_parts
from csm_desktop.wording import count_of

VOICES_DIR = "voices"
INDEX_FILE = "voices.json"
_ID = re.compile(r"[0-9a-f]{32}")
MAX_INDEX_BYTES = 4_000_000


@dataclass
class RestoredVoices:
    """What opening a project did to the library: clips brought in from the project folder, and
    clips neither the library nor the folder holds (their speakers have no voice)."""

    restored: list[str] = field(default_factory=list)  # clip names
    missing: list[str] = field(default_factory=list)  # "Speaker: clip name or id"
    problems: list[str] = field(default_factory=list)

    def message(self) -> str:
        parts = []
        if self.restored:
            parts.append(f"Added {count_of(len(self.restored), 'voice clip')} from the project to your library: "
                         f"{', '.join(self.restored)}.")
        if self.missing:
            parts.append(f"{count_of(len(self.missing), 'voice clip')} of this project {'is' if len(self.missing) == 1 else 'are'} neither in your library nor in "
                         f"the project folder ({'; '.join(self.missing)}). Import the recordings again and give "
                         "them to the speakers.")
        return " ".join(parts + self.problems)


def used_clip_ids(project: Project) -> list[str]:
    return list(dict.fromkeys(c for s in project.speakers for c in s.clip_ids))


def write_project_voices(project: Project, library: VoiceLibrary) -> list[str]:
    """Copy the clips the project's speakers use into its folder and list them; copies of clips
    no longer used are removed. Returns the problems (a clip the library lost), each a sentence.

    Raises: WriteError (DiskFullError): the folder could not be written.
    """
    if project.folder is None:
        raise CsmError("Save the project first: its voice clips are copied into the project folder.")
    folder = project.folder / VOICES_DIR
    ids = used_clip_ids(project)
    if not ids and not folder.exists():
        return []
    folder.mkdir(parents=True, exist_ok=True)
    remove_stale_parts(folder)
    entries, problems = [], []
    for clip_id in ids:
        try:
            clip = library.get(clip_id)
        except CsmError as exc:
            known = _read_index(folder).get(clip_id)
            if known is not None and (folder / f"{clip_id}.wav").is_file():
                entries.append(known)  # the folder still has it: keep it for the next machine
            else:
                problems.append(str(exc))
            continue
        dest = folder / f"{clip_id}.wav"
        if not dest.is_file():
            atomic_write(dest, lambda fh, src=clip.path: _copy(src, fh))
        entries.append({"id": clip.id, "name": clip.name, "transcript": clip.transcript,
                        "audio_hash": clip.audio_hash})
    keep = {f"{e['id']}.wav" for e in entries}
    for old in folder.glob("*.wav"):
        if _ID.fullmatch(old.stem) and old.name not in keep:
            old.unlink(missing_ok=True)
    text = json.dumps({"clips": entries}, indent=2, ensure_ascii=False) + "\n"
    atomic_write_text(folder / INDEX_FILE, text)
    return problems


def _copy(src: Path, fh) -> None:
    with open(src, "rb") as source:
        shutil.copyfileobj(source, fh)


def _read_index(folder: Path) -> dict[str, dict]:
    """``voices.json``'s usable entries by clip id; a damaged file or entry is skipped (the
    clips it names then count as missing), never trusted for a path."""
    path = folder / INDEX_FILE
    try:
        if not path.is_file() or path.stat().st_size > MAX_INDEX_BYTES:
            return {}
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        return {}
    entries = data.get("clips") if isinstance(data, dict) else None
    out = {}
    for e in entries if isinstance(entries, list) else []:
        if (isinstance(e, dict) and isinstance(e.get("id"), str) and _ID.fullmatch(e["id"])
                and isinstance(e.get("name"), str) and isinstance(e.get("transcript", ""), str)):
            out[e["id"]] = {"id": e["id"], "name": e["name"][:200], "transcript": e.get("transcript", ""),
                            "audio_hash": e.get("audio_hash", "")}
    return out


def restore_project_voices(project: Project, library: VoiceLibrary) -> RestoredVoices:
    """Bring the clips the project uses and the library lacks in from the project folder. A clip
    whose audio the library already holds under another id is used by that id (the project's
    speakers are changed in memory; the project is not marked changed by it)."""
    report = RestoredVoices()
    if project.folder is None:
        return report
    folder = project.folder / VOICES_DIR
    index = _read_index(folder)
    for speaker in project.speakers:
        for n, clip_id in enumerate(list(speaker.clip_ids)):
            try:
                library.get(clip_id)
                continue
            except ClipError:
                pass
            except CsmError as exc:  # the library itself cannot be read: said once
                report.problems.append(str(exc))
                return report
            entry = index.get(clip_id)
            file = folder / f"{clip_id}.wav"
            if entry is None or not file.is_file():
                report.missing.append(f"{speaker.name}: {entry['name'] if entry else clip_id}")
                continue
            try:
                clip = library.adopt_file(file, clip_id, entry["name"], entry["transcript"])
            except CsmError as exc:
                report.problems.append(f"{entry['name']} could not be added to the library: {exc}")
                continue
            speaker.clip_ids[n] = clip.id
            if clip.id == clip_id:
                report.restored.append(clip.name)
    return report
