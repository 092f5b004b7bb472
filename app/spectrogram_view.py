"""The spectrogram view: a mel spectrogram in dB, with seconds and Hz axes and a playhead.

It shows any array on Cantus's one mel scale (engine.audio.mel.MEL): the mel of rendered audio,
or the mel a neural renderer made; and, for comparison, a second one below it on the same time
axis (`set_reference`: the soundfont synth's render of the same notes). Colour levels are fixed (-80 to +20 dB), so two
spectrograms can be compared by eye and quiet passages do not get stretched into noise. The
frequency axis is labelled in Hz at the mel bands where those frequencies fall.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from engine.audio.mel import MEL, MelSpec, mel_band_frequencies

LEVELS_DB = (-80.0, 20.0)
DB_PER_NEPER = 20.0 / math.log(10.0)  # natural-log magnitude to dB
HZ_TICKS = (500, 1000, 2000, 5000, 10000)  # labelled; the minor ones only when there is room
HZ_MINOR_TICKS = (100, 200)
EMPTY_SECONDS = 8.0  # the time axis of an empty view
REFERENCE_MIN_HEIGHT = 110  # pixels per spectrogram when two are shown


def to_db(log_mel: np.ndarray) -> np.ndarray:
    """Natural-log mel magnitudes (what the models and `log_mel` use) in dB."""
    return np.asarray(log_mel, dtype=np.float32) * DB_PER_NEPER


def hz_ticks(spec: MelSpec = MEL, frequencies=HZ_TICKS) -> list[tuple[float, str]]:
    """(band position, label) for round frequencies inside the scale."""
    centers = mel_band_frequencies(spec)
    out = []
    for hz in frequencies:
        if centers[0] <= hz <= centers[-1]:
            position = float(np.interp(hz, centers, np.arange(len(centers)))) + 0.5
            out.append((position, f"{hz // 1000}k" if hz >= 1000 else str(hz)))
    return out


EMPTY_CAPTION = "Play or render the sketch to see its spectrogram."


class SpectrogramView(QWidget):
    """``set_mel(log_mel)`` shows a (n_mels, frames) array; ``set_playhead(seconds)`` moves the line."""

    def __init__(self, spec: MelSpec = MEL, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("spectrogram")
        self.spec = spec
        self.mel: np.ndarray | None = None
        self.reference: np.ndarray | None = None
        self.plot, self.image = self._mel_plot()
        self.reference_plot, self.reference_image = self._mel_plot()
        self.reference_plot.setXLink(self.plot)
        self.reference_plot.hide()
        self.playhead = pg.InfiniteLine(pos=0.0, angle=90, pen=pg.mkPen("#ffffff", width=1))
        self.playhead.hide()
        self.plot.addItem(self.playhead)
        self.caption = QLabel(EMPTY_CAPTION)
        self.caption.setContentsMargins(6, 2, 6, 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot, 1)
        layout.addWidget(self.reference_plot, 1)
        layout.addWidget(self.caption)

    def _mel_plot(self) -> tuple[pg.PlotWidget, pg.ImageItem]:
        plot = pg.PlotWidget()
        plot.setMenuEnabled(False)
        plot.setMouseEnabled(x=True, y=False)
        plot.setLabel("bottom", "time (s)")
        plot.setLabel("left", "Hz")
        plot.getAxis("left").setTicks([hz_ticks(self.spec), hz_ticks(self.spec, HZ_MINOR_TICKS)])
        plot.setYRange(0, self.spec.n_mels, padding=0)
        plot.setXRange(0, EMPTY_SECONDS, padding=0)
        image = pg.ImageItem(axisOrder="row-major")
        image.setColorMap(pg.colormap.get("inferno"))
        image.setLevels(LEVELS_DB)
        plot.addItem(image)
        return plot, image

    def set_reference(self, log_mel: np.ndarray | None, title: str = "") -> None:
        """Show a second mel spectrogram below the first, on the same time axis (None hides it)."""
        if log_mel is None:
            self.reference = None
            self.reference_image.clear()
            self.reference_plot.hide()
            self.setMinimumHeight(0)
            return
        self.reference = self._draw(self.reference_image, log_mel)
        self.reference_plot.setToolTip(title)
        self.reference_plot.show()
        self.setMinimumHeight(2 * REFERENCE_MIN_HEIGHT)  # both must be readable, not squeezed to a strip

    def _draw(self, image: pg.ImageItem, log_mel: np.ndarray) -> np.ndarray:
        """Check that ``log_mel`` is on the view's mel scale and draw it in ``image``."""
        log_mel = np.asarray(log_mel)
        if log_mel.ndim != 2 or log_mel.shape[0] != self.spec.n_mels:
            raise ValueError(f"a mel spectrogram has {self.spec.n_mels} bands; got shape {log_mel.shape}")
        # Row-major: rows are mel bands (low at the bottom), columns frames; one frame is
        # 1 / frames_per_second seconds wide, one band one unit high.
        image.setImage(to_db(log_mel), levels=LEVELS_DB, autoLevels=False)
        image.setRect(0.0, 0.0, log_mel.shape[1] / self.spec.frames_per_second, float(self.spec.n_mels))
        return log_mel

    @property
    def duration_s(self) -> float:
        return 0.0 if self.mel is None else self.mel.shape[1] / self.spec.frames_per_second

    def set_mel(self, log_mel: np.ndarray | None, caption: str = "") -> None:
        """Show a natural-log mel spectrogram (n_mels, frames); None clears the view."""
        if log_mel is None:
            self.mel = None
            self.image.clear()
            self.plot.setXRange(0, EMPTY_SECONDS, padding=0)
            self.caption.setText(caption or "No spectrogram.")
            return
        self.mel = self._draw(self.image, log_mel)
        self.plot.setXRange(0.0, max(self.duration_s, 0.1), padding=0)
        self.caption.setText(caption or f"{self.duration_s:.1f} s, {LEVELS_DB[0]:g} to {LEVELS_DB[1]:+g} dB")

    def set_playhead(self, seconds: float | None) -> None:
        if seconds is None:
            self.playhead.hide()
            return
        self.playhead.setValue(float(seconds))
        self.playhead.show()
