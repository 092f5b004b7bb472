"""The main window's commands and menus as data: what each action says and does, and where each
menu lists it. Keys live in app.shortcuts; the piano roll's own commands in
app.piano_roll.actions (the Edit menu lists them too).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtGui import QAction, QKeySequence

from app.shortcuts import key_sequences

if TYPE_CHECKING:
    from app.main_window import MainWindow


@dataclass(frozen=True)
class WindowAction:
    attr: str  # the window attribute that holds the QAction (``new_action``)
    text: str  # as the menu shows it
    shortcut: str | None  # the key of its bindings in app.shortcuts.SHORTCUTS
    slot: str  # what it calls: a window method, or a dotted path from the window ("view.zoom_in"),
    # with the check state (checkable actions) or nothing (``called_bare``)
    tip: str
    checkable: bool = False
    toggled: bool = False  # the slot hears every change of the check (setChecked too), not only clicks
    checked: bool = False
    enabled: bool = True
    called_bare: bool = False  # the slot is called with no arguments (not with triggered's ``checked``)


ACTIONS: tuple[WindowAction, ...] = (
    WindowAction("new_action", "&New", "file.new", "new_document", "Start a new, empty sketch", called_bare=True),
    WindowAction("open_action", "&Open\u2026", "file.open", "_open_dialog", "Open a sketch (.cantus) or a MIDI file",
                 called_bare=True),
    WindowAction("save_action", "&Save", "file.save", "save", "Save the sketch", called_bare=True),
    WindowAction("save_as_action", "Save &As\u2026", "file.save_as", "save_as", "Save the sketch under a new name",
                 called_bare=True),
    WindowAction("import_midi_action", "&Import MIDI\u2026", "file.import_midi", "import_midi",
                 "Add the tracks of a MIDI file to this sketch", called_bare=True),
    WindowAction("export_midi_action", "Export &MIDI\u2026", "file.export_midi", "export_midi",
                 "Write the sketch as a MIDI file", called_bare=True),
    WindowAction("export_wav_action", "Export &WAV\u2026", "file.export_wav", "export_wav",
                 "Render the sketch to a WAV file", called_bare=True),
    WindowAction("quit_action", "&Quit", "file.quit", "close", "Quit Cantus", called_bare=True),
    WindowAction("zoom_in_action", "Zoom &In", "view.zoom_in", "view.zoom_in", "Zoom in on time", called_bare=True),
    WindowAction("zoom_out_action", "Zoom &Out", "view.zoom_out", "view.zoom_out", "Zoom out on time",
                 called_bare=True),
    WindowAction("fit_action", "&Fit to Content", "view.fit", "view.fit_to_content",
                 "Show the whole sketch and all its notes", called_bare=True),
    WindowAction("follow_action", "Follow &Playhead", None, "_follow_toggled",
                 "Scroll the editor with the playhead while playing", checkable=True, checked=True),
    WindowAction("play_action", "&Play", "transport.play", "_toggle_play",
                 "Play from the start point (or where it paused), or pause", called_bare=True),
    WindowAction("stop_action", "&Stop", "transport.stop", "_stop", "Stop and return to the start point",
                 called_bare=True),
    WindowAction("loop_action", "&Loop", "transport.loop", "_loop_toggled",
                 "Loop the loop region (the whole sketch if none is set)", checkable=True),
    WindowAction("loop_selection_action", "Loop &Selection", "transport.loop_selection", "loop_selection",
                 "Loop the selected notes' bars (toggle the loop without a selection)", called_bare=True),
    WindowAction("metronome_action", "&Metronome", "transport.metronome", "transport.set_metronome",
                 "Click each beat while playing (louder on the bar)", checkable=True),
    WindowAction("record_action", "&Record", "transport.record", "record",
                 "Record from the MIDI keyboard into the active track at the start point, after a bar "
                 "of count-in; Stop ends the take", checkable=True, called_bare=True),
    WindowAction("count_in_action", "&Count In One Bar", None, "_count_in_toggled",
                 "Click one bar before a take starts", toggled=True),
    WindowAction("quantize_takes_action", "&Quantize Takes", None, "_quantize_takes_toggled",
                 "Snap recorded notes to the piano roll's grid", toggled=True),
    WindowAction("step_input_action", "Step &Input", None, "_step_input_toggled",
                 "Each key on the MIDI keyboard writes a note one grid step long at the start point, "
                 "then moves on", toggled=True),
    WindowAction("step_rest_action", "Step R&est", "transport.step_rest", "recorder.step_rest",
                 "Step input: move on one step without a note", enabled=False, called_bare=True),
    WindowAction("step_back_action", "Step &Back", "transport.step_back", "recorder.step_back",
                 "Step input: move back one step", enabled=False, called_bare=True),
    WindowAction("tempo_action", "&Tempo\u2026", "transport.tempo", "_tempo_dialog", "Set the tempo",
                 called_bare=True),
    WindowAction("meter_action", "Time Si&gnature\u2026", "transport.time_signature", "_meter_dialog",
                 "Set the time signature", called_bare=True),
    WindowAction("add_track_action", "&Add Track", "track.add", "track_list.add_track",
                 "Add an empty track after the selected one", called_bare=True),
    WindowAction("remove_track_action", "&Remove Track", "track.remove", "track_list.remove_track",
                 "Remove the selected track", called_bare=True),
    WindowAction("rename_track_action", "Re&name Track", "track.rename", "_rename_track",
                 "Rename the selected track", called_bare=True),
)

# Each menu: (title, the window attribute that keeps it or None, entries). An entry is an action's
# attribute, "-" for a separator, "@name" for a group that the window fills (see build_menus).
MENUS: tuple[tuple[str, str | None, tuple[str, ...]], ...] = (
    ("&File", None, ("new_action", "open_action", "@recent", "-", "save_action", "save_as_action", "-",
                     "import_midi_action", "export_midi_action", "export_wav_action", "-", "quit_action")),
    ("&Edit", "edit_menu", ("undo_action", "redo_action", "-", "@preferences", "-", "@editor")),
    ("&View", None, ("zoom_in_action", "zoom_out_action", "fit_action", "-", "follow_action", "-", "@panels")),
    ("&Transport", None, ("play_action", "stop_action", "-", "loop_action", "loop_selection_action",
                          "metronome_action", "-", "record_action", "count_in_action", "quantize_takes_action",
                          "step_input_action", "step_rest_action", "step_back_action", "@midi_input", "-",
                          "tempo_action", "meter_action")),
    ("Trac&k", None, ("add_track_action", "remove_track_action", "rename_track_action")),
    ("&Help", None, ("@help",)),
)

# The View menu's toggles for the docks and bars: (window attribute, text).
PANEL_TOGGLES = (("tracks_dock", "&Tracks Panel"), ("latent_dock", "&Latent Panel"),
                 ("continue_dock", "&Continue Panel"), ("render_dock", "&Render Panel"),
                 ("spectrogram_dock", "&Spectrogram"), ("transport_bar", "T&ransport Bar"))


def _resolve(window: MainWindow, path: str):
    target = window
    for part in path.split("."):
        target = getattr(target, part)
    return target


def make_action(window: MainWindow, text: str, shortcut: str | None, slot, tip: str,
                checkable: bool = False, toggled: bool = False) -> QAction:
    """A window-wide action: its keys work even when the menu bar is hidden; the tooltip shows them."""
    action = QAction(text, window)
    if shortcut:
        action.setShortcuts(key_sequences(shortcut))
    action.setStatusTip(tip)
    key = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
    action.setToolTip(f"{tip} ({key})" if key else tip)
    action.setCheckable(checkable or toggled)
    (action.toggled if toggled else action.triggered).connect(slot)
    window.addAction(action)
    return action


def build_actions(window: MainWindow) -> None:
    """Every action of ACTIONS on ``window`` (as its ``attr``), plus undo and redo."""
    for spec in ACTIONS:
        # Looked up when called: some targets (the track list) are made after the actions.
        if spec.called_bare:
            slot = (lambda _checked=False, path=spec.slot: _resolve(window, path)())
        else:
            slot = (lambda checked=False, path=spec.slot: _resolve(window, path)(checked))
        action = make_action(window, spec.text, spec.shortcut, slot, spec.tip, spec.checkable, spec.toggled)
        if spec.checked:
            action.setChecked(True)
        action.setEnabled(spec.enabled)
        setattr(window, spec.attr, action)
    window.undo_action = window.undo_stack.createUndoAction(window, "&Undo")
    window.redo_action = window.undo_stack.createRedoAction(window, "&Redo")
    for action, name in ((window.undo_action, "edit.undo"), (window.redo_action, "edit.redo")):
        action.setShortcuts(key_sequences(name))
        window.addAction(action)


def build_menus(window: MainWindow) -> None:
    """The menu bar, from MENUS."""
    bar = window.menuBar()
    for title, attr, entries in MENUS:
        menu = bar.addMenu(title)
        if attr:
            setattr(window, attr, menu)
        for entry in entries:
            if entry == "-":
                menu.addSeparator()
            elif entry.startswith("@"):
                _fill_group(window, menu, entry[1:])
            else:
                menu.addAction(getattr(window, entry))


def _fill_group(window: MainWindow, menu, group: str) -> None:
    if group == "recent":
        window.recent_menu = menu.addMenu("Open &Recent")
        window.recent_menu.aboutToShow.connect(window._fill_recent_menu)
        window._fill_recent_menu()
    elif group == "preferences":
        window.preferences_action = menu.addAction("&Preferences\u2026", window._preferences_dialog)
        window.preferences_action.setMenuRole(QAction.MenuRole.PreferencesRole)
    elif group == "editor":
        # The editor's commands keep their own shortcut context (they act while the piano roll
        # has focus, so arrows and letters stay free in the track list); the menu lists them.
        for action in window.view.edit_actions():
            menu.addAction(action)
    elif group == "panels":
        for attr, text in PANEL_TOGGLES:
            toggle = getattr(window, attr).toggleViewAction()
            toggle.setText(text)
            menu.addAction(toggle)
    elif group == "midi_input":
        window.midi_input_menu = menu.addMenu("MIDI &Input")
        window.midi_input_menu.aboutToShow.connect(window._fill_midi_menu)
    elif group == "help":
        window.shortcuts_action = menu.addAction("&Keyboard Shortcuts", lambda: window.show_help("shortcuts"))
        window.guide_action = menu.addAction("&User Guide", lambda: window.show_help("guide"))
        menu.addSeparator()
        window.about_action = menu.addAction("&About Cantus", lambda: window.show_help("about"))
    else:
        raise ValueError(f"no menu group {group!r}")
