"""Small vector icons for the transport, drawn (so they stay crisp on any screen), in the
theme's colours."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPainterPath, QPen, QPixmap

ICON_COLOR = QColor("#d6dae2")
PLAY_COLOR = QColor("#4ade80")
STOP_COLOR = QColor("#f87171")
RECORD_COLOR = QColor("#ef4444")
ACCENT_COLOR = QColor("#fbbf24")


def draw_icon(kind: str, color: QColor = ICON_COLOR, size: int = 32) -> QIcon:
    """Small vector icons for the transport (drawn, so they stay crisp on any screen)."""
    icon = QIcon()
    for scale in (1, 2):
        pixmap = QPixmap(size * scale, size * scale)
        pixmap.fill(Qt.GlobalColor.transparent)
        p = QPainter(pixmap)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.scale(size * scale / 32.0, size * scale / 32.0)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(color)
        if kind == "play":
            path = QPainterPath(QPointF(10, 7))
            path.lineTo(25, 16)
            path.lineTo(10, 25)
            path.closeSubpath()
            p.drawPath(path)
        elif kind == "stop":
            p.drawRoundedRect(QRectF(9, 9, 14, 14), 2, 2)
        elif kind == "record":
            p.drawEllipse(QPointF(16, 16), 7.5, 7.5)
        elif kind == "pause":
            p.drawRoundedRect(QRectF(9, 8, 5, 16), 1.5, 1.5)
            p.drawRoundedRect(QRectF(18, 8, 5, 16), 1.5, 1.5)
        elif kind == "loop":
            pen = QPen(color, 2.6)
            pen.setCapStyle(Qt.PenCapStyle.RoundCap)
            p.setPen(pen)
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawArc(QRectF(6, 9, 20, 14), 30 * 16, 300 * 16)
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(color)
            head = QPainterPath(QPointF(27.5, 8.5))
            head.lineTo(27.5, 16.5)
            head.lineTo(20.5, 13.5)
            head.closeSubpath()
            p.drawPath(head)
        elif kind == "metronome":
            body = QPainterPath(QPointF(12, 6))
            body.lineTo(20, 6)
            body.lineTo(25, 26)
            body.lineTo(7, 26)
            body.closeSubpath()
            p.setBrush(Qt.BrushStyle.NoBrush)
            pen = QPen(color, 2.2)
            pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
            p.setPen(pen)
            p.drawPath(body)
            p.drawLine(QPointF(16, 22), QPointF(23, 9))
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(color)
            p.drawEllipse(QPointF(16, 22), 2.2, 2.2)
        p.end()
        icon.addPixmap(pixmap)
    return icon
