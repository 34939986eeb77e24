"""A take's trim points: the store gives the used part (audio and codes), keeps the file whole,
reads takes stored before trimming whole, refuses malformed points; export places the used part."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
import torch

from csm_desktop.dialogue.export import build_timeline, export_dialogue
from csm_desktop.dialogue.project import Project
from csm_desktop.dialogue.takes import TakeInfo, TakeStore, take_key
from csm_desktop.dialogue.vad import FADE_S, TrimPoints

SR = 24_000


def _info(key: str, seconds: float, **changes) -> TakeInfo:
    frames = int(np.ceil(seconds / 0.08))
    return TakeInfo(**{"key": key, "line_text": "Hi.", "speaker": "Alice", "csm_id": 0, "variant": 0, "seed": 1,
                       "duration": seconds, "frames": frames, "codec": "mimi-x", **changes})


@pytest.fixture
def store(tmp_path):
    return TakeStore(tmp_path / "p.csmproj" / "takes", SR)


def _ramp(seconds: float) -> torch.Tensor:
    return torch.linspace(-0.5, 0.5, int(seconds * SR))


def test_load_gives_the_used_part_and_the_file_stays_whole(store):
    key = take_key({"t": 1})
    audio = _ramp(4.0)
    codes = torch.arange(32 * 50).reshape(32, 50) % 2051
    store.save(_info(key, 4.0, trim_start_s=0.5, trim_end_s=2.5), audio, codes)
    used = store.load(key)
    assert used.numel() == 2 * SR == store.used_length(key)
    fade = int(FADE_S * SR)
    assert torch.allclose(used[fade:-fade], audio[SR // 2 + fade:int(2.5 * SR) - fade])
    assert abs(float(used[0])) < 1e-6 and abs(float(used[-1])) < 1e-6  # faded at both cuts
    assert sf.info(str(store.audio_path(key))).frames == 4 * SR  # the untrimmed take stays on disk
    assert torch.equal(store.load_untrimmed(key), audio)
    # codes: the 80 ms frames that cover 0.5-2.5 s (frame 6 starts at 0.48 s; frame 31 ends at 2.56 s)
    assert torch.equal(store.codes(key, "mimi-x"), codes[:, 6:32].long())


def test_a_take_stored_before_trimming_is_used_whole_until_trimmed(store):
    key = take_key({"t": 2})
    store.save(_info(key, 1.0), _ramp(1.0))
    data = json.loads((store.folder / f"{key}.json").read_text())
    for name in ("candidate", "trim_start_s", "trim_end_s"):
        data.pop(name)
    (store.folder / f"{key}.json").write_text(json.dumps(data))  # as an older version wrote it
    info = store.info(key)
    assert info is not None and not info.trimmed and store.load(key).numel() == SR == store.used_length(key)
    store.set_trim(key, TrimPoints(0.25, 0.75))
    assert store.load(key).numel() == SR // 2 and store.info(key).used_seconds == 0.5


@pytest.mark.parametrize("bad", [{"trim_start_s": -1.0}, {"trim_start_s": 0.5, "trim_end_s": 0.2},
                                 {"trim_end_s": "1"}, {"trim_start_s": True}, {"trim_end_s": float("nan")},
                                 {"candidate": -1}])
def test_malformed_trim_points_make_the_record_invalid(store, bad):
    key = take_key({"t": 3})
    store.save(_info(key, 1.0, trim_end_s=1.0), _ramp(1.0))
    path = store.folder / f"{key}.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **bad}))
    assert store.info(key) is None
    assert store.load(key).numel() == SR  # used whole: nothing trusted from a broken record


def test_export_places_and_writes_the_trimmed_takes(tmp_path):
    project = Project.new("Alice: One.\nBob: Two.\n")
    project.settings.default_gap_ms = 500
    project.save(tmp_path / "demo")
    store = TakeStore(project.takes_dir, SR)
    for n, (start, end) in enumerate([(1.0, 2.0), (0.25, 1.75)]):
        key = take_key({"n": n})
        store.save(_info(key, 3.0, trim_start_s=start, trim_end_s=end), _ramp(3.0))
        project.line(n).chosen_take = key
    timeline = build_timeline(project, store)
    assert [(p.start, p.length) for p in timeline.placements] == [(0, SR), (int(1.5 * SR), int(1.5 * SR))]
    out = tmp_path / "d.wav"
    export_dialogue(project, store, out)
    mix, rate = sf.read(out, dtype="float32")
    assert rate == SR and len(mix) == 3 * SR == timeline.total
    assert np.allclose(mix[:SR], store.load(project.line(0).chosen_take).numpy(), atol=1e-4)
