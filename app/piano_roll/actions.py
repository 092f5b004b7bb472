"""The piano roll's commands as QActions: texts and groups here, keys in app.shortcuts.

The actions live on the view with a widget-with-children shortcut context, so their keys (plain
arrows and letters among them) work while the piano roll has focus and leave other panels' keys
alone; a menu that lists them still shows and triggers them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QActionGroup

from app.shortcuts import key_sequences

if TYPE_CHECKING:
    from app.piano_roll.view import PianoRollView


@dataclass(frozen=True)
class ActionSpec:
    name: str  # the key of its bindings in app.shortcuts.SHORTCUTS
    text: str  # as the menu shows it
    slot: str  # a method of the view, called with no arguments
    tip: str
    needs_selection: bool = False  # disabled while nothing is selected


EDIT_GROUPS: tuple[tuple[ActionSpec, ...], ...] = (
    (
        ActionSpec("edit.cut", "Cu&t", "cut", "Copy the selected notes and delete them", True),
        ActionSpec("edit.copy", "&Copy", "copy", "Copy the selected notes", True),
        ActionSpec("edit.paste", "&Paste", "paste",
                   "Paste notes at the playhead, or after the selection"),
        ActionSpec("edit.duplicate", "D&uplicate", "duplicate",
                   "Repeat the selected notes right after them", True),
        ActionSpec("edit.delete", "&Delete", "delete_selection", "Delete the selected notes", True),
    ),
    (
        ActionSpec("edit.select_all", "Select &All", "select_all", "Select every note of the track"),
        ActionSpec("edit.select_none", "Select &None", "select_none", "Deselect all notes"),
    ),
    (
        ActionSpec("edit.transpose_up", "Transpose Up", "transpose_up",
                   "Raise the selected notes by a semitone", True),
        ActionSpec("edit.transpose_down", "Transpose Down", "transpose_down",
                   "Lower the selected notes by a semitone", True),
        ActionSpec("edit.octave_up", "Octave Up", "octave_up",
                   "Raise the selected notes by an octave", True),
        ActionSpec("edit.octave_down", "Octave Down", "octave_down",
                   "Lower the selected notes by an octave", True),
        ActionSpec("edit.nudge_left", "Nudge Left", "nudge_left",
                   "Move the selected notes one grid step earlier", True),
        ActionSpec("edit.nudge_right", "Nudge Right", "nudge_right",
                   "Move the selected notes one grid step later", True),
        ActionSpec("edit.quantize", "&Quantize", "quantize",
                   "Snap the selected notes (or the whole track) to the grid"),
        ActionSpec("edit.velocity", "Set &Velocity\u2026", "set_velocity",
                   "Give the selected notes one velocity", True),
    ),
)

TOOL_SPECS: tuple[ActionSpec, ...] = (
    ActionSpec("tool.draw", "&Draw Tool", "draw", "Click to add notes, drag to set their length"),
    ActionSpec("tool.select", "&Select Tool", "select",
               "Click or drag a rectangle to select; drag notes to move them"),
    ActionSpec("tool.erase", "&Erase Tool", "erase", "Click or sweep over notes to delete them"),
)

GRID_SPECS: tuple[ActionSpec, ...] = (
    ActionSpec("grid.finer", "&Finer Grid", "grid_finer", "Halve the grid step"),
    ActionSpec("grid.coarser", "&Coarser Grid", "grid_coarser", "Double the grid step"),
    ActionSpec("grid.triplets", "&Triplet Grid", "toggle_triplets",
               "Switch between straight and triplet grids"),
    ActionSpec("grid.snap", "&Snap to Grid", "toggle_snap", "Snap notes to the grid while editing"),
)


def _make(view: "PianoRollView", spec: ActionSpec, slot: Callable[[], None]) -> QAction:
    action = QAction(spec.text, view)
    action.setObjectName(spec.name)
    action.setShortcuts(key_sequences(spec.name))
    action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
    action.setStatusTip(spec.tip)
    action.setToolTip(spec.tip)
    action.triggered.connect(lambda _checked=False: slot())
    view.addAction(action)
    return action


def _separator(view: "PianoRollView") -> QAction:
    action = QAction(view)
    action.setSeparator(True)
    return action


class PianoRollActions:
    """All of a view's actions by name ("edit.copy", "tool.draw", "grid.snap"...), and the
    lists a menu wants (with separators between groups)."""

    def __init__(self, view: "PianoRollView") -> None:
        self.view = view
        self.by_name: dict[str, QAction] = {}
        self._edit_list: list[QAction] = []
        for i, group in enumerate(EDIT_GROUPS):
            if i:
                self._edit_list.append(_separator(view))
            for spec in group:
                action = _make(view, spec, getattr(view, spec.slot))
                self.by_name[spec.name] = action
                self._edit_list.append(action)

        self.tool_group = QActionGroup(view)
        self.tool_group.setExclusive(True)
        self._tool_list: list[QAction] = []
        for spec in TOOL_SPECS:
            action = _make(view, spec, lambda tool=spec.slot: view.set_tool(tool))
            # A tool is picked for the next gesture in the roll, wherever focus is now (the track
            # list, a panel); a text field being typed in keeps its letters (Qt's shortcut override).
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            action.setCheckable(True)
            action.setData(spec.slot)
            action.setIconText(spec.slot.capitalize())  # "Draw" on a tool bar button
            self.tool_group.addAction(action)
            self.by_name[spec.name] = action
            self._tool_list.append(action)

        self._grid_list: list[QAction] = []
        for spec in GRID_SPECS:
            action = _make(view, spec, getattr(view, spec.slot))
            self.by_name[spec.name] = action
            self._grid_list.append(action)
        self.by_name["grid.triplets"].setCheckable(True)
        self.by_name["grid.snap"].setCheckable(True)
        self._needs_selection = [self.by_name[s.name] for g in EDIT_GROUPS for s in g if s.needs_selection]

    def edit_actions(self) -> list[QAction]:
        """Clipboard, selection and transform commands, then the tools, separated by group."""
        return self._edit_list + [_separator(self.view)] + self._tool_list

    def tool_actions(self) -> list[QAction]:
        return list(self._tool_list)

    def grid_actions(self) -> list[QAction]:
        return list(self._grid_list)

    def all(self) -> list[QAction]:
        return list(self.by_name.values())

    def sync(self) -> None:
        """Enable, check and uncheck to match the view's selection, tool and grid."""
        view = self.view
        has_selection = bool(view.selected_notes())
        for action in self._needs_selection:
            action.setEnabled(has_selection)
        self.by_name["edit.select_none"].setEnabled(has_selection)
        for action in self._tool_list:
            action.setChecked(action.data() == view.tool)
        grid = view.grid
        self.by_name["grid.snap"].setChecked(grid != "off")
        self.by_name["grid.triplets"].setChecked(grid.endswith("t"))
