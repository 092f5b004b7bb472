"""PianoRollEditor: the piano roll as the window hosts it: a tool bar (tools, grid), the view,
and the velocity lane under it on the same time axis."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QUndoStack
from PySide6.QtWidgets import QComboBox, QLabel, QSplitter, QToolBar, QVBoxLayout, QWidget

from app.piano_roll.editing import GRID_NAMES, GRID_OFF
from app.piano_roll.velocity_lane import VelocityLane
from app.piano_roll.view import PianoRollView
from engine.document import Document


def grid_label(grid: str) -> str:
    """How the grid chooser names a grid: "Off", "1/16", "1/8 triplet"."""
    if grid == GRID_OFF:
        return "Off"
    return f"{grid[:-1]} triplet" if grid.endswith("t") else grid


class PianoRollEditor(QWidget):
    """`.view` (the PianoRollView: connect to its signals, call its methods), `.velocity_lane`,
    and `.toolbar` (tool buttons and the grid chooser; hide it if the window has its own)."""

    def __init__(self, document: Document, undo_stack: QUndoStack,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.view = PianoRollView(document, undo_stack)
        self.velocity_lane = VelocityLane(self.view)

        self.toolbar = QToolBar("Piano Roll")
        self.toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.toolbar.setMovable(False)
        for action in self.view.tool_actions():
            self.toolbar.addAction(action)
        self.toolbar.addSeparator()
        self.toolbar.addWidget(QLabel(" Grid "))
        self.grid_box = QComboBox()
        self.grid_box.setToolTip("Snap to this grid while drawing, moving and resizing "
                                 "(hold Alt while dragging to place freely)")
        self.grid_box.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # keys stay with the roll
        for grid in GRID_NAMES:
            self.grid_box.addItem(grid_label(grid), grid)
        self.grid_box.setCurrentIndex(GRID_NAMES.index(self.view.grid))
        self.grid_box.activated.connect(lambda i: self.view.set_grid(self.grid_box.itemData(i)))
        self.view.grid_changed.connect(
            lambda grid: self.grid_box.setCurrentIndex(GRID_NAMES.index(grid)))
        self.toolbar.addWidget(self.grid_box)

        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.setHandleWidth(3)
        self.splitter.addWidget(self.view)
        self.splitter.addWidget(self.velocity_lane)
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setStretchFactor(1, 0)
        self.splitter.setSizes([600, 90])

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.toolbar)
        layout.addWidget(self.splitter, 1)
        self.setFocusProxy(self.view)
