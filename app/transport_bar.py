"""The transport's toolbar: play/stop, loop, metronome, position, tempo and time signature."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QAction, QUndoStack
from PySide6.QtWidgets import QComboBox, QDoubleSpinBox, QLabel, QSpinBox, QToolBar, QToolButton, QWidget

from app.icons import ACCENT_COLOR, PLAY_COLOR, RECORD_COLOR, STOP_COLOR, draw_icon
from app.timing import MAX_QPM, METER_DENOMINATORS, MIN_QPM, meter_edit, push_timing, tempo_edit, touches_timing
from app.transport import Transport
from engine.document import RESET, Document, NoteEdit
from engine.music.meter import bar_beat


def format_clock(seconds: float) -> str:
    """m:ss.t, the way a transport shows time."""
    seconds = max(seconds, 0.0)
    minutes, rest = divmod(seconds, 60.0)
    return f"{int(minutes)}:{rest:04.1f}"


class TransportBar(QToolBar):
    """Play/Stop, loop, metronome, position, tempo and time signature, over one document.

    The buttons carry the window's actions (so menus, shortcuts and buttons agree); the tempo and
    meter fields push one undo step per change (quick arrow clicks merge into one).
    """

    def __init__(self, document: Document, undo_stack: QUndoStack, transport: Transport,
                 play_action: QAction, loop_action: QAction, metronome_action: QAction,
                 stop_action: QAction, parent: QWidget | None = None) -> None:
        super().__init__("Transport", parent)
        self.setObjectName("transport")
        self.setMovable(False)
        self.setIconSize(QSize(22, 22))
        self.document = document
        self.undo_stack = undo_stack
        self.transport = transport
        self._syncing = False
        self._slots: dict[QAction, QAction] = {}  # a button's action -> its place on the bar
        self._play_icon = draw_icon("play", PLAY_COLOR)
        self._pause_icon = draw_icon("pause", PLAY_COLOR)
        play_action.setIcon(self._play_icon)
        stop_action.setIcon(draw_icon("stop", STOP_COLOR))
        loop_action.setIcon(draw_icon("loop", ACCENT_COLOR))
        metronome_action.setIcon(draw_icon("metronome", ACCENT_COLOR))
        self.play_action = play_action

        self.play_button = self._button(play_action)
        self.stop_button = self._button(stop_action)
        self.loop_button = self._button(loop_action)
        self.metronome_button = self._button(metronome_action)
        self.addSeparator()

        self.position_label = QLabel()
        self.position_label.setObjectName("position")
        self.position_label.setMinimumWidth(150)
        self.position_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.position_label.setToolTip("Playhead: bar.beat and minutes:seconds")
        self.position_label.setStyleSheet(
            "QLabel#position { font-family: 'DejaVu Sans Mono', monospace; font-size: 15px;"
            " color: #e6e9ef; background: #15171a; border: 1px solid #33363d;"
            " border-radius: 4px; padding: 3px 10px; }")
        self.addWidget(self.position_label)
        self.addSeparator()

        self.addWidget(self._caption("Tempo"))
        self.tempo_spin = QDoubleSpinBox()
        self.tempo_spin.setRange(MIN_QPM, MAX_QPM)
        self.tempo_spin.setDecimals(1)
        self.tempo_spin.setSingleStep(1.0)
        self.tempo_spin.setSuffix(" BPM")
        self.tempo_spin.setKeyboardTracking(False)  # one edit when typing is done, not per digit
        self.tempo_spin.setToolTip("Tempo in quarter notes per minute (undoable)")
        self.tempo_spin.setMinimumWidth(100)
        self.tempo_spin.valueChanged.connect(self._tempo_changed)
        self.addWidget(self.tempo_spin)

        self.addWidget(self._caption("Meter"))
        self.numerator_spin = QSpinBox()
        self.numerator_spin.setRange(1, 32)
        self.numerator_spin.setKeyboardTracking(False)
        self.numerator_spin.setToolTip("Beats per bar")
        self.numerator_spin.valueChanged.connect(self._meter_changed)
        self.addWidget(self.numerator_spin)
        slash = QLabel("/")
        slash.setContentsMargins(2, 0, 2, 0)
        self.addWidget(slash)
        self.denominator_combo = QComboBox()
        for d in METER_DENOMINATORS:
            self.denominator_combo.addItem(str(d), d)
        self.denominator_combo.setToolTip("The note value of a beat")
        self.denominator_combo.currentIndexChanged.connect(self._meter_changed)
        self.addWidget(self.denominator_combo)

        transport.state_changed.connect(self._state_changed)
        transport.position_changed.connect(self._position_changed)
        document.subscribe(self._document_changed)
        self.sync()
        self._position_changed(0.0, 0)

    def _button(self, action: QAction) -> QToolButton:
        button = QToolButton()
        button.setDefaultAction(action)
        button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
        button.setAutoRaise(True)
        button.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # Space must reach the Play shortcut
        self._slots[action] = self.addWidget(button)
        return button

    def add_record_button(self, action: QAction) -> QToolButton:
        """The Record button, after Stop."""
        action.setIcon(draw_icon("record", RECORD_COLOR))
        button = QToolButton()
        button.setDefaultAction(action)
        button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
        button.setAutoRaise(True)
        button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self._slots[action] = self.insertWidget(self._slots[self.loop_button.defaultAction()], button)
        self.record_button = button
        return button

    @staticmethod
    def _caption(text: str) -> QLabel:
        label = QLabel(text)
        label.setContentsMargins(10, 0, 4, 0)
        label.setStyleSheet("color: #9aa1ae;")
        return label

    # -- from the document --------------------------------------------------------------------

    def _document_changed(self, change: object) -> None:
        if change is RESET or not isinstance(change, NoteEdit) and touches_timing(change):
            self.sync()

    def sync(self) -> None:
        """Show the document's opening tempo and meter."""
        sketch = self.document.sketch
        self._syncing = True
        try:
            self.tempo_spin.setValue(sketch.qpm)
            ts = sketch.time_signature
            self.numerator_spin.setValue(ts.numerator)
            index = self.denominator_combo.findData(ts.denominator)
            if index < 0:
                self.denominator_combo.addItem(str(ts.denominator), ts.denominator)
                index = self.denominator_combo.count() - 1
            self.denominator_combo.setCurrentIndex(index)
        finally:
            self._syncing = False

    # -- to the document ----------------------------------------------------------------------

    def _tempo_changed(self, qpm: float) -> None:
        if not self._syncing:
            push_timing(self.undo_stack, self.document, tempo_edit(self.document, qpm))

    def _meter_changed(self, *_args) -> None:
        if self._syncing:
            return
        numerator = self.numerator_spin.value()
        denominator = int(self.denominator_combo.currentData())
        edit = meter_edit(self.document, numerator, denominator)
        push_timing(self.undo_stack, self.document, edit)

    # -- from the transport -------------------------------------------------------------------

    def _state_changed(self, state: str) -> None:
        stopped = state == "stopped"
        self.play_action.setIcon(self._play_icon if stopped else self._pause_icon)
        self.play_action.setText("&Play" if stopped else "&Pause")

    def _position_changed(self, seconds: float, tick: int) -> None:
        bar, beat = bar_beat(self.document.sketch.time_signatures, tick)
        self.position_label.setText(f"{bar:>3}.{beat}   {format_clock(seconds)}")

    def close_bar(self) -> None:
        self.document.unsubscribe(self._document_changed)
