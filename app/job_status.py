"""The status bar's job field: what the engine thread is doing, how far it is, and Cancel.

A job shorter than `BUSY_SHOW_MS` never flashes the field; a longer one shows its name (or its
last progress message), a bar (busy until the job says how far it is) and a Cancel button that
cancels every job.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QLabel, QProgressBar, QStatusBar, QToolButton

from app.engine_bridge import EngineBridge
from engine.jobs import JobHandle, Progress

BUSY_SHOW_MS = 250  # a job shorter than this never flashes the progress bar


class JobStatus(QObject):
    def __init__(self, bar: QStatusBar, bridge: EngineBridge) -> None:
        super().__init__(bar)
        self.bridge = bridge
        self.label = QLabel()
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(160)
        self.progress.setMaximumHeight(14)
        self.progress.setTextVisible(False)
        self.cancel = QToolButton()
        self.cancel.setText("Cancel")
        self.cancel.setToolTip("Stop the running job")
        self.cancel.clicked.connect(bridge.cancel_all)
        for widget in self._widgets():
            bar.addPermanentWidget(widget)
            widget.hide()
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.timeout.connect(self._show)
        self._closed = False
        bridge.busy_changed.connect(self._busy_changed)
        bridge.started.connect(self._started)
        bridge.progress.connect(self._progress)

    def close(self) -> None:
        """Stops the timer; the field shows nothing more."""
        self._closed = True
        self.timer.stop()

    def _widgets(self):
        return self.label, self.progress, self.cancel

    def _busy_changed(self, busy: bool) -> None:
        if busy:
            if not self.progress.isVisible():
                self.timer.start(BUSY_SHOW_MS)
        else:
            self.timer.stop()
            for widget in self._widgets():
                widget.hide()

    def _show(self) -> None:
        if self.bridge.busy and not self._closed:
            for widget in self._widgets():
                widget.show()

    def _started(self, handle: JobHandle) -> None:
        self.label.setText(f"{handle.name}\u2026")
        self.progress.setRange(0, 0)  # busy until it says how far it is

    def _progress(self, handle: JobHandle, progress: Progress) -> None:
        if progress.message:
            self.label.setText(progress.message + "\u2026")
        if progress.fraction is None:
            self.progress.setRange(0, 0)
        else:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(1000 * min(max(progress.fraction, 0.0), 1.0)))
