"""Where things sit in the piano roll: the keyboard strip, the ruler, zoom limits, grips (pixels)."""

KEYBOARD_WIDTH_PX = 52
RULER_HEIGHT_PX = 24
DEFAULT_PX_PER_TICK = 0.1  # a 4/4 bar is 192 px
DEFAULT_PX_PER_SEMITONE = 10.0
MIN_PX_PER_TICK, MAX_PX_PER_TICK = 0.0005, 2.0
MIN_PX_PER_SEMITONE, MAX_PX_PER_SEMITONE = 3.0, 48.0
ZOOM_STEP = 1.25  # per wheel notch and per zoom_in()
PITCH_COUNT = 128
MIN_NOTE_WIDTH_PX = 2.0
RIGHT_EDGE_PX = 6.0  # the grip at a note's right end that resizes it
BLACK_KEY_CLASSES = frozenset({1, 3, 6, 8, 10})
EMPTY_VIEW_BARS = 8  # an empty sketch still shows this many bars
EMPTY_VIEW_PITCHES = (48, 84)  # and C3..C6
FIT_PITCH_PADDING = 2  # semitones above and below the notes
FIT_MIN_PITCH_ROWS = 12
FOLLOW_MARGIN = 0.1  # paging puts the playhead this far (of the width) into the view
LABEL_MIN_HEIGHT_PX = 12.0  # note labels need rows at least this tall
