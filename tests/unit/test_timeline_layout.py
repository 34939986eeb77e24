"""The dialogue's timeline: editor line numbers, gaps and pauses, a partial timeline while
lines are still unrendered, which line plays at a moment; stems named by editor line."""

from __future__ import annotations

import pytest

from csm_desktop.dialogue.export import ExportError, ExportOptions, build_timeline, export_dialogue
from csm_desktop.dialogue.project import Project
from csm_desktop.dialogue.render import Renderer
from fakes.engine import FakeEngine

SR = 24_000
# Editor lines: 1 comment, 2 pause, 3 Alice, 4 blank, 5 Bob, 6 pause, 7 Alice.
SCRIPT = "# intro\n[pause 1s]\nAlice: Hey, how are you doing?\n\nBob: Pretty good.\n[pause 800ms]\nAlice: Great!\n"


@pytest.fixture
def rendered(tmp_path):
    project = Project.new(SCRIPT)
    project.settings.default_gap_ms = 250
    project.save(tmp_path / "p")
    renderer = Renderer(project, FakeEngine())
    renderer.render()
    return project, renderer.store


def test_placements_carry_the_editors_line_numbers(rendered):
    project, store = rendered
    tl = build_timeline(project, store)
    assert [p.script_line for p in tl.placements] == [3, 5, 7]
    assert [p.line for p in tl.placements] == [0, 1, 2]


def test_gaps_and_pauses_are_listed_where_they_are(rendered):
    project, store = rendered
    tl = build_timeline(project, store)
    p = tl.placements
    assert [(g.start, g.length, g.kind) for g in tl.gaps] == [
        (0, SR, "pause"),  # the leading [pause 1s]
        (p[0].start + p[0].length, SR // 4, "gap"),  # the project's default gap
        (p[1].start + p[1].length, int(0.8 * SR), "pause"),  # [pause 800ms] replaces it
    ]
    project.line(0).gap_after_ms = 0  # no gap after line 3: nothing to show
    assert [g.kind for g in build_timeline(project, store).gaps] == ["pause", "pause"]


def test_a_partial_timeline_leaves_unrendered_lines_out(rendered):
    project, store = rendered
    project.line(1).chosen_take = None  # Bob's line (editor line 5) has no take
    with pytest.raises(ExportError, match="5"):
        build_timeline(project, store)
    tl = build_timeline(project, store, partial=True)
    assert [p.script_line for p in tl.placements] == [3, 7]
    [hole] = tl.unrendered
    assert (hole.script_line, hole.speaker, hole.at) == (5, "Bob", tl.placements[0].start + tl.placements[0].length)
    # Bob's [pause 800ms] still separates Alice's lines (one gap, not two)
    assert tl.placements[1].start == hole.at + int(0.8 * SR)
    assert tl.total == tl.placements[1].start + tl.placements[1].length


def test_a_partial_timeline_does_not_touch_the_project(rendered):
    project, store = rendered
    project.script_text += "Bob: And one more.\n"
    before = dict(project.lines)
    tl = build_timeline(project, store, partial=True)
    assert [u.script_line for u in tl.unrendered] == [8]
    assert project.lines == before  # no line state made up for the unrendered line


def test_the_line_playing_at_a_moment(rendered):
    project, store = rendered
    tl = build_timeline(project, store)
    first, second, third = tl.placements
    assert tl.placement_at(0) is None  # the leading pause
    assert tl.placement_at(first.start) is first
    assert tl.placement_at(first.start + first.length + 10) is first  # in the gap after it
    assert tl.placement_at(second.start) is second
    assert tl.placement_at(tl.total) is third


def test_line_stems_are_named_by_the_editors_line_numbers(rendered, tmp_path):
    project, store = rendered
    export_dialogue(project, store, tmp_path / "d.wav", ExportOptions(line_stems_dir=tmp_path / "lines"))
    assert sorted(f.name for f in (tmp_path / "lines").iterdir()) == ["3_Alice.wav", "5_Bob.wav", "7_Alice.wav"]


def test_stem_numbers_are_padded_to_the_largest_line_number(tmp_path):
    project = Project.new("Alice: One.\n" + "\n" * 8 + "Bob: Ten.\n")  # editor lines 1 and 10
    project.save(tmp_path / "p")
    renderer = Renderer(project, FakeEngine())
    renderer.render()
    export_dialogue(project, renderer.store, tmp_path / "d.wav", ExportOptions(line_stems_dir=tmp_path / "lines"))
    assert sorted(f.name for f in (tmp_path / "lines").iterdir()) == ["01_Alice.wav", "10_Bob.wav"]


def test_a_lines_own_gap_keeps_its_pause_hatched_and_the_rest_a_plain_gap(rendered):
    """Bob's line (editor line 5) has [pause 800ms] after it: a gap of its own longer than that is
    the pause and then a plain gap; a shorter one is the pause, cut to the gap. The audio is the
    line's gap either way."""
    project, store = rendered
    p = build_timeline(project, store).placements
    end = p[1].start + p[1].length
    project.line(1).gap_after_ms = 1200
    tl = build_timeline(project, store)
    assert [(g.start, g.length, g.kind) for g in tl.gaps[2:]] == [(end, int(0.8 * SR), "pause"),
                                                                  (end + int(0.8 * SR), int(0.4 * SR), "gap")]
    assert tl.placements[2].start == end + int(1.2 * SR)
    project.line(1).gap_after_ms = 500
    tl = build_timeline(project, store)
    assert [(g.start, g.length, g.kind) for g in tl.gaps[2:]] == [(end, SR // 2, "pause")]
    assert tl.placements[2].start == end + SR // 2
