"""TakeCheck as stored beside a take: JSON round trip, validation (fuzzed), the store's sidecar."""

from __future__ import annotations

import json
import math

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from csm_desktop.dialogue.checks import PROBLEMS, CheckError, TakeCheck
from csm_desktop.dialogue.takes import TakeInfo, TakeStore

KEY = "0123456789abcdef01234567"


def _check(**changes) -> TakeCheck:
    fields = dict(duration_s=5.0, speech_start_s=0.1, speech_end_s=4.2, trailing_nonspeech_s=0.8,
                  longest_silence_s=0.3, expected_s=3.0, trim_start_s=0.0, trim_end_s=4.35,
                  problems=["extra_words"], score=0.71, recognizer="whisper:tiny", transcript="Hello there you.",
                  word_error_rate=0.5, missing_end_words=[], extra_words=["you"], voice_similarity=0.86)
    fields.update(changes)
    return TakeCheck(**fields)


def test_a_check_round_trips_through_json():
    check = _check()
    assert TakeCheck.from_json(json.loads(json.dumps(check.to_json()))) == check


def test_an_empty_take_has_no_speech_times():
    check = _check(speech_start_s=None, speech_end_s=None, problems=["empty"], score=0.0)
    assert TakeCheck.from_json(check.to_json()) == check


@pytest.mark.parametrize("field, value, message", [
    ("score", 1.5, "score must be a number from 0 to 1"),
    ("score", True, "score must be a number"),
    ("duration_s", -1, "duration_s must be a number from 0"),
    ("speech_end_s", 9.0, "speech_end_s must be a number from 0.1 to 5"),
    ("speech_start_s", None, "both or neither"),
    ("trim_end_s", 6.0, "trim_end_s"),
    ("problems", ["too_loud"], "problems must hold one of empty"),
    ("problems", ["empty", "empty"], "a problem twice"),
    ("voice_similarity", 2.0, "voice_similarity must be a number from -1 to 1 or null"),
    ("word_error_rate", float("nan"), "word_error_rate"),
    ("transcript", 7, "transcript must be text"),
    ("extra_words", [""], "extra_words must hold words"),
    ("version", 2, "version must be a whole number from 1 to 1"),
    ("surprise", 1, "unknown fields: surprise"),
])
def test_invalid_fields_are_refused_by_name(field, value, message):
    data = _check().to_json()
    data[field] = value
    with pytest.raises(CheckError, match=message):
        TakeCheck.from_json(data)


_scalar = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
_json = st.deferred(lambda: _scalar | st.lists(_json, max_size=3) | st.dictionaries(st.text(max_size=8), _json,
                                                                                     max_size=3))
_FIELDS = list(_check().to_json()) + ["other"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(_FIELDS), _json | st.sampled_from(PROBLEMS)), min_size=1, max_size=3))
def test_fuzzed_fields_give_a_check_or_a_check_error(changes):
    data = _check().to_json()
    for name, value in changes:
        data[name] = value
    try:
        check = TakeCheck.from_json(data)
    except CheckError as exc:
        assert str(exc).startswith("A take check")
        return
    assert 0 <= check.score <= 1 and set(check.problems) <= set(PROBLEMS)
    assert check.speech_end_s is None or check.speech_start_s <= check.speech_end_s <= check.duration_s
    assert TakeCheck.from_json(json.loads(json.dumps(check.to_json()))) == check


@settings(max_examples=100, deadline=None)
@given(_json)
def test_fuzzed_whole_documents_give_a_check_or_a_check_error(data):
    try:
        TakeCheck.from_json(data)
    except CheckError:
        pass


_seconds = st.floats(0, 100, allow_nan=False)


@settings(max_examples=100, deadline=None)
@given(st.tuples(_seconds, _seconds, _seconds, _seconds), st.lists(st.sampled_from(PROBLEMS), unique=True),
       st.floats(0, 1), st.none() | st.floats(-1, 1), st.none() | st.floats(0, 50), st.text(max_size=50))
def test_every_valid_check_round_trips(times, problems, score, similarity, wer, transcript):
    a, b, c, d = sorted(times)
    check = _check(duration_s=d, speech_start_s=a, speech_end_s=c, trim_start_s=b, trim_end_s=c,
                   trailing_nonspeech_s=d - c, longest_silence_s=b - a, problems=problems, score=score,
                   voice_similarity=similarity, word_error_rate=wer, transcript=transcript)
    again = TakeCheck.from_json(json.loads(json.dumps(check.to_json())))
    assert again == check and not any(isinstance(v, float) and math.isnan(v) for v in again.to_json().values())


def _store_with_take(tmp_path) -> TakeStore:
    store = TakeStore(tmp_path / "takes", 24_000)
    store.folder.mkdir()
    info = TakeInfo(key=KEY, line_text="Hi.", speaker="Alice", csm_id=0, variant=0, seed=1, duration=0.5, frames=7)
    store.save(info, torch.zeros(12_000))
    return store


def test_the_store_keeps_a_check_beside_the_take(tmp_path):
    store = _store_with_take(tmp_path)
    assert store.check(KEY) is None  # not checked yet (every take made before checks existed)
    store.save_check(KEY, _check())
    assert store.check(KEY) == _check()
    assert store.info(KEY).line_text == "Hi."  # the take's own record is untouched
    store.save(store.info(KEY), torch.zeros(12_000))  # new audio for the key: the old verdict goes
    assert store.check(KEY) is None


def test_a_malformed_stored_check_reads_as_unchecked(tmp_path):
    store = _store_with_take(tmp_path)
    path = store.folder / f"{KEY}.check.json"
    for text in ("{", '{"score": 2}', "[]", '{"duration_s": 1e999}'):
        path.write_text(text)
        assert store.check(KEY) is None
    assert store.has(KEY) and store.takes_for("Hi.", "Alice")[0].key == KEY


def test_checks_are_stored_only_for_takes_on_disk(tmp_path):
    from csm_desktop.dialogue.takes import TakeError

    store = _store_with_take(tmp_path)
    with pytest.raises(TakeError, match="no take"):
        store.save_check("f" * 24, _check())
    assert store.check("../../etc") is None
