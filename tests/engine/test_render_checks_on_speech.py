"""Rendering with take checks on real speech (espeak-ng through a fake engine) and the real VAD:
the used take is trimmed in context, playback and export while the file stays whole; best of N
chooses the clean candidate; ``render --redo-problems`` and ``say`` from the command line; and best
of N as one batch on the tiny real model."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from csm_desktop import cli
from csm_desktop.dialogue.checking import problem_lines
from csm_desktop.dialogue.export import export_dialogue
from csm_desktop.dialogue.project import Project
from csm_desktop.dialogue.render import Renderer
from csm_desktop.dialogue.vad import LEAD_PAD_S, NATURAL_TAIL_S
from fakes.speech_engine import SpeechFakeEngine

SCRIPT = "Alice: The train leaves at seven.\nBob: Then we should hurry.\nAlice: Yes, let us go now.\n"
R = SpeechFakeEngine.sample_rate


@pytest.fixture
def project(tmp_path):
    p = Project.new(SCRIPT)
    p.settings.default_gap_ms = 200
    p.save(tmp_path / "trip")
    return p


def test_takes_are_used_trimmed_in_context_and_export_and_kept_whole_on_disk(project, tmp_path):
    engine = SpeechFakeEngine(lead_s=0.8, tail_s=0.2, runaway=lambda text, seed: "hurry" in text)
    renderer = Renderer(project, engine)
    report = renderer.render()
    assert report.generated == [0, 1, 2] and len(report.checks) == 3
    store = renderer.store
    keys = [project.line(i).chosen_take for i in range(3)]
    for i, key in enumerate(keys):
        whole = store.load_untrimmed(key)
        check, info = store.check(key), store.info(key)
        assert whole.numel() == engine.calls[i]["samples"]  # the file holds all the engine made
        assert info.trim_start_s == pytest.approx(check.speech_start_s - LEAD_PAD_S, abs=1e-6)
        assert info.trim_end_s == pytest.approx(check.speech_end_s + NATURAL_TAIL_S, abs=1e-6)
        assert 0.5 < info.trim_start_s < 0.8  # most of the 0.8 s of silence before the words is cut
        assert store.load(key).numel() == store.used_length(key) < whole.numel()
    assert problem_lines(project, store).keys() == {1}
    assert "runaway_tail" in store.check(keys[1]).problems
    assert store.info(keys[1]).used_seconds < store.info(keys[1]).duration - 2.5  # the noise tail is not used
    # the next line heard the previous ones as they are used: trimmed
    context = engine.calls[2]["context"]
    assert [s.audio.numel() for s in context] == [store.used_length(keys[0]), store.used_length(keys[1])]
    # the export places the trimmed takes
    out = export_dialogue(project, store, tmp_path / "trip.wav")[0]
    gaps = 2 * int(0.2 * R)
    assert sf.info(str(out)).frames == sum(store.used_length(k) for k in keys) + gaps


def test_best_of_chooses_the_candidate_without_a_runaway_tail(project):
    seeds = {}
    renderer = Renderer(project, SpeechFakeEngine())
    for i in range(3):
        seeds[renderer.utterances[i].text] = renderer.plan(i).seed
    # every candidate but the third runs on into noise
    engine = SpeechFakeEngine(runaway=lambda text, seed: seed - seeds[text] != 2)
    project.settings.best_of = 3
    renderer = Renderer(project, engine)
    renderer.render([0])
    takes = sorted(renderer.store.takes_for(renderer.utterances[0].text, "Alice"), key=lambda t: t.candidate)
    problems = [renderer.store.check(t.key).problems for t in takes]
    assert [("runaway_tail" in p) for p in problems] == [True, True, False]
    assert project.line(0).chosen_take == takes[2].key == project.line(0).auto_choice


def test_cli_render_redo_problems_renders_the_faulty_line_again_and_exports(tmp_path, monkeypatch, capsys):
    script = tmp_path / "trip.txt"
    script.write_text(SCRIPT)
    first = set()

    def runaway(text, seed):  # the first take of the second line runs on; its next take is clean
        if "hurry" in text and text not in first:
            first.add(text)
            return True
        return False

    engine = SpeechFakeEngine(runaway=runaway)
    monkeypatch.setattr(cli, "_render_engines", lambda args, parallel: [engine])
    out = tmp_path / "trip.wav"
    assert cli.main(["render", str(script), "-o", str(out), "--redo-problems", "--recognizer", "none"]) == 0
    err = capsys.readouterr().err
    assert "Rendering 1 line with problems again (the better take is kept): 2" in err
    assert "have problems" not in err
    texts = [c["text"] for c in engine.calls]
    # the redone line, then the line after it, whose context changed
    assert texts == ["The train leaves at seven.", "Then we should hurry.", "Yes, let us go now.",
                     "Then we should hurry.", "Yes, let us go now."]
    assert sf.info(str(out)).frames > 0
    # a second run finds nothing to redo and renders nothing
    engine.calls.clear()
    assert cli.main(["render", str(script), "-o", str(out), "--redo-problems"]) == 0
    assert engine.calls == [] and "with problems" not in capsys.readouterr().err


def test_cli_render_reports_problem_lines_and_best_of_is_validated(tmp_path, monkeypatch, capsys):
    script = tmp_path / "trip.txt"
    script.write_text(SCRIPT)
    monkeypatch.setattr(cli, "_render_engines",
                        lambda args, parallel: [SpeechFakeEngine(runaway=lambda text, seed: "seven" in text)])
    assert cli.main(["render", str(script), "-o", str(tmp_path / "o.wav"), "--best-of", "9"]) == 1
    assert "--best-of must be from 1 to 8, not 9." in capsys.readouterr().err
    assert cli.main(["render", str(script), "-o", str(tmp_path / "o.wav"), "--best-of", "2"]) == 0
    err = capsys.readouterr().err
    assert "Checks: problems in 1 of 3 lines:\n  Line 1: runaway_tail" in err
    assert "--redo-problems" in err


def test_cli_say_checks_the_take_and_writes_it_trimmed(tmp_path, monkeypatch, capsys):
    engine = SpeechFakeEngine(lead_s=1.0, tail_s=0.6)
    monkeypatch.setattr(cli, "_load_engine", lambda args: engine)
    out, whole = tmp_path / "say.wav", tmp_path / "whole.wav"
    assert cli.main(["say", "The train leaves at seven.", "--seed", "3", "-o", str(out)]) == 0
    assert "Checks: no problems (score 1.00)" in capsys.readouterr().err
    assert cli.main(["say", "The train leaves at seven.", "--seed", "3", "--keep-silence", "-o", str(whole)]) == 0
    full = len(engine.take("The train leaves at seven.", 3))
    assert sf.info(str(whole)).frames == full
    assert sf.info(str(out)).frames < full - int(1.2 * R)  # most of 1 s before and 0.6 s after the words cut


def test_best_of_on_the_tiny_model_is_one_batch_a_line_and_keeps_every_candidate(tiny_generator, tmp_path,
                                                                                 monkeypatch):
    calls = []
    batch = tiny_generator.generate_candidates

    def counted(*args, **kwargs):
        calls.append(kwargs["num_candidates"])
        return batch(*args, **kwargs)

    monkeypatch.setattr(tiny_generator, "generate_candidates", counted)
    project = Project.new("Alice: Hi there.\nBob: Hello.\n")
    project.settings.best_of = 3
    project.settings.max_line_ms = 400
    project.settings.cap_from_text = False
    project.save(tmp_path / "tiny")
    renderer = Renderer(project, tiny_generator)
    report = renderer.render()
    assert report.generated == [0, 1] and calls == [3, 3]
    for i in range(2):
        plan = renderer.plan(i)
        for c in range(3):
            info = renderer.store.info(plan.candidate_keys[c])
            assert info is not None and info.candidate == c and info.seed == plan.seed + c
            assert renderer.store.check(info.key) is not None
            assert renderer.store.codes(info.key, tiny_generator.codec_identity) is not None
        assert project.line(i).chosen_take in plan.candidate_keys[:3]
    assert len(report.checks) == 6
    np.testing.assert_array_equal(renderer.statuses(), ["done", "done"])
