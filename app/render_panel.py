"""The Render panel: what turns notes into sound, for playback and export alike.

A renderer (the soundfont synth, with its soundfont selectable; the built-in synth; or a neural
renderer: MelFlow with the fast vocoder or the WaveNet, with MelFlow's temperature), the bit depth
and sample rate of exports, Render (progress and Cancel in the status bar and here), Play, and
Export WAV. A finished render is drawn in the spectrogram view (a neural one: the mel MelFlow
made). A neural entry whose model is missing is greyed out, its tooltip saying why.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.panel_parts import status_label
from engine.jobs import JobHandle

RENDERER_LABELS = {  # engine.audio.render name -> what a musician reads
    "synth": "Soundfont synth (General MIDI)",
    "builtin": "Built-in synth (no soundfont)",
    "neural-fast": "Neural: MelFlow + fast vocoder",
    "neural-wavenet": "Neural: MelFlow + WaveNet (slow, sample by sample)",
}
NEURAL_VOCODERS = {"neural-fast": "fast", "neural-wavenet": "wavenet"}
WAV_CHOICES = {  # what Export WAV offers: label -> (bits, sample_rate)
    "24-bit, 44.1 kHz (default)": (24, 44100),
    "16-bit, 44.1 kHz (CD)": (16, 44100),
    "24-bit, 48 kHz (video)": (24, 48000),
    "32-bit float, 48 kHz": (32, 48000),
    "16-bit, 22.05 kHz (small)": (16, 22050),
}


class RenderPanel(QWidget):
    def __init__(self, window, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("render-panel")
        self.window_ = window
        self.transport = window.transport
        self.bridge = window.bridge
        self._job: JobHandle | None = None

        self.renderer = QComboBox()
        for name, label in RENDERER_LABELS.items():
            self.renderer.addItem(label, name)
        self.unavailable: dict[str, str] = {}  # renderer -> why it cannot be used
        for name, vocoder in NEURAL_VOCODERS.items():
            self._offer(name, vocoder)
        self.renderer.currentIndexChanged.connect(self._choice_changed)
        self.temperature = QDoubleSpinBox()
        self.temperature.setRange(0.0, 1.0)
        self.temperature.setSingleStep(0.1)
        self.temperature.setDecimals(2)
        self.temperature.setValue(self._model_temperature())
        self.temperature.setToolTip("MelFlow's sampling temperature: 0 plays its most likely mel, "
                                    "higher values let the sound vary more")
        self.temperature.valueChanged.connect(self._choice_changed)
        self.compare = QCheckBox("Compare with the synth")
        self.compare.setToolTip("Draw the soundfont synth's spectrogram of the same notes below a neural render's")
        self.compare.toggled.connect(self._compare_toggled)
        self.soundfont = QLineEdit()
        self.soundfont.setReadOnly(True)
        self.soundfont.setPlaceholderText("the default General MIDI soundfont (TimGM6mb)")
        self.choose_soundfont = QPushButton("Choose…")
        self.choose_soundfont.clicked.connect(self._ask_soundfont)
        self.default_soundfont = QPushButton("Default")
        self.default_soundfont.clicked.connect(lambda: self.set_soundfont(None))
        font_row = QHBoxLayout()
        font_row.addWidget(self.soundfont, 1)
        font_row.addWidget(self.choose_soundfont)
        font_row.addWidget(self.default_soundfont)
        self.wav_format = QComboBox()
        for label, choice in WAV_CHOICES.items():
            self.wav_format.addItem(label, choice)
        self.wav_format.setToolTip("Bit depth and sample rate of exported WAV files; playback uses "
                                   "the sound card's rate")

        form = QFormLayout()
        form.addRow("Renderer", self.renderer)
        form.addRow("Soundfont", font_row)
        form.addRow("Temperature", self.temperature)
        form.addRow("", self.compare)
        form.addRow("Export as", self.wav_format)

        self.render_button = QPushButton("Render")
        self.render_button.setToolTip("Render the sketch now and draw its spectrogram")
        self.render_button.clicked.connect(self.render)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        self.play_button = QPushButton("Play / Stop")
        self.play_button.clicked.connect(self.transport.toggle_play)
        self.export_button = QPushButton("Export WAV…")
        self.export_button.clicked.connect(lambda: self.export())  # not clicked's `checked` as the path
        buttons = QHBoxLayout()
        for b in (self.render_button, self.cancel_button, self.play_button, self.export_button):
            buttons.addWidget(b)
        self.status = status_label("Choose what plays the sketch; Space plays it too.")

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.status)
        layout.addStretch(1)

        self.bridge.finished.connect(self._ended)
        self.bridge.failed.connect(self._failed)
        self.bridge.cancelled.connect(self._ended)
        self._sync()

    @property
    def running(self) -> bool:
        return self._job is not None and not self._job.finished

    def _offer(self, name: str, vocoder: str) -> None:
        """Grey out a neural entry whose model is missing; its tooltip says why."""
        from engine.audio.neural import available

        why = available(vocoder)
        index = self.renderer.findData(name)
        if why is None:
            self.renderer.setItemData(index, "Notes to mel with MelFlow, then to sound with the vocoder",
                                      Qt.ItemDataRole.ToolTipRole)
            return
        self.unavailable[name] = why
        self.renderer.model().item(index).setEnabled(False)
        self.renderer.setItemData(index, why[0].upper() + why[1:] + ".", Qt.ItemDataRole.ToolTipRole)

    @staticmethod
    def _model_temperature() -> float:
        from engine.audio.neural import DEFAULT_TEMPERATURE, MELFLOW_MODEL
        from engine.registry import model_dir

        try:
            import json

            config = json.loads((model_dir(MELFLOW_MODEL) / "config.json").read_text(encoding="utf-8"))
            return float(config.get("temperature", DEFAULT_TEMPERATURE))
        except (OSError, ValueError, TypeError):
            return DEFAULT_TEMPERATURE

    def _sync(self) -> None:
        uses_font = self.renderer.currentData() == "synth"
        for w in (self.soundfont, self.choose_soundfont, self.default_soundfont):
            w.setEnabled(uses_font)
        self.temperature.setEnabled(self.renderer.currentData() in NEURAL_VOCODERS)
        self.compare.setEnabled(self.renderer.currentData() in NEURAL_VOCODERS)
        self.cancel_button.setEnabled(self.running)
        self.render_button.setEnabled(not self.running)

    def _compare_toggled(self) -> None:
        rendered = self.transport.rendered
        if rendered is not None and rendered.mel is not None:  # redraw the neural render shown
            self.window_.show_spectrogram(rendered)

    def _choice_changed(self) -> None:
        font = self.soundfont.text() or None
        name = self.renderer.currentData()
        self.transport.set_renderer(name, font if name == "synth" else None,
                                    self.temperature.value() if name in NEURAL_VOCODERS else None)
        self._sync()

    def set_renderer(self, name: str) -> bool:
        """Choose a renderer; one whose model is missing is refused, and the status says why."""
        if name in self.unavailable:
            self.status.setText(self.unavailable[name][0].upper() + self.unavailable[name][1:] + ".")
            return False
        self.renderer.setCurrentIndex(self.renderer.findData(name))
        return True

    def set_soundfont(self, path: str | Path | None) -> bool:
        """Use this soundfont (None: the default); a file that is not a soundfont is refused."""
        if path is not None:
            path = Path(path)
            if not path.is_file() or path.suffix.lower() not in (".sf2", ".sf3"):
                self.status.setText(f"{path.name} is not a soundfont (.sf2 or .sf3) file.")
                return False
        self.soundfont.setText("" if path is None else str(path))
        self._choice_changed()
        self.status.setText(f"Soundfont: {path.name if path else 'the default (TimGM6mb)'}.")
        return True

    def _ask_soundfont(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Choose a soundfont", "", "Soundfonts (*.sf2 *.sf3)")
        if path:
            self.set_soundfont(path)

    def render(self) -> JobHandle | None:
        self._job = self.transport.render_now()
        if self._job is None:
            self.status.setText("Already rendered: the spectrogram shows it.")
        else:
            self.status.setText(f"Rendering with {self.renderer.currentText().lower()}…")
        self._sync()
        return self._job

    def cancel(self) -> None:
        if self._job is not None:
            self._job.cancel()

    def export(self, path: str | Path | None = None) -> JobHandle | None:
        bits, rate = self.wav_format.currentData()
        return self.window_.export_wav(path, bits=bits, sample_rate=rate)

    def _ended(self, handle: JobHandle) -> None:
        if handle is not self._job:
            return
        self._job = None
        rendered = self.transport.rendered
        if handle.state.value == "cancelled":
            self.status.setText("Render cancelled.")
        elif rendered is not None:
            note = f" ({rendered.note})" if rendered.note else ""
            self.status.setText(f"Rendered {rendered.duration_s:.1f} s with {rendered.renderer}{note}.")
        self._sync()

    def _failed(self, handle: JobHandle, message: str) -> None:
        if handle is not self._job:
            return
        self._job = None
        self.status.setText(message)
        self._sync()
