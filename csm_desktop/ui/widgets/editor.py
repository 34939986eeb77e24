"""The script editor: speaker tags in each speaker's colour, a gutter with each line's state,
parse errors underlined with the message on hover."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QMimeData, QPoint, QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QPainter, QSyntaxHighlighter, QTextCharFormat, QTextCursor, QTextFormat
from PySide6.QtWidgets import QPlainTextEdit, QTextEdit, QToolTip, QWidget

from csm_desktop.dialogue.script import Utterance, normalise_text, parse_lines

PALETTE = ["#2f7ed8", "#d9534f", "#2e9e5b", "#9b59b6", "#e08e0b", "#16a2b8", "#c2185b", "#6d4c41"]
STATE_COLORS = {
    "none": None, "queued": "#9e9e9e", "rendering": "#e0a800", "done": "#2e9e5b", "stale": "#f08c00",
    "failed": "#d9534f",
}
PROBLEM_COLOR = "#c2185b"  # a rendered line whose take's checks found problems: a mark beside its state
STATE_TIPS = {"none": "Not rendered", "queued": "Queued", "rendering": "Rendering…", "done": "Rendered",
              "stale": "Changed since it was rendered", "failed": "Failed"}


def speaker_color(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


class ScriptHighlighter(QSyntaxHighlighter):
    def __init__(self, editor: "ScriptEditor") -> None:
        super().__init__(editor.document())
        self.editor = editor

    def highlightBlock(self, text: str) -> None:  # noqa: N802 (Qt name)
        line = self.currentBlock().blockNumber() + 1
        error = self.editor.errors.get(line)
        stripped = text.lstrip()
        offset = len(text) - len(stripped)
        if stripped.startswith("#"):
            fmt = QTextCharFormat()
            fmt.setForeground(QColor("#8a8a8a"))
            fmt.setFontItalic(True)
            self.setFormat(0, len(text), fmt)
        elif stripped.lower().startswith(("[pause", "[scene")):  # directives
            fmt = QTextCharFormat()
            fmt.setForeground(QColor("#8a8a8a"))
            self.setFormat(0, len(text), fmt)
        item = self.editor.items_by_line.get(line)
        if isinstance(item, Utterance):
            tag_end = text.find(":") + 1 if not stripped.startswith("[") else text.find("]") + 1
            fmt = QTextCharFormat()
            fmt.setForeground(QColor(self.editor.color_for(item.speaker)))
            fmt.setFontWeight(QFont.Weight.Bold)
            self.setFormat(offset, max(0, tag_end - offset), fmt)
        if error:
            fmt = QTextCharFormat()
            fmt.setUnderlineStyle(QTextCharFormat.UnderlineStyle.WaveUnderline)
            fmt.setUnderlineColor(QColor("#d9534f"))
            fmt.setToolTip(error)
            self.setFormat(0, max(1, len(text)), fmt)


class _Gutter(QWidget):
    def __init__(self, editor: "ScriptEditor") -> None:
        super().__init__(editor)
        self.editor = editor

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(self.editor.gutter_width(), 0)

    def paintEvent(self, event) -> None:  # noqa: N802
        self.editor.paint_gutter(self, event)

    def event(self, e) -> bool:
        if e.type() == QEvent.Type.ToolTip:  # what the state colour (or the error mark) of a line says
            line = self.editor.cursorForPosition(QPoint(0, e.pos().y())).blockNumber() + 1
            tip = self.editor.gutter_tooltip(line)
            if tip:
                QToolTip.showText(e.globalPos(), tip, self)
            else:
                QToolTip.hideText()
            return True
        return super().event(e)


class ScriptEditor(QPlainTextEdit):
    """The script, highlighted, with a gutter of line states (hover it: what a colour means).
    Emits ``line_selected(utterance index, or -1 off an utterance)``; the window follows edits through ``textChanged``."""

    line_selected = Signal(int)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("scriptEditor")
        font = QFont("DejaVu Sans Mono")
        font.setStyleHint(QFont.StyleHint.Monospace)
        font.setPointSize(11)
        self.setFont(font)
        self.setPlaceholderText("Alice: Hey, how are you doing?\nBob: Pretty good, pretty good.\n[pause 800ms]\n"
                                "Alice: I'm great. So happy to be speaking to you.")
        self.errors: dict[int, str] = {}
        self.items_by_line: dict[int, object] = {}
        self.utterance_lines: list[int] = []  # text line of each utterance
        self.states: list[str] = []  # per utterance
        self.state_notes: dict[int, str] = {}  # by editor line: a tooltip instead of the state's name
        self.problems: dict[int, str] = {}  # by editor line: what the checks of its take found
        self.colors: dict[str, str] = {}
        self.playing_line: int | None = None  # the editor line highlighted as playing
        self._parsed_text: str | None = None
        self._gutter = _Gutter(self)
        self.blockCountChanged.connect(lambda _n: self._update_margins())
        self.updateRequest.connect(self._on_update_request)
        self.cursorPositionChanged.connect(self._emit_selection)
        self.textChanged.connect(self.reparse)
        self._highlighter = ScriptHighlighter(self)
        self._update_margins()

    # ----- one line numbering with the parser ------------------------------------------------------
    # Qt keeps U+2028 (Shift+Enter), NEL and a few control separators inside a text block, while
    # its plain text and the parser see line breaks: text enters normalised, and whatever still
    # slips in (an input method) is replaced where it lands.
    _IN_BLOCK = ("\u2028", "\x85", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e")

    def setPlainText(self, text: str) -> None:  # noqa: N802 (Qt name)
        super().setPlainText(normalise_text(text))
        # blockCountChanged does not reach us when the window sets text with signals blocked:
        # the gutter would keep the old width and cover the first letter of each line.
        self._update_margins()

    def insertFromMimeData(self, source: QMimeData) -> None:  # noqa: N802
        if source.hasText():
            cursor = self.textCursor()
            cursor.insertText(normalise_text(source.text()))
            self.setTextCursor(cursor)
        else:
            super().insertFromMimeData(source)

    def keyPressEvent(self, event) -> None:  # noqa: N802
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
            cursor = self.textCursor()
            cursor.insertText("\n")  # Qt would insert U+2028, a line break only in its plain text
            self.setTextCursor(cursor)
            return
        super().keyPressEvent(event)

    def _scrub_separators(self) -> None:
        raw = self.document().toRawText()
        for char in self._IN_BLOCK:
            if char not in raw:
                continue
            cursor = self.document().find(char)
            while not cursor.isNull():
                cursor.insertText(normalise_text(char))
                cursor = self.document().find(char, cursor)

    # ----- parsing and state ----------------------------------------------------------------------
    def color_for(self, speaker: str) -> str:
        if speaker not in self.colors:
            self.colors[speaker] = speaker_color(len(self.colors))
        return self.colors[speaker]

    def reparse(self, force: bool = False) -> None:
        self._scrub_separators()
        text = self.toPlainText()
        if text == self._parsed_text and not force:
            return  # re-highlighting emits textChanged too
        self._parsed_text = text
        items, errors = parse_lines(text)
        self.errors = {e.line: e.problem for e in errors}
        self.items_by_line = {getattr(i, "line", 0): i for i in items}
        self.utterance_lines = [i.line for i in items if isinstance(i, Utterance)]
        self.states = (self.states + ["none"] * len(self.utterance_lines))[: len(self.utterance_lines)]
        self._highlighter.rehighlight()
        self._gutter.update()
        self._emit_selection()  # the line's words changed: its takes are another line's now

    def set_states(self, states: list[str], notes: dict[int, str] | None = None,
                   problems: dict[int, str] | None = None) -> None:
        """Per utterance; ``notes``: by editor line, what a state's tooltip says instead of its name;
        ``problems``: by editor line, what the checks of its take found (marked beside its state)."""
        self.states = list(states) + ["none"] * (len(self.utterance_lines) - len(states))
        self.state_notes = dict(notes or {})
        self.problems = dict(problems or {})
        self._gutter.update()

    def set_state(self, utterance: int, state: str) -> None:
        if 0 <= utterance < len(self.states):
            self.states[utterance] = state
            self._gutter.update()

    def utterances(self) -> list[Utterance]:
        """The script's utterances as last parsed (what utterance indexes refer to)."""
        return [i for i in self.items_by_line.values() if isinstance(i, Utterance)]

    def current_utterance(self) -> int | None:
        line = self.textCursor().blockNumber() + 1
        before = [n for n, ln in enumerate(self.utterance_lines) if ln <= line]
        if not before:
            return None
        n = before[-1]
        return n if self.utterance_lines[n] == line else None

    def select_utterance(self, n: int) -> None:
        if 0 <= n < len(self.utterance_lines):
            block = self.document().findBlockByNumber(self.utterance_lines[n] - 1)
            cursor = QTextCursor(block)
            self.setTextCursor(cursor)
            self.centerCursor()

    def set_playing_line(self, line: int | None, follow: bool = False) -> None:
        """Highlight editor line ``line`` (1-based) as the one playing, in its speaker's colour;
        None: none. ``follow``: scroll it into view when it is out of sight (the cursor stays)."""
        selections = []
        block = self.document().findBlockByNumber(line - 1) if line else None
        if block is not None and block.isValid():
            item = self.items_by_line.get(line)
            color = QColor(self.color_for(item.speaker) if isinstance(item, Utterance) else "#2f7ed8")
            color.setAlpha(60)
            selection = QTextEdit.ExtraSelection()
            selection.format.setBackground(color)
            selection.format.setProperty(QTextFormat.Property.FullWidthSelection, True)
            selection.cursor = QTextCursor(block)
            selections.append(selection)
            if follow:
                box = self.blockBoundingGeometry(block).translated(self.contentOffset())
                if box.top() < 0 or box.bottom() > self.viewport().height():
                    rows = max(1, self.viewport().height() // max(1, self.fontMetrics().height()))
                    self.verticalScrollBar().setValue(max(0, block.firstLineNumber() - rows // 3))
        self.playing_line = line if selections else None
        self.setExtraSelections(selections)

    def _emit_selection(self) -> None:
        """The utterance under the cursor, or -1 on a line that is none (blank, a pause, a
        scene): the takes panel follows it and never shows another line's takes."""
        n = self.current_utterance()
        self.line_selected.emit(-1 if n is None else n)

    # ----- gutter -------------------------------------------------------------------------------
    def gutter_width(self) -> int:
        digits = len(str(max(1, self.blockCount())))
        return 26 + self.fontMetrics().horizontalAdvance("9") * digits

    def _update_margins(self) -> None:
        self.setViewportMargins(self.gutter_width(), 0, 0, 0)
        self._place_gutter()

    def _place_gutter(self) -> None:
        cr = self.contentsRect()
        self._gutter.setGeometry(QRect(cr.left(), cr.top(), self.gutter_width(), cr.height()))

    def _on_update_request(self, rect: QRect, dy: int) -> None:
        if dy:
            self._gutter.scroll(0, dy)
        else:
            self._gutter.update(0, rect.y(), self._gutter.width(), rect.height())

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        self._place_gutter()

    def paint_gutter(self, gutter: QWidget, event) -> None:
        painter = QPainter(gutter)
        palette = self.palette()
        painter.fillRect(event.rect(), palette.alternateBase())
        state_by_line = dict(zip(self.utterance_lines, self.states))
        block = self.firstVisibleBlock()
        offset = self.contentOffset()
        height = self.fontMetrics().height()
        while block.isValid():
            # Each block's own geometry: a wrapped line is taller than one row, and the line
            # after it starts below all of its rows.
            box = self.blockBoundingGeometry(block).translated(offset)
            if box.top() > event.rect().bottom():
                break
            top = round(box.top())
            number = block.blockNumber() + 1
            if block.isVisible():
                painter.setPen(palette.placeholderText().color())
                painter.drawText(0, top, gutter.width() - 20, height, Qt.AlignmentFlag.AlignRight, str(number))
                state = state_by_line.get(number)
                color = STATE_COLORS.get(state or "none")
                if number in self.errors:
                    color = STATE_COLORS["failed"]
                if color:  # beside all the rows of the line
                    painter.setPen(Qt.PenStyle.NoPen)
                    painter.setBrush(QColor(color))
                    painter.drawRoundedRect(gutter.width() - 8, top + 2, 5, max(height, round(box.height())) - 4, 2, 2)
                if number in self.problems:  # a dot left of the state: its take's checks found problems
                    painter.setPen(Qt.PenStyle.NoPen)
                    painter.setBrush(QColor(PROBLEM_COLOR))
                    painter.drawEllipse(gutter.width() - 17, top + height // 2 - 3, 6, 6)
            block = block.next()

    def event(self, e) -> bool:
        if e.type() == e.Type.ToolTip:
            pos = e.pos()
            if pos.x() < 0:
                return super().event(e)
            cursor = self.cursorForPosition(pos - self.viewport().pos())
            line = cursor.blockNumber() + 1
            if line in self.errors:
                QToolTip.showText(e.globalPos(), self.errors[line], self)
                return True
            QToolTip.hideText()
        return super().event(e)

    def gutter_tooltip(self, line: int) -> str:
        if line in self.errors:
            return self.errors[line]
        state = dict(zip(self.utterance_lines, self.states)).get(line)
        tip = self.state_notes.get(line) or STATE_TIPS.get(state or "none", "")
        if line in self.problems:
            tip += f"\nIts take's checks found problems: {self.problems[line]}"
        return tip
