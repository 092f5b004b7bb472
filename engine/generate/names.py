"""The bundled models' names (a light module: importing it loads no model code and no torch)."""

MODEL_NAME = "music-transformer"  # continues piano parts (and melodies, without the next)
MELODY_MODEL_NAME = "music-transformer-melody"  # continues melodies, one note at a time
