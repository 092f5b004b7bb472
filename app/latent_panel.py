"""The Latent panel: MusicVAE in the window.

- Slots A and B (and C and D, for the pad) take a melody from the selection (or the active track when nothing is
  selected), or from a MIDI file dropped on them.
- Interpolate fills a strip with N small piano rolls from the real A to the real B; clicking one
  plays it and shows it in the piano roll as ghost notes; dragging one onto the piano roll adds
  it there as a new track (one undo step).
- The A-B slider, the attribute sliders (-2 to +2), the "similar" slider and the temperature
  describe one point of the latent space; moving any of them previews that melody live as ghost
  notes (the newest request wins on the engine thread, so the window never waits).
- The four-corner pad blends four melodies (A, B, C, D) at once, bilinearly in latent space.
- Sample fills the strip with N new melodies (the seed can be locked).
- Apply puts the melody on show into the sketch as a new track: one undo step.

Every model call runs on the engine thread; the model loads there at first use. A missing or
damaged model disables the panel with the reason, and the rest of the window works.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QColor, QDrag, QPainter, QUndoStack
from PySide6.QtWidgets import (
    QApplication,
    QDoubleSpinBox,
    QFormLayout,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QComboBox,
    QScrollArea,
    QSlider,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.commands import push
from app.engine_bridge import EngineBridge
from app.panel_parts import SEED_MAX, ModelPanel, ResetSlider, Section, seed_controls, unique_track_name
from app.piano_roll.clipboard import melody_mime
from engine.document import AddTrack, Document
from engine.errors import MeterError
from engine.generate.requests import VAE_LONG_NAME, VAE_NAME, Interpolate, LatentPoint, Melodies, PadPoint, Sample
from engine.jobs import JobHandle
from engine.music.meter import BAR_TICKS_4_4, melody_span
from engine.music.sketch import Note, Track
from engine.registry import not_installed

MODEL = VAE_NAME
LONG_MODEL = VAE_LONG_NAME
BAR_TICKS = BAR_TICKS_4_4  # MusicVAE works in 4/4 bars of 16 sixteenths
LONG_TICKS = 16 * BAR_TICKS  # the 16-bar model's window (16 bars of 4/4, 32 of 2/4)
BAR_CHOICES = ("Auto", "2 bars", "16 bars")  # Auto: 16 bars when A or B is at least that long
STRIP_HISTORY = 8  # strips kept for Back and Forward
ATTRIBUTE_LABELS = {  # model key -> what a composer calls it
    "note_density": "Note density",
    "mean_interval": "Interval size",
    "syncopation_16th": "Syncopation (16ths)",
    "syncopation_8th": "Syncopation (8ths)",
    "c_diatonic": "Diatonic (white keys)",
}
SLIDER_STEPS = 20  # an attribute slider moves in tenths from -2 to +2


class MelodyThumb(QFrame):
    """A small piano roll of one melody; click it to choose it."""

    clicked = Signal()

    def __init__(self, track: Track | None = None, caption: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.track = track
        self.caption = caption
        self.selected = False
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setMinimumSize(96, 56)
        self.setCursor(Qt.CursorShape.PointingHandCursor)

    def set_track(self, track: Track | None, caption: str = "") -> None:
        self.track, self.caption = track, caption
        self.setToolTip(f"{caption}: {len(track.notes)} notes" if track is not None else "")
        self.update()

    def set_selected(self, on: bool) -> None:
        self.selected = on
        self.update()

    def mousePressEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        self._press = event.position() if event.button() == Qt.MouseButton.LeftButton else None
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event) -> None:  # noqa: N802
        # A drag carries the melody to the piano roll, which adds it where it is dropped.
        press = getattr(self, "_press", None)
        if press is None or self.track is None or not self.track.notes:
            return
        if (event.position() - press).manhattanLength() < QApplication.startDragDistance():
            return
        self._press = None
        drag = QDrag(self)
        drag.setMimeData(melody_mime(self.track.notes))
        drag.setPixmap(self.grab().scaledToHeight(40))
        drag.exec(Qt.DropAction.CopyAction)

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802
        if getattr(self, "_press", None) is not None and self.track is not None:
            self.clicked.emit()
        self._press = None
        super().mouseReleaseEvent(event)

    def paintEvent(self, event) -> None:  # noqa: N802
        painter = QPainter(self)
        try:
            rect = QRectF(self.rect()).adjusted(2, 2, -2, -2)
            painter.fillRect(rect, QColor("#25282e"))
            if self.selected:
                painter.setPen(QColor("#ffd166"))
                painter.drawRect(rect.adjusted(0, 0, -1, -1))
            notes = self.track.notes if self.track is not None else []
            if notes:
                end = max(max(n.end_tick for n in notes), BAR_TICKS * 2)
                low = min(n.pitch for n in notes) - 2
                high = max(n.pitch for n in notes) + 2
                span = max(high - low, 12)
                body = rect.adjusted(3, 3, -3, -14)
                for n in notes:
                    x = body.left() + body.width() * n.start_tick / end
                    w = max(body.width() * (n.end_tick - n.start_tick) / end, 1.5)
                    y = body.top() + body.height() * (high - n.pitch) / span
                    painter.fillRect(QRectF(x, y, w, max(body.height() / span, 2.0)), QColor("#f5a524"))
            painter.setPen(QColor("#c9ced8"))
            painter.drawText(rect.adjusted(4, 0, -4, -2), int(Qt.AlignmentFlag.AlignBottom
                                                              | Qt.AlignmentFlag.AlignLeft), self.caption)
        finally:
            painter.end()


class LatentPad(QWidget):
    """The four-corner pad: A top left, B top right, C bottom left, D bottom right; drag the dot
    to blend the four melodies."""

    moved = Signal(float, float)  # u (left to right), v (top to bottom), each 0..1

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.u, self.v = 0.0, 0.0
        self.setMinimumSize(120, 120)
        self.setMaximumHeight(160)
        self.setToolTip("Drag between the four corners to blend melodies A, B, C and D")
        self.setCursor(Qt.CursorShape.CrossCursor)

    def _area(self) -> QRectF:
        side = min(self.width(), self.height()) - 16
        return QRectF((self.width() - side) / 2, 8, side, side)

    def set_position(self, u: float, v: float, emit: bool = True) -> None:
        self.u, self.v = min(max(u, 0.0), 1.0), min(max(v, 0.0), 1.0)
        self.update()
        if emit:
            self.moved.emit(self.u, self.v)

    DOT = 5.0  # the dot's radius: its centre keeps this far inside the box

    def _at(self, event) -> None:
        area, r = self._area(), self.DOT
        pos = event.position()
        self.set_position((pos.x() - area.left() - r) / (area.width() - 2 * r),
                          (pos.y() - area.top() - r) / (area.height() - 2 * r))

    def mousePressEvent(self, event) -> None:  # noqa: N802
        if self.isEnabled() and event.button() == Qt.MouseButton.LeftButton:
            self._at(event)

    def mouseMoveEvent(self, event) -> None:  # noqa: N802
        if self.isEnabled() and event.buttons() & Qt.MouseButton.LeftButton:
            self._at(event)

    def paintEvent(self, event) -> None:  # noqa: N802
        painter = QPainter(self)
        try:
            area = self._area()
            painter.fillRect(area, QColor("#25282e" if self.isEnabled() else "#1c1e22"))
            painter.setPen(QColor("#606778"))
            painter.drawRect(area)
            painter.setPen(QColor("#c9ced8"))
            for label, (x, y) in zip("ABCD", ((0, 0), (1, 0), (0, 1), (1, 1))):
                painter.drawText(QRectF(area.left() + x * (area.width() - 14) + 2,
                                        area.top() + y * (area.height() - 16), 12, 16),
                                 int(Qt.AlignmentFlag.AlignCenter), label)
            if self.isEnabled():
                r = self.DOT  # the dot stays inside the box, even in a corner
                cx = area.left() + r + self.u * (area.width() - 2 * r)
                cy = area.top() + r + self.v * (area.height() - 2 * r)
                painter.setBrush(QColor("#ffd166"))
                painter.setPen(Qt.PenStyle.NoPen)
                painter.drawEllipse(QRectF(cx - r, cy - r, 2 * r, 2 * r))
        finally:
            painter.end()


class SlotBox(QWidget):
    """Slot A or B: a thumbnail, a button to take the selection, and a MIDI file drop target."""

    def __init__(self, name: str, panel: "LatentPanel") -> None:
        super().__init__()
        self.name = name
        self.panel = panel
        self.thumb = MelodyThumb(caption=f"{name}: empty")
        self.thumb.setMinimumSize(120, 64)
        self.take = QPushButton(f"Set {name}")
        self.take.setToolTip(f"Put the selected notes (or the active track) in slot {name}; "
                             "or drop a MIDI file here")
        self.take.clicked.connect(lambda: panel.fill_slot(name))
        self.thumb.clicked.connect(lambda: panel.audition_slot(name))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.thumb)
        layout.addWidget(self.take)
        self.setAcceptDrops(True)

    def dragEnterEvent(self, event) -> None:  # noqa: N802
        if any(u.toLocalFile().lower().endswith((".mid", ".midi")) for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802
        for url in event.mimeData().urls():
            path = url.toLocalFile()
            if path.lower().endswith((".mid", ".midi")):
                self.panel.fill_slot_from_file(self.name, path)
                event.acceptProposedAction()
                return


class LatentPanel(ModelPanel):
    def __init__(self, document: Document, undo_stack: QUndoStack, bridge: EngineBridge, view,
                 transport=None, parent: QWidget | None = None) -> None:
        super().__init__(document, undo_stack, bridge, view, MODEL, "MusicVAE", "the latent panel is off", parent)
        self.setObjectName("latent-panel")
        self.transport = transport
        self._request = None  # the MusicVAE request last sent
        self._sent: dict[str, tuple[object, Callable[[], object]]] = {}  # by job key: (request, how to ask again)
        self._fallback_note: str | None = None  # said once, beside the next result, after a fall back to 2 bars
        self.slots: dict[str, Track | None] = dict.fromkeys("ABCD")
        self.offsets: dict[str, int] = dict.fromkeys("ABCD", 0)  # where each slot's melody began (ticks)
        self.lengths: dict[str, int] = dict.fromkeys("ABCD", 0)  # and how long its bars were
        self.current: Track | None = None  # the melody on show (at bar 0)
        self._strip_kind = "step"  # what the strip holds: interpolation "step"s or "sample"s
        self._strip_job_kind = "step"
        self.current_name = "Latent"  # what made it ("A\u2192B 40%", "Sample 2"): the name Apply gives its track
        self._preview_name = "Latent"
        self._preview_job: JobHandle | None = None
        self._strip_job: JobHandle | None = None
        self.previews_shown = 0

        self.slot_boxes = {name: SlotBox(name, self) for name in "ABCD"}
        self.slot_a, self.slot_b = self.slot_boxes["A"], self.slot_boxes["B"]
        slots_row = QHBoxLayout()
        slots_row.addWidget(self.slot_a)
        slots_row.addWidget(self.slot_b)
        self.pad = LatentPad()
        self.pad.moved.connect(self.preview_pad)
        pad_slots = QVBoxLayout()
        pad_slots.addWidget(self.slot_boxes["C"])
        pad_slots.addWidget(self.slot_boxes["D"])
        pad_row = QHBoxLayout()
        pad_row.addLayout(pad_slots)
        pad_row.addWidget(self.pad, 1)

        self.steps = QSpinBox()
        self.steps.setRange(2, 16)
        self.steps.setValue(7)
        self.steps.setToolTip("How many melodies from A to B, A and B included")
        self.interpolate_button = QPushButton("Interpolate")
        self.interpolate_button.clicked.connect(self.interpolate)
        self.sample_count = QSpinBox()
        self.sample_count.setRange(1, 16)
        self.sample_count.setValue(4)
        self.sample_button = QPushButton("Sample")
        self.sample_button.setToolTip("New melodies from the model's imagination")
        self.sample_button.clicked.connect(self.sample)
        self.bars = QComboBox()
        self.bars.addItems(BAR_CHOICES)
        self.long_error: str | None = None
        self.bars.setToolTip("Which model reads and writes the melodies: 2 bars at a time, or 16 bars "
                             "with long-term structure. Auto: 16 bars when A or B is 16 bars or longer")
        why = not_installed(LONG_MODEL, "The 16-bar MusicVAE")
        if why:
            self._long_unavailable(why)
        self.bars.currentIndexChanged.connect(self._bars_changed)
        strip_row = QHBoxLayout()
        strip_row.addWidget(self.bars)
        strip_row.addWidget(QLabel("Steps"))
        strip_row.addWidget(self.steps)
        strip_row.addWidget(self.interpolate_button)
        strip_row.addStretch(1)
        strip_row.addWidget(self.sample_count)
        strip_row.addWidget(self.sample_button)
        # The last few strips: a new Sample never loses the interpolation before it.
        self.history: list[tuple[str, list[Track]]] = []
        self.history_index = -1
        self.back_button = QToolButton()
        self.back_button.setArrowType(Qt.ArrowType.LeftArrow)
        self.back_button.setToolTip("The strip before this one")
        self.back_button.clicked.connect(lambda: self.go_history(-1))
        self.forward_button = QToolButton()
        self.forward_button.setArrowType(Qt.ArrowType.RightArrow)
        self.forward_button.setToolTip("The strip after this one")
        self.forward_button.clicked.connect(lambda: self.go_history(+1))
        strip_row.insertWidget(0, self.back_button)
        strip_row.insertWidget(1, self.forward_button)

        self.strip = QWidget()
        self.strip_layout = QHBoxLayout(self.strip)
        self.strip_layout.setContentsMargins(0, 0, 0, 0)
        self.strip_layout.addStretch(1)
        self.thumbs: list[MelodyThumb] = []
        strip_scroll = QScrollArea()
        strip_scroll.setWidget(self.strip)
        strip_scroll.setWidgetResizable(True)
        strip_scroll.setFixedHeight(90)

        self.blend = ResetSlider(0, 100)
        self.blend.setToolTip("Slide from A (left) to B (right); the piano roll shows the melody there. "
                              "Double-click: back to A")
        self.blend.valueChanged.connect(self.preview)
        self.blend.valueChanged.connect(self._follow_blend)
        self.blend_value = QLabel("0%")
        self.blend_value.setMinimumWidth(34)
        self.blend.valueChanged.connect(lambda v: self.blend_value.setText(f"{v}%"))
        blend_row = QHBoxLayout()
        blend_row.addWidget(QLabel("A"))
        blend_row.addWidget(self.blend, 1)
        blend_row.addWidget(QLabel("B"))
        blend_row.addWidget(self.blend_value)

        self.attribute_sliders: dict[str, QSlider] = {}
        grid = QGridLayout()
        for row, (key, label) in enumerate(ATTRIBUTE_LABELS.items()):
            slider = ResetSlider(-SLIDER_STEPS, SLIDER_STEPS)
            slider.setToolTip(f"Less ({-2}) or more (+2) {label.lower()} than melody A; double-click: 0")
            value = QLabel("0.0")
            value.setMinimumWidth(30)
            slider.valueChanged.connect(lambda v, lab=value: lab.setText(f"{v / 10:+.1f}" if v else "0.0"))
            slider.valueChanged.connect(self.preview)
            grid.addWidget(QLabel(label), row, 0)
            grid.addWidget(slider, row, 1)
            grid.addWidget(value, row, 2)
            self.attribute_sliders[key] = slider
        row = len(ATTRIBUTE_LABELS)
        self.similar = ResetSlider(0, 100, rest=100)
        self.similar.setToolTip("100%: the melody itself; lower: variations further and further away. "
                                "Double-click: 100%")
        similar_value = QLabel("100%")
        self.similar.valueChanged.connect(lambda v: similar_value.setText(f"{v}%"))
        self.similar.valueChanged.connect(self.preview)
        grid.addWidget(QLabel("Similar"), row, 0)
        grid.addWidget(self.similar, row, 1)
        grid.addWidget(similar_value, row, 2)

        self.temperature = QDoubleSpinBox()
        self.temperature.setRange(0.0, 2.0)
        self.temperature.setSingleStep(0.1)
        self.temperature.setValue(0.0)
        self.temperature.setSpecialValueText("off (most likely notes)")
        self.temperature.setToolTip("0: always the most likely notes; higher: more surprising")
        self.temperature.valueChanged.connect(self.preview)
        self.seed, self.lock_seed, seed_row = seed_controls()
        self.seed.valueChanged.connect(self.preview)
        form = QFormLayout()
        form.addRow("Temperature", self.temperature)
        form.addRow("Seed", seed_row)

        self.apply_button = QPushButton("Apply")
        self.apply_button.setToolTip("Add the melody on show to the sketch as a new track")
        self.apply_button.clicked.connect(self.apply)
        # The common path first (A, B, interpolate, the strip, the A-B slider, Apply); the
        # attribute sliders and the four corners fold away below it.
        layout = QVBoxLayout(self)
        layout.addLayout(slots_row)
        layout.addLayout(strip_row)
        layout.addWidget(strip_scroll)
        layout.addLayout(blend_row)
        layout.addWidget(self.apply_button)
        layout.addWidget(self.status)
        variations = QVBoxLayout()
        variations.addLayout(grid)
        variations.addLayout(form)
        self.attributes_section = Section("Attributes and variations", variations, open_=True)
        self.corners_section = Section("Four corners (C, D and the pad)", pad_row, open_=False)
        layout.addWidget(self.attributes_section)
        layout.addWidget(self.corners_section)
        layout.addStretch(1)

        view.melody_dropped.connect(self.drop)
        self.check_model("Put a melody in A (and B), then interpolate, slide or sample.")
        self._sync()

    # -- state ---------------------------------------------------------------------------------

    def _sync(self) -> None:
        ok = self.model_error is None
        has_a, has_b = self.slots["A"] is not None, self.slots["B"] is not None
        for w in (*(box.take for box in self.slot_boxes.values()), self.sample_button, self.sample_count,
                  self.temperature, self.seed, self.lock_seed):
            w.setEnabled(ok)
        self.pad.setEnabled(ok and all(self.slots[name] is not None for name in "ABCD"))
        self.interpolate_button.setEnabled(ok and has_a and has_b)
        self.steps.setEnabled(ok and has_a and has_b)
        self.blend.setEnabled(ok and has_a and has_b)
        for w in (*self.attribute_sliders.values(), self.similar):
            w.setEnabled(ok and has_a)
        self.apply_button.setEnabled(ok and self.current is not None and bool(self.current.notes))
        self.back_button.setEnabled(self.history_index > 0)
        self.forward_button.setEnabled(0 <= self.history_index < len(self.history) - 1)

    # -- slots ---------------------------------------------------------------------------------

    def fill_slot(self, name: str) -> bool:
        """Slot ``name`` takes the selected notes, or the active track when none are selected."""
        sketch = self.document.sketch
        notes = sorted(self.view.selected_notes())
        if not notes and sketch.tracks:
            active = max(0, min(self.view.active_track, len(sketch.tracks) - 1))
            notes = sorted(sketch.tracks[active].notes)
        if not notes:
            self.status.setText(f"There are no notes to put in {name}: select some, or draw a melody first.")
            return False
        return self.set_slot(name, Track(name, 0, False, notes), sketch.time_signatures)

    def fill_slot_from_file(self, name: str, path: str | Path) -> bool:
        from engine.music.melody import extract_melody
        from engine.music.midi_io import read_midi
        from engine.errors import CantusError

        try:
            song = read_midi(path)
            found = extract_melody(song)
        except CantusError as error:
            self.status.setText(str(error))
            return False
        return self.set_slot(name, found.track.copy(sorted(found.track.notes)), song.time_signatures)

    def set_slot(self, name: str, track: Track, time_signatures=None) -> bool:
        """Slot ``name`` holds ``track``'s melody, read from the bar line before its first note
        to the bar line after its last (``time_signatures``' bars; the document's by default).
        The slot keeps it from bar 0, as the model reads it; Apply puts results back there."""
        if not track.notes:
            self.status.setText(f"That has no notes to put in {name}.")
            return False
        meter = self.document.sketch.time_signatures if time_signatures is None else time_signatures
        try:
            start, end = melody_span(meter, track.notes)
        except MeterError as error:
            self.status.setText(str(error))
            return False
        self.slots[name] = track.copy([n.shifted(ticks=-start) for n in track.notes])
        self.offsets[name], self.lengths[name] = start, end - start
        self.slot_boxes[name].thumb.set_track(self.slots[name], f"{name}: {len(track.notes)} notes")
        self.status.setText(f"{name} holds {len(track.notes)} notes.")
        self._sync()
        return True

    def audition_slot(self, name: str) -> None:
        track = self.slots[name]
        if track is not None and self.transport is not None:
            self.transport.audition(track.copy([n.shifted(ticks=self.offsets[name]) for n in track.notes]))

    # -- requests to the engine -----------------------------------------------------------------

    def model_for(self, sampling: bool = False) -> str:
        """The bundle the next request runs: the Bars choice, or under Auto the 16-bar model when
        slot A or B holds 16 bars or more (and it is installed); Sample under Auto writes 2 bars."""
        choice = self.bars.currentIndex()
        if self.long_error is not None or choice == 1:
            return MODEL
        if choice == 2:
            return LONG_MODEL
        longest = max((self.lengths[n] for n in "AB" if self.slots[n] is not None), default=0)
        return LONG_MODEL if not sampling and longest >= LONG_TICKS else MODEL

    def _bars_changed(self, index: int) -> None:
        self.status.setText(("Auto: 16 bars at a time when A or B is 16 bars or longer, else 2.",
                             "Melodies are read and written 2 bars at a time.",
                             "Melodies are read and written 16 bars at a time, with long-term structure.")[index])
        self.preview()

    def point(self) -> LatentPoint:
        """The point the controls describe, as a request."""
        attributes = tuple((k, s.value() / 10) for k, s in self.attribute_sliders.items() if s.value())
        temperature = float(self.temperature.value()) or None
        similarity = self.similar.value() / 100
        seed = int(self.seed.value()) if (temperature or similarity < 1.0) else None
        return LatentPoint(self.slots["A"], self.slots["B"], self.blend.value() / 100, attributes,
                           similarity, temperature, seed, model=self.model_for())

    def _submit(self, request, key: str, name: str, on_done, again: Callable[[], object]) -> JobHandle:
        self._request = request
        self._sent[key] = (request, again)
        return self.bridge.submit(request.run, key=key, name=name, on_done=on_done, on_failed=self._failed)

    def preview(self, *_args) -> JobHandle | None:
        """Decode the point the controls describe and show it as ghosts (newest request wins)."""
        if self.model_error is not None or self.slots["A"] is None:
            return None
        point = self.point()
        self._preview_job = self._submit(point, "latent-preview", "Previewing the melody", self._preview_done,
                                         self.preview)
        self._preview_name = f"A\u2192B {round(100 * point.t)}%" if point.t > 0 else "A varied"
        return self._preview_job

    def preview_pad(self, u: float, v: float) -> JobHandle | None:
        """Decode the blend of the four corners at (u, v) and show it as ghosts (newest wins)."""
        corners = [self.slots[name] for name in "ABCD"]
        if self.model_error is not None or any(c is None for c in corners):
            return None
        temperature = float(self.temperature.value()) or None
        seed = int(self.seed.value()) if temperature else None
        request = PadPoint(tuple(corners), u, v, temperature, seed, model=self.model_for())
        self._preview_job = self._submit(request, "latent-preview", "Previewing the melody",
                                         self._preview_done, lambda: self.preview_pad(u, v))
        self._preview_name = f"Pad {round(100 * u)}%, {round(100 * v)}%"
        return self._preview_job

    def interpolate(self) -> JobHandle | None:
        a, b = self.slots["A"], self.slots["B"]
        if self.model_error is not None or a is None or b is None:
            return None
        self._strip_job_kind = "step"  # what the job on its way will fill the strip with
        self._strip_job = self._submit(Interpolate(a, b, int(self.steps.value()), model=self.model_for()),
                                       "latent-strip", "Interpolating", self._strip_done,
                                       self.interpolate)
        return self._strip_job

    def sample(self) -> JobHandle | None:
        if self.model_error is not None:
            return None
        if not self.lock_seed.isChecked():
            self.seed.blockSignals(True)
            self.seed.setValue(random.randint(0, SEED_MAX))
            self.seed.blockSignals(False)
        n, seed = int(self.sample_count.value()), int(self.seed.value())
        temperature = float(self.temperature.value()) or 1.0
        self._strip_job_kind = "sample"
        self._strip_job = self._submit(Sample(n, temperature, seed, model=self.model_for(sampling=True)), "latent-strip",
                                       "Sampling melodies", self._strip_done, self.sample)
        return self._strip_job

    # -- back on the GUI thread ----------------------------------------------------------------

    def _place(self, track: Track) -> list[Note]:
        """The notes of a model's melody (at bar 0) where slot A's melody began, and no longer
        than the slots' melodies (the model writes whole windows of 2 or 16 bars: three bars come
        back as four, a bar of 2/4 as two)."""
        if self.slots["A"] is None:
            return list(track.notes)
        offset = self.offsets["A"]
        length = max(self.lengths[name] for name in "AB" if self.slots[name] is not None)
        return [replace(n, start_tick=n.start_tick + offset, end_tick=min(n.end_tick, length) + offset)
                for n in track.notes if n.start_tick < length]

    def show_melody(self, track: Track, name: str = "Latent") -> None:
        """Show a model's melody as ghosts; ``name`` (what made it) names the track Apply adds."""
        self.current, self.current_name = track, name
        self.view.set_proposal(self._place(track), owner=self)
        self._sync()

    def _preview_done(self, handle: JobHandle) -> None:
        if handle is not self._preview_job:
            return  # a preview that was already decoding when a newer one was asked for
        made: Melodies = handle.result
        self.device_known.emit(made.device)
        self._preview_job = None
        self.previews_shown += 1
        self.show_melody(made.track, self._preview_name)
        self.status.setText(self._with_fallback_note(
            f"Preview: {len(made.track.notes)} notes. Apply adds it as a new track."))

    def _strip_done(self, handle: JobHandle) -> None:
        if handle is not self._strip_job:
            return
        made: Melodies = handle.result
        self.device_known.emit(made.device)
        self._strip_job = None
        self._strip_kind = self._strip_job_kind  # not what Back may have shown meanwhile
        self._remember(self._strip_kind, list(made.tracks))
        self._fill_strip(list(made.tracks))

    def _failed(self, handle: JobHandle, message: str) -> None:
        if handle not in (self._preview_job, self._strip_job):
            return
        key = "latent-preview" if handle is self._preview_job else "latent-strip"
        self._preview_job = self._strip_job = None
        request, again = self._sent[key]
        if request.model == LONG_MODEL and not request.loaded and self.long_error is None:
            # A damaged 16-bar bundle costs the 16-bar choice, not the panel: 2 bars at a time from here
            self._long_unavailable(f"The 16-bar MusicVAE could not be loaded: {message.rstrip('.')}")
            self._fallback_note = ("The 16-bar MusicVAE could not be loaded, so melodies are read and written "
                                   "2 bars at a time (the Bars list says why).")
            self.status.setText(self._fallback_note)
            again()
            return
        self.job_failed(message, loaded=request.loaded)

    def _long_unavailable(self, why: str) -> None:
        """The 16-bar model cannot be used (not installed, or damaged): its Bars item greys out
        with the reason, and a choice of it goes back to Auto (which then means 2 bars)."""
        self.long_error = why
        self.bars.model().item(2).setEnabled(False)
        self.bars.setToolTip(f"{self.bars.toolTip()}. {why}.")
        if self.bars.currentIndex() == 2:
            self.bars.blockSignals(True)
            self.bars.setCurrentIndex(0)
            self.bars.blockSignals(False)

    def _with_fallback_note(self, text: str) -> str:
        """``text``, after the sentence about falling back to 2 bars the first time it is shown."""
        note, self._fallback_note = self._fallback_note, None
        return f"{note} {text}" if note else text

    def _remember(self, kind: str, tracks: list[Track]) -> None:
        del self.history[self.history_index + 1:]  # a new strip after going back drops the later ones
        self.history.append((kind, list(tracks)))
        del self.history[:-STRIP_HISTORY]
        self.history_index = len(self.history) - 1
        self._sync()

    def go_history(self, step: int) -> bool:
        """Show the strip before (-1) or after (+1) the one on show; False at either end."""
        index = self.history_index + step
        if not 0 <= index < len(self.history):
            return False
        self.history_index = index
        self._strip_kind, tracks = self.history[index]
        self._fill_strip(tracks)
        self._sync()
        return True

    def _fill_strip(self, tracks: list[Track]) -> None:
        for thumb in self.thumbs:
            thumb.setParent(None)
            thumb.deleteLater()
        self.thumbs = []
        sampled = self._strip_kind == "sample"
        for i, track in enumerate(tracks):
            if sampled:
                caption, name = f"#{i + 1}", f"Sample {i + 1}"
            else:
                caption = "A" if i == 0 else "B" if i == len(tracks) - 1 else f"{i}"
                name = f"A\u2192B {round(100 * i / max(len(tracks) - 1, 1))}%"
            thumb = MelodyThumb(track, caption)
            thumb.name = name
            thumb.setToolTip(f"{caption}: {len(track.notes)} notes. Click to hear it and see it in the roll.")
            thumb.clicked.connect(lambda t=thumb: self.choose(t))
            self.strip_layout.insertWidget(self.strip_layout.count() - 1, thumb)
            self.thumbs.append(thumb)
        what = "samples" if sampled else "steps from A to B"
        self.status.setText(self._with_fallback_note(f"{len(tracks)} {what}. Click one to hear it; Apply adds it."))

    def _follow_blend(self, value: int) -> None:
        """The A\u2013B slider over an interpolation strip highlights the step nearest to it."""
        if self._strip_kind != "step" or len(self.thumbs) < 2:
            return
        nearest = round(value / 100 * (len(self.thumbs) - 1))
        for i, t in enumerate(self.thumbs):
            t.set_selected(i == nearest)

    def choose(self, thumb: MelodyThumb) -> None:
        for t in self.thumbs:
            t.set_selected(t is thumb)
        self.show_melody(thumb.track, getattr(thumb, "name", "Latent"))
        if self.transport is not None:
            self.transport.audition(thumb.track.copy(self._place(thumb.track)))

    def apply(self) -> bool:
        """Add the melody on show as a new track where A was (one undo step)."""
        if self.current is None or not self.current.notes:
            return False
        self._add_track(self._place(self.current), self.current_name)
        self.current = None
        self._sync()
        return True

    def drop(self, notes: list[Note], tick: int) -> None:
        """A melody from the strip dropped on the piano roll: a new track from that bar on."""
        if self.model_error is None and notes:
            self._add_track([n.shifted(ticks=int(tick)) for n in notes])

    def _add_track(self, notes: list[Note], name: str = "Latent") -> None:
        sketch = self.document.sketch
        program = sketch.tracks[self.view.active_track].program if sketch.tracks else 0
        track = Track(unique_track_name(name, (t.name for t in sketch.tracks)), program, False, sorted(notes))
        index = len(sketch.tracks)
        push(self.undo_stack, self.document, AddTrack(index, track, label="Apply Melody"), "Apply Melody")
        self.view.set_active_track(index)  # the new track is the one being worked on
        self.view.clear_proposal()
        self.status.setText(f"Added a track of {len(track.notes)} notes. Undo takes it back.")
        self.applied.emit(len(track.notes))
