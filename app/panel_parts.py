"""What the side panels share: a status line, seed controls, and, for the panels that need a
bundled model, being switched off with the reason when it is missing or will not load."""

from __future__ import annotations

import random

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox, QHBoxLayout, QLabel, QLayout, QSlider, QSpinBox, QToolButton, QVBoxLayout, QWidget,
)

SEED_MAX = 2**31 - 1


class ResetSlider(QSlider):
    """A horizontal slider that a double-click puts back to its resting value."""

    def __init__(self, minimum: int, maximum: int, rest: int = 0, parent: QWidget | None = None) -> None:
        super().__init__(Qt.Orientation.Horizontal, parent)
        self.setRange(minimum, maximum)
        self.rest = rest
        self.setValue(rest)

    def mouseDoubleClickEvent(self, event) -> None:  # noqa: N802 - Qt's name
        self.setValue(self.rest)
        event.accept()


class Section(QWidget):
    """A titled part of a panel that folds away: a header button with an arrow, then the part."""

    def __init__(self, title: str, content: QLayout, open_: bool = True, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.header = QToolButton()
        self.header.setText(title)
        self.header.setCheckable(True)
        self.header.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.header.setStyleSheet("QToolButton { border: none; font-weight: bold; }")
        self.body = QWidget()
        self.body.setLayout(content)
        content.setContentsMargins(0, 0, 0, 0)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.addWidget(self.header)
        layout.addWidget(self.body)
        self.header.toggled.connect(self.set_open)
        self.set_open(open_)

    @property
    def is_open(self) -> bool:
        return self.header.isChecked()

    def set_open(self, open_: bool) -> None:
        self.header.blockSignals(True)
        self.header.setChecked(open_)
        self.header.blockSignals(False)
        self.header.setArrowType(Qt.ArrowType.DownArrow if open_ else Qt.ArrowType.RightArrow)
        self.body.setVisible(open_)


def unique_track_name(base: str, existing) -> str:
    """``base``, or "base 2", "base 3"... the first that no track in ``existing`` (names) has."""
    names = set(existing)
    if base not in names:
        return base
    n = 2
    while f"{base} {n}" in names:
        n += 1
    return f"{base} {n}"


def status_label(text: str = "") -> QLabel:
    """A panel's line of news: wraps, and can be selected and copied."""
    label = QLabel(text)
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


def seed_controls() -> tuple[QSpinBox, QCheckBox, QHBoxLayout]:
    """(seed box, Lock check box, the row holding both); the seed starts at a random value."""
    seed = QSpinBox()
    seed.setRange(0, SEED_MAX)
    seed.setValue(random.randint(0, 9999))
    lock = QCheckBox("Lock")
    lock.setToolTip("The same seed and settings give the same notes")
    row = QHBoxLayout()
    row.addWidget(seed, 1)
    row.addWidget(lock)
    return seed, lock, row


class ModelPanel(QWidget):
    """A panel that works through one bundled model and edits the document through the undo
    stack. Subclasses build their controls, then call `check_model`; `_sync` enables the
    controls from ``model_error``."""

    applied = Signal(int)  # notes added
    device_known = Signal(str)  # where the model runs ("CPU" or the GPU's name), once loaded

    def __init__(self, document, undo_stack, bridge, view, model: str, label: str, off: str,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.undo_stack = undo_stack
        self.bridge = bridge
        self.view = view
        self.model_name, self.model_label, self.off = model, label, off
        self.model_error: str | None = None
        self.status = status_label()

    def check_model(self, hint: str) -> None:
        """Off, with the reason, when the model's weights are not there (nothing is loaded)."""
        from engine.registry import not_installed

        why = not_installed(self.model_name, self.model_label)
        if why:
            self.disable(f"{why}, so {self.off}. Everything else works.")
        else:
            self.status.setText(hint)

    def disable(self, why: str) -> None:
        self.model_error = why
        self.status.setText(why)
        self._sync()

    def job_failed(self, message: str, loaded: bool) -> None:
        """A job failed: a model that never loaded turns the panel off; otherwise say why."""
        if not loaded:
            self.disable(f"{self.model_label} could not be loaded, so {self.off}: {message}")
        else:
            self.status.setText(message)

    def _sync(self) -> None:
        raise NotImplementedError
