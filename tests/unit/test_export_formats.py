"""Export formats beyond WAV/FLAC (MP3, Opus: checked by decoding them back) and sample rates."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from csm_desktop.dialogue import export
from csm_desktop.dialogue.export import ExportError, ExportOptions, build_timeline, export_dialogue, rates_for
from csm_desktop.dialogue.project import Project
from csm_desktop.dialogue.render import Renderer
from fakes.engine import FakeEngine

SCRIPT = "Alice: Hey, how are you doing?\n[pause 500ms]\nBob: Pretty good.\n"


@pytest.fixture
def rendered(tmp_path):
    project = Project.new(SCRIPT)
    project.save(tmp_path / "p")
    renderer = Renderer(project, FakeEngine())
    renderer.render()
    return project, renderer.store


def test_a_resampled_export_keeps_the_timing_and_the_subtitles(rendered, tmp_path):
    project, store = rendered
    out = tmp_path / "d.wav"
    export_dialogue(project, store, out, ExportOptions(sample_rate=48_000, subtitles=[tmp_path / "d.srt"],
                                                       line_stems_dir=tmp_path / "lines"))
    mix, sr = sf.read(out)
    tl = build_timeline(project, store)
    assert sr == 48_000 and len(mix) == 2 * tl.total
    bob = tl.placements[1]
    # silence in the gap, the tone where Bob's take starts (at twice the sample position)
    assert np.abs(mix[2 * bob.start - 2000: 2 * bob.start - 100]).max() < 1e-3
    assert np.abs(mix[2 * bob.start + 100: 2 * bob.start + 2000]).max() > 0.1
    assert "00:00:0" in (tmp_path / "d.srt").read_text()
    assert all(sf.info(p).frames == len(mix) for p in (tmp_path / "lines").iterdir())


@pytest.mark.parametrize("fmt, suffix", [("mp3", "mp3"), ("opus", "opus")])
def test_compressed_formats_decode_to_the_dialogue(rendered, tmp_path, fmt, suffix):
    if export.format_problem(fmt):
        pytest.skip(export.format_problem(fmt))
    project, store = rendered
    out = tmp_path / f"d.{suffix}"
    written = export_dialogue(project, store, out, ExportOptions(format=fmt, speaker_stems_dir=tmp_path / "spk"))
    assert sorted(p.name for p in (tmp_path / "spk").iterdir()) == [f"Alice.{suffix}", f"Bob.{suffix}"]
    assert out in written
    info = sf.info(out)
    assert info.format == export.FORMATS[fmt][0]
    mix, sr = sf.read(out)
    seconds = build_timeline(project, store).total / store.sample_rate
    assert sr == 24_000 and abs(len(mix) / sr - seconds) < 0.1  # a codec's padding, no more
    assert np.abs(mix).max() > 0.1


def test_a_format_this_system_cannot_write_is_said_plainly(rendered, tmp_path, monkeypatch):
    project, store = rendered
    monkeypatch.setattr(export.sf, "available_formats", lambda: {"WAV": "WAV", "FLAC": "FLAC"})
    with pytest.raises(ExportError, match="cannot write MP3. Export WAV or FLAC"):
        export_dialogue(project, store, tmp_path / "d.mp3", ExportOptions(format="mp3"))
    assert not (tmp_path / "d.mp3").exists()


def test_rates_a_codec_refuses_are_refused_before_writing(rendered, tmp_path):
    project, store = rendered
    assert 44_100 not in rates_for("opus") and 48_000 in rates_for("opus")
    with pytest.raises(ExportError, match="OPUS cannot be exported at 44100 Hz"):
        export_dialogue(project, store, tmp_path / "d.opus", ExportOptions(format="opus", sample_rate=44_100))
    assert not (tmp_path / "d.opus").exists()
