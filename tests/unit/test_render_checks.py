"""A render's takes carry their checks (run beside the render), best of N keeps every candidate and
chooses the best score, "re-render lines with problems" redoes exactly those lines, and a stop
keeps finished checks without waiting for the rest. Fake engine (tones); the checks' scores are
set by the test where a choice depends on them."""

from __future__ import annotations

import json
import threading
import time

import pytest
import torch

from csm_desktop.dialogue import checking
from csm_desktop.dialogue.checking import best_take, problem_lines
from csm_desktop.dialogue.checks import TakeCheck
from csm_desktop.dialogue.parallel import render_parallel
from csm_desktop.dialogue.project import Project, ProjectError
from csm_desktop.dialogue.render import Renderer
from csm_desktop.engine.generator import Candidate
from csm_desktop.errors import CsmError
from fakes.engine import FakeEngine

SCRIPT = "Alice: Hey, how are you doing?\nBob: Pretty good, pretty good.\nAlice: Glad to hear it.\n"


@pytest.fixture
def project(tmp_path):
    p = Project.new(SCRIPT)
    p.save(tmp_path / "demo")
    return p


def _check(score: float, problems=()) -> TakeCheck:
    return TakeCheck(duration_s=1.0, speech_start_s=0.1, speech_end_s=0.9, trailing_nonspeech_s=0.1,
                     longest_silence_s=0.0, expected_s=1.0, trim_start_s=0.0, trim_end_s=1.0,
                     problems=list(problems), score=score)


class ScoredChecks:
    """Stands in for check_take: the score (and problems) of each take from ``rule(call, text)``,
    ``call`` counting the checks made so far (one worker thread: in submission order)."""

    def __init__(self, rule) -> None:
        self.rule, self.calls = rule, []

    def __call__(self, audio, sample_rate, text, **kwargs):
        self.calls.append(text)
        score, problems = self.rule(len(self.calls) - 1, text)
        return _check(score, problems)


def _takes_of(renderer: Renderer, line: int):
    u = renderer.utterances[line]
    return renderer.store.takes_for(u.text, u.speaker)


# ----- every take carries its checks --------------------------------------------------------------
def test_every_rendered_take_has_its_check_stored_and_reported(project):
    events = []
    renderer = Renderer(project, FakeEngine())
    report = renderer.render(on_progress=events.append)
    keys = [project.line(i).chosen_take for i in range(3)]
    checked = [e for e in events if e.state == "checked"]
    assert sorted(e.key for e in checked) == sorted(keys) and sorted(e.line for e in checked) == [0, 1, 2]
    assert set(report.checks) == set(keys) and not report.check_errors
    for key in keys:
        stored = renderer.store.check(key)
        assert stored is not None and stored == report.checks[key]
        assert stored.problems == ["empty"]  # the fake engine's tones hold no speech: the real VAD says so
    # a tone take is used whole: no speech, nothing to trim
    info = renderer.store.info(keys[0])
    assert info.trim_start_s == 0.0 and info.trim_end_s == pytest.approx(info.duration)


def test_a_take_left_unchecked_is_checked_when_a_later_render_reuses_it(project):
    renderer = Renderer(project, FakeEngine())
    renderer.render()
    key = project.line(1).chosen_take
    (project.takes_dir / f"{key}.check.json").unlink()
    engine = FakeEngine()
    report = Renderer(project, engine).render()
    assert engine.calls == [] and report.reused == [0, 1, 2]
    assert list(report.checks) == [key] and renderer.store.check(key) is not None


def test_a_failing_recognizer_fails_once_and_the_other_checks_go_on(project):
    class Broken:
        name = "broken"
        calls = 0

        def transcribe(self, audio, sample_rate):
            Broken.calls += 1
            raise CsmError("no network")

    # a take with speech reaches the recognizer; the tones are "empty" before it, so check speech
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("csm_desktop.dialogue.checks.vad.detect_speech", _speech_everywhere)
        report = Renderer(project, FakeEngine()).render(recognizer=Broken())
    assert Broken.calls == 1 and len(report.checks) == 3
    assert list(report.check_errors.values()) == [
        "The words could not be checked (no network); the other checks go on without them. Choose another "
        "recognizer in Settings, or none."]
    assert all(c.recognizer is None for c in report.checks.values())


def _speech_everywhere(audio, sample_rate):
    from csm_desktop.dialogue.vad import SpeechActivity, mono_float

    seconds = mono_float(audio).numel() / sample_rate
    return SpeechActivity(seconds, ((0.0, seconds),), (-10.0,))


def test_a_check_that_is_a_bug_is_raised_once_the_takes_are_stored(project, monkeypatch):
    def broken(*args, **kwargs):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(checking, "check_take", broken)
    with pytest.raises(ZeroDivisionError):
        Renderer(project, FakeEngine()).render()
    assert all(project.line(i).chosen_take for i in range(3))  # the render went on to the end


# ----- best of N ---------------------------------------------------------------------------------
@pytest.mark.parametrize("bad", [0, 9, "3", True, 2.0])
def test_best_of_must_be_1_to_8(bad):
    data = Project.new("A: hi").to_json()
    data["settings"]["best_of"] = bad
    with pytest.raises(ProjectError, match="settings.best_of must be a whole number between 1 and 8"):
        Project.from_json(data)


def test_best_of_keeps_every_candidate_and_chooses_the_best_score(project, monkeypatch):
    scores = [0.4, 0.9, 0.6]  # per line, candidates in order: the second is best
    fake = ScoredChecks(lambda n, text: (scores[n % 3], [] if n % 3 == 1 else ["clipped_end"]))
    monkeypatch.setattr(checking, "check_take", fake)
    project.settings.best_of = 3
    engine = FakeEngine()
    renderer = Renderer(project, engine)
    report = renderer.render()
    assert report.generated == [0, 1, 2]
    assert len(engine.calls) == 9  # no batch call on this engine: one take after another
    for i in range(3):
        plan = renderer.plan(i)
        takes = sorted(_takes_of(renderer, i), key=lambda t: t.candidate)
        assert [t.key for t in takes] == plan.candidate_keys[:3]
        assert [t.candidate for t in takes] == [0, 1, 2] and [t.seed for t in takes] == [plan.seed + c for c in range(3)]
        assert project.line(i).chosen_take == plan.candidate_keys[1] == project.line(i).auto_choice
    assert [c["seed"] for c in engine.calls[:3]] == [renderer.plan(0).seed + c for c in range(3)]
    assert renderer.statuses() == ["done"] * 3
    saved = Project.open(project.save().parent)
    assert saved.settings.best_of == 3 and saved.line(1).auto_choice == project.line(1).chosen_take


def test_raising_best_of_adds_candidates_and_keeps_the_first_take(project, monkeypatch):
    # the first takes score better than the second candidates: the choice (and the context) stays
    monkeypatch.setattr(checking, "check_take", ScoredChecks(lambda n, text: (0.9 if n < 3 else 0.5, [])))
    Renderer(project, FakeEngine()).render()
    first = [project.line(i).chosen_take for i in range(3)]
    project.settings.best_of = 2
    engine = FakeEngine()
    renderer = Renderer(project, engine)
    report = renderer.render()
    assert len(engine.calls) == 3 and report.generated == [0, 1, 2]  # only the second candidates are new
    assert [renderer.plan(i).candidate_keys[0] for i in range(3)] == first
    assert [project.line(i).chosen_take for i in range(3)] == first


def test_the_users_choice_among_candidates_is_kept(project, monkeypatch):
    monkeypatch.setattr(checking, "check_take", ScoredChecks(lambda n, text: (0.9 if n % 2 == 0 else 0.5, [])))
    project.settings.best_of = 2
    renderer = Renderer(project, FakeEngine())
    renderer.render()
    auto = project.line(1).chosen_take
    other = renderer.plan(1).candidate_keys[1]
    assert auto == renderer.plan(1).candidate_keys[0] and other != auto
    project.line(1).chosen_take = other  # the user prefers the other candidate
    engine = FakeEngine()
    report = Renderer(project, engine).render()
    # line 2's context changed with line 1's take: it renders again; line 1 keeps the user's choice
    assert report.reused == [0, 1] and project.line(1).chosen_take == other and project.line(1).auto_choice == auto


class BatchEngine(FakeEngine):
    """A fake with the local engine's candidates call: one batch of codes, decoded on demand."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[dict] = []

    def generate_candidates(self, text, speaker, context=(), num_candidates=4, max_audio_length_ms=90_000,
                            temperature=0.9, topk=50, seed=None, should_stop=None):
        self.batches.append({"text": text, "n": num_candidates, "seed": seed})
        frames = max(1, int(len(text) * self.frames_per_char))
        return [Candidate(seed + b, torch.full((32, frames), seed + b, dtype=torch.long)) for b in range(num_candidates)]

    def decode_codes(self, codes):
        seed = int(codes[0, 0])
        return torch.cat(list(self.stream("x" * int(codes.shape[1] / self.frames_per_char), 0, seed=seed)))


def test_an_engine_with_a_candidates_call_renders_a_line_as_one_batch(project, monkeypatch):
    monkeypatch.setattr(checking, "check_take", ScoredChecks(lambda n, text: (1.0 - 0.1 * (n % 4), [])))
    project.settings.best_of = 4
    engine = BatchEngine()
    renderer = Renderer(project, engine)
    renderer.render()
    assert [(b["n"], b["seed"]) for b in engine.batches] == [(4, renderer.plan(i).seed) for i in range(3)]
    for i in range(3):
        assert len(_takes_of(renderer, i)) == 4
        assert project.line(i).chosen_take == renderer.plan(i).candidate_keys[0]


def test_best_take_prefers_the_score_then_the_earliest():
    assert best_take([("a", _check(0.5)), ("b", _check(0.7)), ("c", _check(0.7))]) == "b"
    assert best_take([("a", None), ("b", _check(0.0))]) == "b"
    assert best_take([("a", None), ("b", None)]) == "a"


# ----- re-render lines with problems -------------------------------------------------------------
def _problems_on(words: str, scores: dict[str, float]):
    """Checks that flag takes of lines containing ``words``; their score comes from ``scores``
    by how many such takes were checked before (``"first"``, ``"later"``)."""
    seen = {"n": 0}

    def rule(n, text):
        if words not in text:
            return 1.0, []
        seen["n"] += 1
        score = scores["first"] if seen["n"] == 1 else scores["later"]
        return score, ["runaway_tail"] if score < 0.8 else []
    return ScoredChecks(rule)


def test_redo_problems_renders_exactly_those_lines_with_a_new_seed(project, monkeypatch):
    monkeypatch.setattr(checking, "check_take", _problems_on("Pretty", {"first": 0.4, "later": 0.95}))
    renderer = Renderer(project, FakeEngine())
    renderer.render()
    store = renderer.store
    old = project.line(1).chosen_take
    found = problem_lines(project, store)
    assert list(found) == [1] and found[1].problems == ["runaway_tail"]
    engine = FakeEngine()
    report = Renderer(project, engine).render(sorted(found), force=True, keep_better=True)
    assert [c["text"] for c in engine.calls] == ["Pretty good, pretty good."]
    assert report.generated == [1] and project.line(1).variant == 1
    new = project.line(1).chosen_take
    assert new != old and store.has(old) and problem_lines(project, store) == {}
    assert project.line(1).auto_choice == new


def test_redo_keeps_the_earlier_take_when_the_new_one_is_worse_and_tries_another_seed_next(project, monkeypatch):
    monkeypatch.setattr(checking, "check_take", _problems_on("Pretty", {"first": 0.5, "later": 0.3}))
    renderer = Renderer(project, FakeEngine())
    renderer.render()
    old = project.line(1).chosen_take
    engine = FakeEngine()
    render_parallel(project, [engine], lines=list(problem_lines(project, renderer.store)), force=True,
                    keep_better=True)
    assert len(engine.calls) == 1 and project.line(1).chosen_take == old
    assert project.line(1).variant == 0 and renderer.statuses() == ["done", "done", "done"]
    # the next redo does not render the worse variant again: a third seed
    engine = FakeEngine()
    Renderer(project, engine).render([1], force=True, keep_better=True)
    seeds = {t.seed for t in _takes_of(renderer, 1)}
    assert len(engine.calls) == 1 and len(seeds) == 3
    assert project.line(1).chosen_take == old  # worse again: still the first take


def test_regenerate_after_choosing_an_older_take_makes_a_new_take(project):
    renderer = Renderer(project, FakeEngine())
    renderer.render()
    first = project.line(1).chosen_take
    renderer.render([1], force=True)
    project.line(1).chosen_take, project.line(1).variant = first, 0  # the user goes back to the first take
    renderer.render([1], force=True)
    assert len(_takes_of(renderer, 1)) == 3 and project.line(1).variant == 2


# ----- stop while checks run ---------------------------------------------------------------------
def test_stop_keeps_finished_checks_and_does_not_wait_for_the_rest(project, monkeypatch):
    release = threading.Event()
    started = []

    def slow(audio, sample_rate, text, **kwargs):
        started.append(text)
        release.wait(timeout=30)  # the first check runs until the test lets it finish
        return _check(0.8)

    monkeypatch.setattr(checking, "check_take", slow)
    stop = threading.Event()
    done = []

    def on_progress(e):
        if e.state == "done":
            done.append(e.line)
            if len(done) == 2:
                stop.set()
                threading.Timer(0.3, release.set).start()

    t0 = time.monotonic()
    report = Renderer(project, FakeEngine()).render(on_progress=on_progress, should_stop=stop.is_set)
    assert report.stopped and report.generated == [0, 1]
    assert time.monotonic() - t0 < 10
    # the running check finished and was stored; the one queued behind it was dropped
    assert started == ["Hey, how are you doing?"]
    store = Renderer(project, FakeEngine()).store
    assert store.check(project.line(0).chosen_take) is not None
    assert store.check(project.line(1).chosen_take) is None
    # the next render reuses both takes and checks the one left unchecked
    monkeypatch.setattr(checking, "check_take", lambda *a, **k: _check(0.9))
    report = Renderer(project, FakeEngine()).render()
    assert report.reused == [0, 1] and report.generated == [2]
    assert store.check(project.line(1).chosen_take).score == 0.9


def test_stop_while_best_of_waits_for_its_checks_ends_the_render_at_once(project, monkeypatch):
    release = threading.Event()

    def blocked(*args, **kwargs):
        release.wait(timeout=30)
        return _check(0.5)

    monkeypatch.setattr(checking, "check_take", blocked)
    project.settings.best_of = 2
    stop = threading.Event()
    threading.Timer(0.5, stop.set).start()
    t0 = time.monotonic()
    try:
        report = Renderer(project, FakeEngine()).render(should_stop=stop.is_set)
    finally:
        release.set()
    assert report.stopped and report.generated == [] and time.monotonic() - t0 < 10
    # both candidates of the first line are on disk; none was chosen yet
    assert project.line(0).chosen_take is None
    assert len(list(project.takes_dir.glob("*.wav"))) == 2


def test_project_json_keeps_auto_choice_and_refuses_a_malformed_one(project):
    project.line(0).auto_choice = "ab" * 12
    data = json.loads(json.dumps(project.to_json()))
    assert Project.from_json(data).line(0).auto_choice == "ab" * 12
    data["lines"]["0"]["auto_choice"] = "../x"
    with pytest.raises(ProjectError, match=r"lines\[0\].auto_choice must be text of the form 24 hex digits"):
        Project.from_json(data)


def test_a_parallel_render_checks_every_take_once_and_its_events_never_overlap(tmp_path):
    script = "".join(f"[scene {s}]\nAlice: Scene {s} opens.\nBob: Scene {s} closes.\n" for s in range(4))
    project = Project.new(script)
    project.save(tmp_path / "scenes")
    inside, overlaps, events = [], [], []

    def on_progress(e):
        if inside:
            overlaps.append(e)
        inside.append(e)
        time.sleep(0.001)
        events.append(e)
        inside.pop()

    report = render_parallel(project, [FakeEngine() for _ in range(3)], on_progress=on_progress)
    keys = {project.line(i).chosen_take for i in range(8)}
    assert len(keys) == 8 and set(report.checks) == keys and not overlaps
    assert sorted(e.key for e in events if e.state == "checked") == sorted(keys)
