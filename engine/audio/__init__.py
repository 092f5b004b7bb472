"""Audio: the one mel spectrogram, synthesis, playback and WAV export."""
