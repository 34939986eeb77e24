"""The engine's one owner: it loads the engine inside model jobs, reloads it after a settings
change, and tells the window (on the GUI thread) what it needs to show, so that the window never
touches the engine itself.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from csm_desktop.engine.config import TEST_MODEL_MARKER
from csm_desktop.redaction import redact_url
from csm_desktop.services.remote import RemoteEngine
from csm_desktop.ui.tasks import Job, ModelTasks

ACCEL_NAMES = {"off": "plain PyTorch", "graph": "CUDA graph", "compile": "compiled", "mlx": "MLX"}


def describe_engine(engine) -> tuple[str, str]:
    """A short status-bar text for the loaded engine, and a tooltip with more."""
    if isinstance(engine, RemoteEngine):
        model = f"\nModel: {engine.info['model']}" if engine.info and engine.info.get("model") else ""
        return "Remote engine", f"Generating on {redact_url(engine.url)}{model}"
    device = getattr(engine, "device", None)
    if device is None:  # another SpeechEngine: nothing to say
        return "", ""
    text = f"{device.type.upper()} · {ACCEL_NAMES.get(engine.accel, engine.accel)}"
    tip = f"Model: {engine.model_id}\nDevice: {device}\nSpeed-up: {ACCEL_NAMES.get(engine.accel, engine.accel)}"
    if engine.accel == "mlx":  # the language model runs in MLX, wherever MLX runs; Mimi on the torch device
        text = f"MLX · {engine.model.runs_on}"
        tip = f"Model: {engine.model_id}\nDevice: MLX on the {engine.model.runs_on}, Mimi on {device}"
    problem = getattr(engine, "accel_problem", None)
    if problem:
        text += " (speed-up failed)"
        tip += (f"\nThe speed-up could not be used, so frames run without it:\n{problem}\n"
                "Settings > Engine > Speed-up turns it off; updating PyTorch or the GPU driver may fix it.")
    return text, tip


def expected_engine(settings) -> tuple[str, str, bool]:
    """What the settings will load, before it is loaded: a status-bar text, a tooltip, and
    whether it is the tiny test model (its folder's config.json says so: read, nothing loaded),
    so that the window says the same before a render as after it."""
    if settings.engine == "remote":
        where = redact_url(settings.remote_url) if settings.remote_url else "no URL yet (Settings › Engine)"
        return "Remote engine · not connected", f"Generates on {where}; it connects at the first render.", False
    folder = Path(settings.model).expanduser()
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8")) if folder.is_dir() else {}
    except (OSError, ValueError):
        config = {}  # loading says what is wrong with it
    test_model = isinstance(config, dict) and bool(config.get(TEST_MODEL_MARKER))
    return "Local model · loads at the first render", f"Model: {settings.model}", test_model


@dataclass(frozen=True)
class PlanningView:
    """What planning a render (take keys, context budgets, line states) reads of an engine,
    fixed when it became ready: the GUI thread plans from this, never from the engine. The
    text measure is the tokenizer's (a pure function) or a remote engine's bound."""

    model_id: str
    sample_rate: int
    frame_ms: float
    max_seq_len: int
    text_positions: Callable[[str, int], int]


@dataclass(frozen=True)
class EngineFacts:
    """What the window shows of a ready engine."""

    label: str  # the status bar's device and speed-up text
    tooltip: str
    model_id: str
    is_test_model: bool
    remote: bool
    planner: PlanningView = field(compare=False)

    @classmethod
    def of(cls, engine) -> EngineFacts:
        """Read on the model's thread (a remote engine's model id may need the network)."""
        label, tooltip = describe_engine(engine)
        model_id = engine.model_id
        planner = PlanningView(model_id, engine.sample_rate, engine.frame_ms, engine.max_seq_len,
                               engine.text_positions)
        return cls(label, tooltip, model_id, bool(getattr(engine, "is_test_model", False)),
                   isinstance(engine, RemoteEngine), planner)


class EngineHost(QObject):
    """Owns the engine. :meth:`engine_for` runs inside a model job (the engine lives on the
    model's thread); :meth:`settings_changed` runs on the GUI thread."""

    ready = Signal(object)  # EngineFacts: an engine was loaded, or its facts changed
    released = Signal()  # the settings changed: the engine shown is no longer the one to use

    def __init__(self, factory: Callable[[], object], lane: ModelTasks, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._factory = factory
        self._lane = lane
        self._engine = None  # only touched on the model's thread
        self._facts: EngineFacts | None = None
        self._settings = 0  # bumped (GUI thread) when the settings change
        self._made_for = 0  # the settings generation the engine was made from

    def settings_changed(self) -> None:
        """Reload the engine the new settings ask for: after the current job (a render keeps
        the engine it started with), at the latest when the next job asks for one."""
        self._settings += 1
        self._lane.submit(lambda job: self._release_if_stale(), "release the engine",
                          on_done=lambda _: self.released.emit(), on_cancel=self.released.emit)

    def _release_if_stale(self) -> None:
        if self._made_for != self._settings:
            self._engine = self._facts = None  # before a new one loads: never two models in memory

    def engine_for(self, job: Job, preparing: str = "", *, only_remote: bool = False):
        """The engine, loaded (``preparing`` said through the job) when there is none or the
        settings changed since it was made; a remote one is woken and asked afresh (a cold start
        can take minutes, its news reported through the job; the deployment may have changed).
        ``only_remote``: a warm-up, which keeps nothing but a remote engine (returns None)."""
        self._release_if_stale()
        engine = self._engine
        if engine is None:
            if preparing:
                job.report(preparing)
            wanted = self._settings
            engine = self._factory()
            if only_remote and not isinstance(engine, RemoteEngine):
                return None  # a local model loads at the first render
            self._engine, self._made_for = engine, wanted
        elif only_remote and not isinstance(engine, RemoteEngine):
            return None
        if isinstance(engine, RemoteEngine):
            engine.on_status = job.report
            engine.reconnect(job.should_stop)
        facts = EngineFacts.of(engine)
        if facts != self._facts:
            self._facts = facts
            self.ready.emit(facts)  # queued to the GUI thread, in order with the job's own news
        return engine
