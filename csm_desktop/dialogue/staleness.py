"""Each line's state (no take, current, out of date) and, for an out-of-date line, why: "line 3
changed", "Alice's voice clips changed", "settings changed (temperature)".

With an engine's planning facts the state is exact: the line's plan gives the key its take
would have now (:class:`~csm_desktop.dialogue.render.Renderer`). Without them (a project just
opened, the model not loaded yet) the chosen take's own record is compared with the line as it
is now: its words and speaker, the takes it had as context, and whatever of its recipe can be
known without the model (voices, settings, seed). A take renders as current only when nothing
known says otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from csm_desktop.dialogue.project import Project
from csm_desktop.dialogue.render import (
    Renderer,
    SpeechEngine,
    cap_part,
    clip_parts,
    line_chunks,
    line_seed,
    line_temperature,
    voice_clips,
)
from csm_desktop.dialogue.script import Utterance
from csm_desktop.dialogue.takes import TakeInfo, TakeStore
from csm_desktop.dialogue.voices import VoiceLibrary
from csm_desktop.errors import CsmError

SETTING_NAMES = {"topk": "top-k", "max_line_ms": "longest line"}


@dataclass(frozen=True)
class LineStatus:
    state: str  # "none" (no take), "done" (its take is current) or "stale"
    reason: str = ""  # why a stale line is stale, in the editor's line numbers
    problems: str = ""  # what the checks of its take found ("": none, or not checked)

    @property
    def note(self) -> str:
        """What the line's tooltip says: its state and why."""
        return f"Out of date: {self.reason}" if self.state == "stale" else ""


def line_statuses(project: Project, store: TakeStore | None, library: VoiceLibrary | None,
                  engine: SpeechEngine | None = None) -> list[LineStatus]:
    """Every utterance's status; ``engine``: the facts of the engine that will render (exact
    keys), or None to judge from the takes' records alone. ``project`` may gain speakers (a
    script tag without one): pass a copy."""
    utterances = project.script().utterances
    if store is None:
        return [LineStatus("none") for _ in utterances]
    try:
        clips = voice_clips(project, library)
    except CsmError as exc:  # a missing clip: every rendered line is out of date until it is fixed
        clips = None
        missing = str(exc)
    renderer = Renderer(project, engine, library) if engine is not None and clips is not None else None
    out: list[LineStatus] = []
    for i, u in enumerate(utterances):
        chosen = project.line(i).chosen_take
        if not chosen or not store.has(chosen):
            out.append(LineStatus("none"))
            continue
        info = store.info(chosen)
        if info is None:
            out.append(LineStatus("stale", "its take's record could not be read"))
            continue
        if clips is None:
            out.append(LineStatus("stale", missing))
            continue
        # Its own words first, then what else went into its take, then the lines it heard.
        reasons = _own_changes(u, info)
        if renderer is not None:
            plan = renderer.plan(i, clips)
            reasons = reasons or _recipe_changes(project, i, plan.parts, info)
            reasons = reasons or _context_changes(utterances, out, plan.context, plan.context_keys, info)
            if not reasons and chosen not in plan.candidate_keys and not renderer.is_current(i, chosen, clips):
                reasons = ["it was made with other voices or settings"]
        else:
            reasons = reasons or _recipe_changes(project, i, _known_parts(project, i, u, clips), info)
            reasons = reasons or _recorded_context_changes(project, utterances, out, i, info)
        out.append(LineStatus("stale", "; ".join(dict.fromkeys(reasons))) if reasons else LineStatus("done"))
    return out


def _own_changes(u: Utterance, info: TakeInfo) -> list[str]:
    if info.speaker != u.speaker:
        return [f"its speaker changed (the take is {info.speaker}'s)"]
    if info.line_text != u.text:
        return ["its words changed"]
    return []


def _context_changes(utterances: list[Utterance], out: list[LineStatus], context: list[int],
                     keys: list[str], info: TakeInfo) -> list[str]:
    """Lines before it that are out of date, or whose takes are not the ones it heard."""
    for j, key in zip(context, keys):
        if out[j].state != "done" or key not in info.context:
            return [f"line {utterances[j].line} changed"]
    if len(info.context) > len(keys):
        return ["the lines before it changed"]
    return []


def _recorded_context_changes(project: Project, utterances: list[Utterance], out: list[LineStatus], i: int,
                              info: TakeInfo) -> list[str]:
    """Without the engine: the takes it heard must still be the chosen takes of the lines just
    before it, and those lines current."""
    start = i - len(info.context)
    if start < 0:
        return ["the lines before it changed"]
    for j, key in zip(range(start, i), info.context):
        if out[j].state != "done" or project.line(j).chosen_take != key:
            return [f"line {utterances[j].line} changed"]
    return []


def _known_parts(project: Project, i: int, u: Utterance, clips) -> dict[str, Any]:
    """What of a take's key is known without the engine."""
    s = project.settings
    return {"text": u.text, "csm_id": project.speaker(u.speaker).csm_id, "clips": clip_parts(clips),
            "temperature": line_temperature(project, i), "topk": s.topk, "max_line_ms": cap_part(s, line_chunks(s, u.text)[1]),
            "seed": line_seed(project, i, u)}


def _recipe_changes(project: Project, i: int, now: dict[str, Any], info: TakeInfo) -> list[str]:
    """What differs between the key's inputs now and those the take was made from. A take from
    before takes kept their inputs is compared on what its record has (its seed)."""
    then = info.inputs or {"csm_id": info.csm_id, "seed": info.seed}
    changed = [name for name in now if name in then and then[name] != now[name] and name not in ("text", "context")]
    reasons = []
    if "model" in changed:
        reasons.append("the model changed")
    if "csm_id" in changed:
        reasons.append("its speaker's CSM id changed")
    if "clips" in changed:
        reasons.append(_voices_changed(project, then["clips"], now["clips"]))
    own_temperature = project.line(i).temperature is not None
    settings = [("this line's temperature" if own_temperature else "temperature") if n == "temperature"
                else SETTING_NAMES[n] for n in ("temperature", "topk", "max_line_ms") if n in changed]
    if settings:
        reasons.append(f"settings changed ({', '.join(settings)})")
    if "seed" in changed:
        reasons.append("its seed changed" if project.line(i).seed is not None else "the seed changed")
    return reasons


def _voices_changed(project: Project, then: list, now: list) -> str:
    """ "Alice's voice clips changed": the speakers whose clips (audio or transcript) differ."""
    def by_speaker(parts: list) -> dict[int, list]:
        found: dict[int, list] = {}
        for part in parts:
            if isinstance(part, list) and len(part) == 3:
                found.setdefault(part[2], []).append(part[:2])
        return found

    before, after = by_speaker(then), by_speaker(now)
    ids = [cid for cid in dict.fromkeys([*after, *before]) if before.get(cid) != after.get(cid)]
    names = [s.name for cid in ids for s in project.speakers if s.csm_id == cid][:3]
    if not names:
        return "the voice clips changed"
    who = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    return f"{who}'s voice clips changed" if len(names) == 1 else f"the voice clips of {who} changed"


def with_problems(statuses: list[LineStatus], project: Project, store: TakeStore | None) -> list[LineStatus]:
    """``statuses`` with what the checks of each line's chosen take found, in words."""
    from csm_desktop.dialogue.checking import problem_lines

    problems = problem_lines(project, store) if store is not None else {}

    def reason(n: int) -> str:
        check = problems[n]
        return f"{', '.join(p.replace('_', ' ') for p in check.problems)} (score {check.score:.2f})"

    return [LineStatus(s.state, s.reason, reason(n)) if n in problems else s for n, s in enumerate(statuses)]
