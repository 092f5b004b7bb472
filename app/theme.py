"""The application's dark look: Fusion style with a dark palette that matches the piano roll."""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

_ROLES = {
    QPalette.ColorRole.Window: "#202226",
    QPalette.ColorRole.WindowText: "#d6dae2",
    QPalette.ColorRole.Base: "#17191c",
    QPalette.ColorRole.AlternateBase: "#1f2226",
    QPalette.ColorRole.ToolTipBase: "#2b2e35",
    QPalette.ColorRole.ToolTipText: "#e6e9ef",
    QPalette.ColorRole.PlaceholderText: "#7d8594",
    QPalette.ColorRole.Text: "#d6dae2",
    QPalette.ColorRole.Button: "#2a2d33",
    QPalette.ColorRole.ButtonText: "#d6dae2",
    QPalette.ColorRole.BrightText: "#ff6b6b",
    QPalette.ColorRole.Light: "#3a3e46",
    QPalette.ColorRole.Midlight: "#30333a",
    QPalette.ColorRole.Mid: "#25282d",
    QPalette.ColorRole.Dark: "#141518",
    QPalette.ColorRole.Shadow: "#0b0c0d",
    QPalette.ColorRole.Highlight: "#3b82f6",
    QPalette.ColorRole.HighlightedText: "#ffffff",
    QPalette.ColorRole.Link: "#60a5fa",
}
_DISABLED_TEXT = "#6b7280"


def dark_palette() -> QPalette:
    palette = QPalette()
    for role, color in _ROLES.items():
        palette.setColor(role, QColor(color))
    for role in (QPalette.ColorRole.WindowText, QPalette.ColorRole.Text,
                 QPalette.ColorRole.ButtonText):
        palette.setColor(QPalette.ColorGroup.Disabled, role, QColor(_DISABLED_TEXT))
    return palette


def apply_dark_theme(app: QApplication) -> None:
    """Give the whole application the Fusion style and the dark palette."""
    app.setStyle("Fusion")
    app.setPalette(dark_palette())
