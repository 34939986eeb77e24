"""How lines are generated, in the project: the selected line's own gap, seed and temperature
(the line inspector), and the project's generation settings (a dialog). Both are undoable edits
of the project; the line states are planned again through the session's ``edited`` signal."""

from __future__ import annotations

import copy
import dataclasses

from PySide6.QtCore import QObject
from PySide6.QtGui import QUndoCommand
from PySide6.QtWidgets import QWidget

from csm_desktop.dialogue.project import GenerationSettings
from csm_desktop.dialogue.render import line_seed, line_temperature
from csm_desktop.settings import Settings
from csm_desktop.ui.session import GENERATION_DEFAULTS, ProjectSession
from csm_desktop.ui.widgets.editor import ScriptEditor
from csm_desktop.ui.widgets.line_inspector import LineInspector, LineOptions
from csm_desktop.ui.widgets.project_settings import ProjectSettingsDialog

_MERGE_ID = 0x4C494E45  # consecutive edits of one line's options are one undo step


class _Edit(QUndoCommand):
    """Values set, and set back by undo; the project is then compared with what was saved."""

    def __init__(self, controller: GenerationController, text: str, before, after) -> None:
        super().__init__(text)
        self.controller, self.before, self.after = controller, before, after

    def apply(self, values) -> None:
        raise NotImplementedError

    def _set(self, values) -> None:
        self.apply(values)
        self.controller.session.touched()
        self.controller.refresh()

    def redo(self) -> None:
        self._set(self.after)

    def undo(self) -> None:
        self._set(self.before)


class LineOptionsEdit(_Edit):
    """Some of one line's fields; undo sets those fields back (a render's changes of the others,
    such as the chosen take, stay)."""

    def __init__(self, controller: GenerationController, index: int, line_label: str, after: dict) -> None:
        state = controller.session.project.line(index)
        super().__init__(controller, f"Change line {line_label}'s settings", {k: getattr(state, k) for k in after},
                         dict(after))
        self.index = index

    def apply(self, values: dict) -> None:
        state = self.controller.session.project.line(self.index)
        for name, value in values.items():
            setattr(state, name, value)

    def id(self) -> int:  # noqa: A003 (Qt name)
        return _MERGE_ID

    def mergeWith(self, other) -> bool:  # noqa: N802
        # Steps of one field (a spin box's arrows) are one edit; another field is another edit.
        if not isinstance(other, LineOptionsEdit) or other.index != self.index or other.after.keys() != self.after.keys():
            return False
        self.after.update(other.after)
        self.before = {**other.before, **self.before}
        return True


class ProjectSettingsEdit(_Edit):
    def __init__(self, controller: GenerationController, after: GenerationSettings) -> None:
        super().__init__(controller, "Change the project's generation settings",
                         copy.deepcopy(controller.session.project.settings), copy.deepcopy(after))

    def apply(self, settings: GenerationSettings) -> None:
        self.controller.session.project.settings = copy.deepcopy(settings)


class GenerationController(QObject):
    def __init__(self, session: ProjectSession, editor: ScriptEditor, inspector: LineInspector,
                 window: QWidget) -> None:
        super().__init__(window)
        self.session = session
        self.editor = editor
        self.inspector = inspector
        self.window = window
        editor.line_selected.connect(lambda _n: self.refresh())
        inspector.options_changed.connect(self.set_line_options)
        for signal in (session.project_replaced, session.text_replaced, session.takes_changed):
            signal.connect(self.refresh)

    def _line(self) -> tuple[int, str] | None:
        """The selected utterance and its editor line number."""
        n = self.editor.current_utterance()
        if n is None or n >= len(self.editor.utterance_lines):
            return None
        return n, str(self.editor.utterance_lines[n])

    def refresh(self) -> None:
        project = self.session.project
        selected = self._line()
        settings = project.settings
        if selected is None:
            self.inspector.show_line(None, None, settings.temperature, settings.default_gap_ms)
            return
        n, line = selected
        state = project.line(n)
        u = self.editor.utterances()[n]
        self.inspector.show_line(f"Line {line} · {u.speaker}", LineOptions(state.gap_after_ms, state.seed, state.temperature),
                                 settings.temperature, settings.default_gap_ms, line_seed(project, n, u))

    def set_line_options(self, options: LineOptions) -> None:
        selected = self._line()
        if selected is None:
            return
        n, line = selected
        state = self.session.project.line(n)
        after = {k: v for k, v in dataclasses.asdict(options).items() if getattr(state, k) != v}
        if options.seed is not None and options.seed != state.seed:
            after["variant"] = 0  # a seed typed (or pinned from a take) is the seed of the next take
        if after:
            self.session.undo_stack.push(LineOptionsEdit(self, n, line, after))

    def pin_take_seed(self, key: str) -> None:
        """Give the selected line the seed of take ``key``: rendering it again (same words,
        voices and context) gives that take back."""
        store, selected = self.session.store(), self._line()
        info = store.info(key) if store else None
        if info is None or selected is None:
            return
        n, line = selected
        project = self.session.project
        after = {"seed": info.seed, "variant": 0}
        made_with = info.inputs.get("temperature")
        if isinstance(made_with, float) and made_with != line_temperature(project, n):
            after["temperature"] = None if made_with == project.settings.temperature else made_with
        self.session.undo_stack.push(LineOptionsEdit(self, n, line, after))

    def edit_project_settings(self) -> bool:
        """The project settings dialog; returns whether anything changed."""
        dialog = ProjectSettingsDialog(self.window, self.session.project.name, self.session.project.settings)
        if not dialog.exec():
            return False
        return self.set_project_settings(dialog.values())

    def set_project_settings(self, settings: GenerationSettings) -> bool:
        if settings == self.session.project.settings:
            return False
        self.session.undo_stack.push(ProjectSettingsEdit(self, settings))
        return True

    def use_defaults(self, defaults: Settings) -> bool:
        """Settings > Generation's defaults, applied to the open project too (when asked)."""
        settings = copy.deepcopy(self.session.project.settings)
        for name in GENERATION_DEFAULTS:
            setattr(settings, name, getattr(defaults, name))
        return self.set_project_settings(settings)
