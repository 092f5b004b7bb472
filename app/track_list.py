"""The track list: one row per track of the document with its name, instrument, mute and solo.

Every change is an undoable edit of the document (`Document.set_track`, `AddTrack`); the list
redraws itself from the document, so undo, redo and opening a file need nothing special.
Choosing a row makes that track the one the editor draws into.
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap, QUndoStack
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QTableWidget,
    QTableWidgetItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.commands import push
from engine.document import RESET, AddTrack, Document, NoteEdit
from engine.music.sketch import Track

try:  # the editor's track colours, so a row and its notes match
    from app.piano_roll.view import track_color
except ImportError:  # pragma: no cover - the editor moved it; fall back to the same palette
    _PALETTE = ("#f5a524", "#38bdf8", "#84cc16", "#f472b6", "#a78bfa", "#fb7158", "#2dd4bf",
                "#facc15")

    def track_color(track_index: int) -> QColor:
        if track_index < len(_PALETTE):
            return QColor(_PALETTE[track_index])
        return QColor.fromHsvF((0.13 + track_index * 0.618034) % 1.0, 0.65, 0.95)


GM_PROGRAMS = (
    "Acoustic Grand Piano", "Bright Acoustic Piano", "Electric Grand Piano", "Honky-tonk Piano",
    "Electric Piano 1", "Electric Piano 2", "Harpsichord", "Clavinet",
    "Celesta", "Glockenspiel", "Music Box", "Vibraphone", "Marimba", "Xylophone",
    "Tubular Bells", "Dulcimer",
    "Drawbar Organ", "Percussive Organ", "Rock Organ", "Church Organ", "Reed Organ", "Accordion",
    "Harmonica", "Tango Accordion",
    "Acoustic Guitar (nylon)", "Acoustic Guitar (steel)", "Electric Guitar (jazz)",
    "Electric Guitar (clean)", "Electric Guitar (muted)", "Overdriven Guitar",
    "Distortion Guitar", "Guitar Harmonics",
    "Acoustic Bass", "Electric Bass (finger)", "Electric Bass (pick)", "Fretless Bass",
    "Slap Bass 1", "Slap Bass 2", "Synth Bass 1", "Synth Bass 2",
    "Violin", "Viola", "Cello", "Contrabass", "Tremolo Strings", "Pizzicato Strings",
    "Orchestral Harp", "Timpani",
    "String Ensemble 1", "String Ensemble 2", "Synth Strings 1", "Synth Strings 2",
    "Choir Aahs", "Voice Oohs", "Synth Voice", "Orchestra Hit",
    "Trumpet", "Trombone", "Tuba", "Muted Trumpet", "French Horn", "Brass Section",
    "Synth Brass 1", "Synth Brass 2",
    "Soprano Sax", "Alto Sax", "Tenor Sax", "Baritone Sax", "Oboe", "English Horn", "Bassoon",
    "Clarinet",
    "Piccolo", "Flute", "Recorder", "Pan Flute", "Blown Bottle", "Shakuhachi", "Whistle",
    "Ocarina",
    "Lead 1 (square)", "Lead 2 (sawtooth)", "Lead 3 (calliope)", "Lead 4 (chiff)",
    "Lead 5 (charang)", "Lead 6 (voice)", "Lead 7 (fifths)", "Lead 8 (bass + lead)",
    "Pad 1 (new age)", "Pad 2 (warm)", "Pad 3 (polysynth)", "Pad 4 (choir)", "Pad 5 (bowed)",
    "Pad 6 (metallic)", "Pad 7 (halo)", "Pad 8 (sweep)",
    "FX 1 (rain)", "FX 2 (soundtrack)", "FX 3 (crystal)", "FX 4 (atmosphere)",
    "FX 5 (brightness)", "FX 6 (goblins)", "FX 7 (echoes)", "FX 8 (sci-fi)",
    "Sitar", "Banjo", "Shamisen", "Koto", "Kalimba", "Bagpipe", "Fiddle", "Shanai",
    "Tinkle Bell", "Agogo", "Steel Drums", "Woodblock", "Taiko Drum", "Melodic Tom",
    "Synth Drum", "Reverse Cymbal",
    "Guitar Fret Noise", "Breath Noise", "Seashore", "Bird Tweet", "Telephone Ring",
    "Helicopter", "Applause", "Gunshot",
)
assert len(GM_PROGRAMS) == 128

GM_DRUM_KITS = {0: "Standard Kit", 8: "Room Kit", 16: "Power Kit", 24: "Electronic Kit",
                25: "TR-808 Kit", 32: "Jazz Kit", 40: "Brush Kit", 48: "Orchestra Kit",
                56: "Sound FX Kit"}

NAME, INSTRUMENT, MUTE, SOLO = range(4)
ROW_HEIGHT_PX = 30


def program_name(program: int, is_drum: bool = False) -> str:
    if is_drum:
        return GM_DRUM_KITS.get(program, f"Drum Kit {program + 1}")
    return GM_PROGRAMS[program] if 0 <= program < 128 else f"Program {program}"


def _swatch(color: QColor, size: int = 12) -> QIcon:
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    p = QPainter(pixmap)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(color)
    p.drawRoundedRect(1, 1, size - 2, size - 2, 3, 3)
    p.end()
    icon = QIcon()
    for mode in (QIcon.Mode.Normal, QIcon.Mode.Selected, QIcon.Mode.Active):
        icon.addPixmap(pixmap, mode)  # the track's colour, even in the selected row
    return icon


_TOGGLE_STYLE = """
QToolButton {{ border: 1px solid #3a3e46; border-radius: 3px; background: #2a2d33;
              color: #9aa1ae; font-weight: bold; min-width: 20px; min-height: 20px; }}
QToolButton:checked {{ background: {on}; color: #111316; border-color: {on}; }}
"""


class TrackList(QWidget):
    """Rows of tracks over a document; ``track_selected(int)`` when the user picks a row."""

    track_selected = Signal(int)

    def __init__(self, document: Document, undo_stack: QUndoStack,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.undo_stack = undo_stack
        self._syncing = False
        self._rows: list[dict] = []  # per row: its combo and toggle buttons

        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(["Track", "Instrument", "M", "S"])
        self.table.horizontalHeaderItem(MUTE).setToolTip("Mute: the track does not play")
        self.table.horizontalHeaderItem(SOLO).setToolTip("Solo: only soloed tracks play")
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(NAME, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(INSTRUMENT, QHeaderView.ResizeMode.Stretch)
        self.table.setColumnWidth(NAME, 110)
        for column in (MUTE, SOLO):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Fixed)
            self.table.setColumnWidth(column, 30)
        header.setHighlightSections(False)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(ROW_HEIGHT_PX)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked
                                   | QAbstractItemView.EditTrigger.EditKeyPressed)
        self.table.setShowGrid(False)
        self.table.setAlternatingRowColors(True)
        self.table.setIconSize(QSize(12, 12))
        self.table.itemChanged.connect(self._item_changed)
        self.table.currentCellChanged.connect(self._current_changed)

        self.add_button = QToolButton()
        self.add_button.setText("+ Add Track")
        self.add_button.setToolTip("Add an empty track after the selected one")
        self.add_button.clicked.connect(lambda: self.add_track())
        self.remove_button = QToolButton()
        self.remove_button.setText("\u2212 Remove")
        self.remove_button.setToolTip("Remove the selected track (undoable)")
        self.remove_button.clicked.connect(lambda: self.remove_track())
        buttons = QHBoxLayout()
        buttons.setContentsMargins(4, 4, 4, 4)
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.remove_button)
        buttons.addStretch(1)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        self.setMinimumWidth(300)

        document.subscribe(self._document_changed)
        self.sync()
        self.select(0)

    # -- reading the document -----------------------------------------------------------------

    def _document_changed(self, change: object) -> None:
        if change is RESET:
            self.sync()
            self.select(0)
        elif not isinstance(change, NoteEdit):
            self.sync()

    def sync(self) -> None:
        """Make the rows show the document's tracks (widgets are reused, never replaced
        while one of them may be sending the signal that caused the change)."""
        tracks = self.document.sketch.tracks
        current = self.current_track()
        self._syncing = True
        try:
            while len(self._rows) > len(tracks):
                self.table.removeRow(len(self._rows) - 1)
                self._rows.pop()
            while len(self._rows) < len(tracks):
                self._add_row(len(self._rows))
            for row, track in enumerate(tracks):
                self._show(row, track)
        finally:
            self._syncing = False
        self.remove_button.setEnabled(len(tracks) > 1)
        if tracks and (current is None or current >= len(tracks)):
            self.select(min(current or 0, len(tracks) - 1))

    def _add_row(self, row: int) -> None:
        self.table.insertRow(row)
        name = QTableWidgetItem()
        name.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
                      | Qt.ItemFlag.ItemIsEditable)
        name.setToolTip("Double-click (or F2) to rename")
        self.table.setItem(row, NAME, name)
        combo = QComboBox()
        combo.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        combo.setMinimumContentsLength(8)
        combo.setMaxVisibleItems(20)
        combo.currentIndexChanged.connect(lambda _i, r=row: self._program_chosen(r))
        self.table.setCellWidget(row, INSTRUMENT, combo)
        toggles = {}
        for column, text, color, tip in ((MUTE, "M", "#f59e0b", "Mute"),
                                         (SOLO, "S", "#22c55e", "Solo")):
            button = QToolButton()
            button.setText(text)
            button.setCheckable(True)
            button.setToolTip(tip)
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            button.setStyleSheet(_TOGGLE_STYLE.format(on=color))
            button.toggled.connect(lambda on, r=row, c=column: self._toggled(r, c, on))
            holder = QWidget()
            box = QHBoxLayout(holder)
            box.setContentsMargins(0, 0, 0, 0)
            box.addWidget(button, 0, Qt.AlignmentFlag.AlignCenter)
            self.table.setCellWidget(row, column, holder)
            toggles[column] = button
        self._rows.append({"combo": combo, "kind": None, MUTE: toggles[MUTE], SOLO: toggles[SOLO]})

    def _show(self, row: int, track: Track) -> None:
        widgets = self._rows[row]
        item = self.table.item(row, NAME)
        item.setText(track.name or f"Track {row + 1}")
        item.setIcon(_swatch(track_color(row)))
        n = len(track.notes)
        item.setToolTip(f"{track.name or 'Track'}: {n} note{'s' if n != 1 else ''}"
                        + (" (drums)" if track.is_drum else "") + ". Double-click or F2 to rename.")
        combo: QComboBox = widgets["combo"]
        if widgets["kind"] != track.is_drum:  # fill the list for melodic or drum tracks
            combo.clear()
            if track.is_drum:
                for program, name in GM_DRUM_KITS.items():
                    combo.addItem(name, program)
            else:
                for program, name in enumerate(GM_PROGRAMS):
                    combo.addItem(name, program)
            widgets["kind"] = track.is_drum
        index = combo.findData(track.program)
        if index < 0:
            combo.addItem(program_name(track.program, track.is_drum), track.program)
            index = combo.count() - 1
        combo.setCurrentIndex(index)
        combo.setToolTip(f"General MIDI {'drum kit' if track.is_drum else 'program'} "
                         f"{track.program + 1}: {program_name(track.program, track.is_drum)}")
        widgets[MUTE].setChecked(track.mute)
        widgets[SOLO].setChecked(track.solo)

    def mute_button(self, row: int) -> QToolButton:
        return self._rows[row][MUTE]

    def solo_button(self, row: int) -> QToolButton:
        return self._rows[row][SOLO]

    def instrument_box(self, row: int) -> QComboBox:
        return self._rows[row]["combo"]

    # -- writing to the document --------------------------------------------------------------

    def _item_changed(self, item: QTableWidgetItem) -> None:
        if self._syncing or item.column() != NAME:
            return
        row = item.row()
        name = item.text().strip()
        track = self.document.sketch.tracks[row]
        if not name or name == track.name:
            self.sync()  # an empty name is refused: show the old one again
            return
        push(self.undo_stack, self.document, self.document.set_track(row, name=name),
             "Rename Track")

    def _program_chosen(self, row: int) -> None:
        if self._syncing:
            return
        program = self._rows[row]["combo"].currentData()
        if program is None or program == self.document.sketch.tracks[row].program:
            return
        push(self.undo_stack, self.document, self.document.set_track(row, program=int(program)),
             "Change Instrument")

    def _toggled(self, row: int, column: int, on: bool) -> None:
        if self._syncing:
            return
        if column == MUTE:
            push(self.undo_stack, self.document, self.document.set_track(row, mute=on),
                 "Mute Track" if on else "Unmute Track")
        else:
            push(self.undo_stack, self.document, self.document.set_track(row, solo=on),
                 "Solo Track" if on else "Unsolo Track")

    def add_track(self) -> int:
        """Add an empty track after the selected one (one undo step); returns its index."""
        tracks = self.document.sketch.tracks
        current = self.current_track()
        index = len(tracks) if current is None else current + 1
        names = {t.name for t in tracks}
        number = len(tracks) + 1
        while f"Track {number}" in names:
            number += 1
        push(self.undo_stack, self.document, AddTrack(index, Track(f"Track {number}")))
        self.select(index)
        return index

    def remove_track(self, index: int | None = None) -> None:
        """Remove a track (the selected one by default) as one undo step; the last one stays."""
        tracks = self.document.sketch.tracks
        index = self.current_track() if index is None else index
        if index is None or len(tracks) <= 1 or not 0 <= index < len(tracks):
            return
        push(self.undo_stack, self.document,
             AddTrack(index, tracks[index].copy(), "Remove Track", remove=True))
        self.select(min(index, len(self.document.sketch.tracks) - 1))

    def rename(self, index: int | None = None) -> None:
        """Start editing a track's name in place."""
        index = self.current_track() if index is None else index
        if index is not None and 0 <= index < self.table.rowCount():
            self.table.setFocus()
            self.table.editItem(self.table.item(index, NAME))

    # -- selection ----------------------------------------------------------------------------

    def current_track(self) -> int | None:
        row = self.table.currentRow()
        return row if 0 <= row < len(self._rows) else None

    def select(self, index: int) -> None:
        """Select a row (the editor is told through ``track_selected``)."""
        if 0 <= index < self.table.rowCount() and index != self.table.currentRow():
            self.table.setCurrentCell(index, NAME)
        elif 0 <= index < self.table.rowCount():
            self.track_selected.emit(index)

    def show_active(self, index: int) -> None:
        """Follow the editor's active track without telling it back."""
        if 0 <= index < self.table.rowCount() and index != self.table.currentRow():
            self.table.blockSignals(True)
            self.table.setCurrentCell(index, NAME)
            self.table.blockSignals(False)

    def _current_changed(self, row: int, _column: int, previous_row: int, _pc: int) -> None:
        if row != previous_row and 0 <= row < len(self._rows):
            self.track_selected.emit(row)

    def close_list(self) -> None:
        self.document.unsubscribe(self._document_changed)
