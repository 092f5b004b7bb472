"""Colours of the piano roll and its velocity lane: one dark theme, one hue per track."""

from __future__ import annotations

from PySide6.QtGui import QColor


def _color(spec: str, alpha: int | None = None) -> QColor:
    color = QColor(spec)
    if alpha is not None:
        color.setAlpha(alpha)
    return color


class Theme:
    """The colours of the dark theme; a view holds one, so a light theme can come later."""

    background: QColor = _color("#25282e")  # rows of white keys
    black_row: QColor = _color("#1f2126")  # rows of black keys
    row_line: QColor = _color("#2b2e35")
    octave_line: QColor = _color("#3a3f49")
    sub_beat_line: QColor = _color("#2c2f36")
    beat_line: QColor = _color("#383c47")
    bar_line: QColor = _color("#606778")
    past_end_shade: QColor = _color("#000000", 70)
    end_line: QColor = _color("#7a8190")
    ruler_background: QColor = _color("#1a1c20")
    ruler_border: QColor = _color("#3a3e47")
    ruler_text: QColor = _color("#c9ced8")
    ruler_tick: QColor = _color("#6e7584")
    ruler_meter: QColor = _color("#e0b84f")
    white_key: QColor = _color("#e6e7ea")
    white_key_line: QColor = _color("#a4a8b0")
    black_key: QColor = _color("#18191c")
    black_key_edge: QColor = _color("#3b3d42")
    key_label: QColor = _color("#4b4f58")
    key_pressed: QColor = _color("#60a5fa")
    keyboard_border: QColor = _color("#0e0f11")
    legend_background: QColor = _color("#15171a", 215)
    legend_text: QColor = _color("#d6dae2")
    legend_text_faint: QColor = _color("#7d8594")
    legend_active: QColor = _color("#ffffff", 28)
    placeholder_text: QColor = _color("#8d94a3")
    # Editing.
    selection_outline: QColor = _color("#ffffff")
    ghost_outline: QColor = _color("#ffffff", 110)
    proposal_fill: QColor = _color("#ffffff", 95)  # notes a model offers, not yet applied
    proposal_outline: QColor = _color("#ffffff", 235)
    rubber_band_fill: QColor = _color("#60a5fa", 45)
    rubber_band_edge: QColor = _color("#93c5fd")
    label_dark: QColor = _color("#0d0e10", 225)
    label_light: QColor = _color("#f4f6fa", 235)
    faint_alpha: int = 72  # tracks other than the active one
    # Transport.
    playhead: QColor = _color("#ffffff", 235)
    loop_ruler: QColor = _color("#3b82f6", 120)
    loop_edge: QColor = _color("#93c5fd")
    loop_area: QColor = _color("#3b82f6", 16)
    # Velocity lane.
    lane_background: QColor = _color("#1c1e22")
    lane_guide: QColor = _color("#2e323a")
    lane_text: QColor = _color("#8d94a3")


# Hues chosen to stay apart from one another on a dark background; beyond these, golden-ratio hues.
TRACK_PALETTE = ("#f5a524", "#38bdf8", "#84cc16", "#f472b6", "#a78bfa", "#fb7158", "#2dd4bf",
                 "#facc15")


def track_color(track_index: int) -> QColor:
    """The base colour of a track: a distinct hue per track index."""
    if track_index < len(TRACK_PALETTE):
        return QColor(TRACK_PALETTE[track_index])
    hue = (0.13 + track_index * 0.618034) % 1.0
    return QColor.fromHsvF(hue, 0.65, 0.95)


def note_fill_color(base: QColor, velocity: int) -> QColor:
    """A track's colour shaded by velocity: soft notes darker and greyer, loud notes full colour."""
    v = max(0, min(velocity, 127)) / 127.0
    h, s, val, _ = base.getHsvF()
    return QColor.fromHsvF(max(h, 0.0), s * (0.55 + 0.45 * v), val * (0.45 + 0.55 * v))


def is_light(color: QColor) -> bool:
    """True when dark text reads better than light text on this colour (relative luminance)."""
    return 0.2126 * color.redF() + 0.7152 * color.greenF() + 0.0722 * color.blueF() > 0.45
