"""Export: mixdown timing, gaps and pauses, stems, subtitles, formats, markers, errors."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from csm_desktop.dialogue.export import ExportError, ExportOptions, build_timeline, export_dialogue, subtitles_text
from csm_desktop.dialogue.project import Project
from csm_desktop.dialogue.render import Renderer
from csm_desktop.fileio import DiskFullError, format_size
from csm_desktop.marker import AI_MARKER
from fakes.disk import disk_with, full_disk  # noqa: F401  (full_disk: a fixture)
from fakes.engine import FakeEngine

SR = 24_000
SCRIPT = "[pause 1s]\nAlice: Hey, how are you doing?\nBob: Pretty good.\n[pause 800ms]\nAlice: Great!\n"


@pytest.fixture
def rendered(tmp_path):
    project = Project.new(SCRIPT)
    project.save(tmp_path / "p")
    renderer = Renderer(project, FakeEngine())
    renderer.render()
    return project, renderer.store


def test_timeline_gaps_and_pauses(rendered):
    project, store = rendered
    project.settings.default_gap_ms = 250
    project.line(2).gap_after_ms = None
    tl = build_timeline(project, store)
    starts = [p.start for p in tl.placements]
    lengths = [p.length for p in tl.placements]
    assert starts[0] == SR  # leading [pause 1s]
    assert starts[1] == starts[0] + lengths[0] + SR // 4  # default gap
    assert starts[2] == starts[1] + lengths[1] + int(0.8 * SR)  # the pause replaces the default gap
    assert tl.total == starts[2] + lengths[2]
    project.line(0).gap_after_ms = 0
    assert build_timeline(project, store).placements[1].start == SR + lengths[0]


def test_mixdown_stems_subtitles(rendered, tmp_path):
    project, store = rendered
    out = tmp_path / "out" / "dialogue.wav"
    opts = ExportOptions(line_stems_dir=tmp_path / "lines", speaker_stems_dir=tmp_path / "speakers",
                         subtitles=[tmp_path / "d.srt", tmp_path / "d.vtt"])
    written = export_dialogue(project, store, out, opts)
    assert len(written) == 1 + 3 + 2 + 2
    mix, sr = sf.read(out)
    tl = build_timeline(project, store)
    assert sr == SR and len(mix) == tl.total
    total = np.zeros(tl.total)
    for stem in sorted((tmp_path / "lines").iterdir()):
        data, _ = sf.read(stem)
        assert len(data) == tl.total
        total += data
    np.testing.assert_allclose(total, mix, atol=2e-4)
    alice, _ = sf.read(tmp_path / "speakers" / "Alice.wav")
    bob, _ = sf.read(tmp_path / "speakers" / "Bob.wav")
    np.testing.assert_allclose(alice + bob, mix, atol=2e-4)
    p = tl.placements[1]
    assert np.abs(bob[p.start : p.start + p.length]).max() > 0.1 and np.abs(bob[: p.start]).max() == 0
    for f in [out, *(tmp_path / "lines").iterdir(), *(tmp_path / "speakers").iterdir()]:
        assert sf.info(f).extra_info is not None
        with sf.SoundFile(f) as fh:
            assert fh.comment == AI_MARKER
    srt = (tmp_path / "d.srt").read_text()
    assert "1\n00:00:01,000 --> 00:00:" in srt and "Bob: Pretty good." in srt
    vtt = (tmp_path / "d.vtt").read_text()
    assert vtt.startswith("WEBVTT") and AI_MARKER in vtt and "<v Alice>Great!" in vtt


@pytest.mark.parametrize("fmt, depth, subtype", [("wav", "24", "PCM_24"), ("wav", "float", "FLOAT"),
                                                 ("flac", "16", "PCM_16"), ("flac", "24", "PCM_24")])
def test_formats(rendered, tmp_path, fmt, depth, subtype):
    project, store = rendered
    out = tmp_path / f"d.{fmt}"
    export_dialogue(project, store, out, ExportOptions(format=fmt, bit_depth=depth))
    info = sf.info(out)
    assert info.subtype == subtype and info.format == fmt.upper()
    with sf.SoundFile(out) as fh:
        assert fh.comment == AI_MARKER


def test_loudness_normalisation(rendered, tmp_path):
    import torch
    import torchaudio.functional as AF

    project, store = rendered
    out = tmp_path / "n.wav"
    export_dialogue(project, store, out, ExportOptions(normalize_lufs=-23.0, bit_depth="float"))
    mix, _ = sf.read(out, dtype="float32")
    tl = build_timeline(project, store)
    speech = np.concatenate([mix[p.start : p.start + p.length] for p in tl.placements])
    assert abs(float(AF.loudness(torch.from_numpy(speech)[None], SR)) - (-23.0)) < 1.0
    assert np.abs(mix).max() <= 1.0


def test_export_refuses_unrendered_lines_and_bad_options(rendered, tmp_path):
    project, store = rendered
    with pytest.raises(ExportError, match="choose WAV, FLAC, MP3 or Opus"):
        export_dialogue(project, store, tmp_path / "x.aiff", ExportOptions(format="aiff"))
    with pytest.raises(ExportError, match="16 or 24"):
        export_dialogue(project, store, tmp_path / "x.flac", ExportOptions(format="flac", bit_depth="float"))
    project.script_text += "Bob: A new line.\n"
    with pytest.raises(ExportError, match="Script lines 6 have no take"):
        export_dialogue(project, store, tmp_path / "x.wav")
    assert not (tmp_path / "x.wav").exists()


def test_subtitle_timestamps_past_an_hour():
    from csm_desktop.dialogue.export import Placement, Timeline

    tl = Timeline(SR, [Placement(0, "A", "hi", "k", 3_723_456 * SR // 1000, SR)], 0)
    assert "01:02:03,456 --> 01:02:04,456" in subtitles_text(tl, "srt")


# ----- faults: a full disk, permissions, data that points outside -------------------------------
def _parts(folder):
    return [f.name for f in folder.rglob("*.part")]


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # cffi reports the swallowed error
@pytest.mark.parametrize("fmt", ["wav", "flac"])
def test_a_disk_that_fills_up_during_export_keeps_the_earlier_export(rendered, tmp_path, monkeypatch, fmt):
    project, store = rendered
    out = tmp_path / f"d.{fmt}"
    export_dialogue(project, store, out, ExportOptions(format=fmt))
    before = out.read_bytes()
    disk_with(monkeypatch, 5000)
    with pytest.raises(DiskFullError, match=f"Not enough free space to write {out}"):
        export_dialogue(project, store, out, ExportOptions(format=fmt, bit_depth="24"))
    assert out.read_bytes() == before and _parts(tmp_path) == []


def test_a_wav_larger_than_the_free_space_is_refused_before_writing(rendered, tmp_path, monkeypatch):
    project, store = rendered
    total = build_timeline(project, store).total
    monkeypatch.setattr("csm_desktop.fileio.free_bytes", lambda _folder: 1000)
    needed = format_size(total * 4 + 4096)  # FLOAT samples and room for the header
    with pytest.raises(DiskFullError, match=rf"d.wav: it needs {needed} and 1.0 kB are free"):
        export_dialogue(project, store, tmp_path / "d.wav", ExportOptions(bit_depth="float"))
    assert not (tmp_path / "d.wav").exists() and _parts(tmp_path) == []


def test_export_on_a_real_full_disk(rendered, full_disk):
    project, store = rendered
    opts = ExportOptions(bit_depth="float", line_stems_dir=full_disk / "lines")
    with pytest.raises(DiskFullError, match=r"Not enough free space to write .*lines/.*\.wav: it needs .* are free"):
        export_dialogue(project, store, full_disk / "d.wav", opts)
    assert sf.info(full_disk / "d.wav").frames == build_timeline(project, store).total  # the earlier file is whole
    assert _parts(full_disk) == []


def test_exports_honour_the_umask(rendered, tmp_path):
    import os

    project, store = rendered
    old = os.umask(0o022)
    try:
        written = export_dialogue(project, store, tmp_path / "d.wav", ExportOptions(subtitles=[tmp_path / "d.srt"]))
    finally:
        os.umask(old)
    assert [f.stat().st_mode & 0o777 for f in written] == [0o644, 0o644]


def test_a_take_linked_to_outside_the_project_is_not_exported(rendered, tmp_path):
    project, store = rendered
    key = project.line(1).chosen_take
    outside = tmp_path / "elsewhere.wav"
    store.audio_path(key).replace(outside)
    store.audio_path(key).symlink_to(outside)
    with pytest.raises(ExportError, match="Script lines 3 have no take yet"):
        export_dialogue(project, store, tmp_path / "x.wav")


def test_scene_markers_add_no_pause_and_keep_subtitles(rendered, tmp_path):
    """The same dialogue with scene markers between (and around) its lines exports the same."""
    project, store = rendered
    plain_timeline = build_timeline(project, store)
    plain_srt = subtitles_text(plain_timeline, "srt")
    project.script_text = ("[scene Opening]\n[pause 1s]\nAlice: Hey, how are you doing?\n[scene]\nBob: Pretty good.\n"
                           "[pause 800ms]\n[scene The end]\nAlice: Great!\n[scene]\n")
    assert [u.scene for u in project.script().utterances] == [0, 1, 2]
    with_scenes = build_timeline(project, store)
    assert [p.script_line for p in with_scenes.placements] == [3, 5, 8]  # the markers take editor lines
    for p in with_scenes.placements:
        p.script_line = 0
    for p in plain_timeline.placements:
        p.script_line = 0
    assert with_scenes == plain_timeline
    assert subtitles_text(build_timeline(project, store), "srt") == plain_srt
    out = export_dialogue(project, store, tmp_path / "scenes.wav", ExportOptions(subtitles=[tmp_path / "s.vtt"]))
    assert sf.info(str(out[0])).frames == plain_timeline.total
