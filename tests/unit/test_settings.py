"""Settings: defaults, round trip, damaged files set aside, no secrets."""

from __future__ import annotations

import json

import pytest

from csm_desktop.errors import CsmError
from csm_desktop.services.engines import open_engine
from csm_desktop.settings import Settings


def test_defaults_and_round_trip():
    s = Settings.load()
    assert s.engine == "local" and s.device == "auto"
    s.engine, s.remote_url, s.temperature = "remote", "https://api.example/run", 0.7
    s.add_recent("/a.csmproj")
    s.add_recent("/b.csmproj")
    s.add_recent("/a.csmproj")
    s.save()
    t = Settings.load()
    assert (t.engine, t.remote_url, t.temperature) == ("remote", "https://api.example/run", 0.7)
    assert t.recent_projects == ["/a.csmproj", "/b.csmproj"]
    assert "token" not in Settings.path().read_text().lower()


def test_damaged_file_is_set_aside():
    Settings.path().parent.mkdir(parents=True, exist_ok=True)
    Settings.path().write_text("{broken")
    assert Settings.load() == Settings()
    assert Settings.path().with_name("settings.json.bad").read_text() == "{broken"


def test_wrong_types_keep_defaults():
    Settings.path().parent.mkdir(parents=True, exist_ok=True)
    Settings.path().write_text(json.dumps({"schema_version": 1, "topk": "many", "engine": "quantum", "temperature": 1,
                                           "accel": "turbo"}))
    s = Settings.load()
    assert s.topk == 50 and s.engine == "local" and s.temperature == 1 and s.accel == "auto"


def test_switches_load_and_keep_their_type():
    """A switch (open the last project) survives a round trip; true is not a number, 1 no switch."""
    s = Settings(open_last_project=False, last_project="/x/A.csmproj")
    s.save()
    t = Settings.load()
    assert t.open_last_project is False and t.last_project == "/x/A.csmproj"
    Settings.path().write_text(json.dumps({"schema_version": 1, "open_last_project": 0, "topk": True}))
    t = Settings.load()
    assert t.open_last_project is True and t.topk == 50


def test_remote_engine_needs_url_and_token(monkeypatch):
    monkeypatch.setattr("csm_desktop.services.engines.get_secret", lambda name: None)
    with pytest.raises(CsmError, match="no URL"):
        open_engine(Settings(engine="remote"))
    with pytest.raises(CsmError, match="token"):
        open_engine(Settings(engine="remote", remote_url="http://127.0.0.1:9"))
    monkeypatch.setattr("csm_desktop.services.engines.get_secret", lambda name: "tok")
    engine = open_engine(Settings(engine="remote", remote_url="http://127.0.0.1:9"))
    assert engine.url == "http://127.0.0.1:9"  # the base: functions are added per call


def test_hand_edited_generation_defaults_out_of_range_keep_the_defaults():
    """A project copies these; project.json would refuse them on the next open."""
    import json

    from csm_desktop.settings import Settings

    Settings.path().parent.mkdir(parents=True, exist_ok=True)
    Settings.path().write_text(json.dumps({"temperature": 7.0, "topk": 0, "max_line_ms": 10**9,
                                           "default_gap_ms": -5, "schema_version": 1}))
    s = Settings.load()
    d = Settings()
    assert (s.temperature, s.topk, s.max_line_ms, s.default_gap_ms) == (d.temperature, d.topk, d.max_line_ms,
                                                                         d.default_gap_ms)
    Settings.path().write_text('{"temperature": NaN}')
    assert Settings.load().temperature == d.temperature


def test_a_schema_version_of_the_wrong_type_sets_the_file_aside():
    from csm_desktop.settings import Settings

    Settings.path().parent.mkdir(parents=True, exist_ok=True)
    Settings.path().write_text('{"schema_version": null, "temperature": 0.5}')
    assert Settings.load().temperature == Settings().temperature
    assert Settings.path().with_name("settings.json.bad").is_file()


def test_settings_and_the_speed_up_modes_load_without_torch():
    """The settings read the engine's speed-up modes from engine/accel.py, which imports no torch
    (and csm_desktop.engine loads its public names lazily): reading settings stays fast."""
    import subprocess
    import sys

    code = ("import sys, csm_desktop.settings, csm_desktop.engine, csm_desktop.engine.accel as a; "
            "assert 'torch' not in sys.modules, 'torch was imported'; print(a.ACCELS)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "('auto', 'off', 'graph', 'compile')"
