"""The main window's questions and help windows: save changes?, recover?, tempo, time
signature, the Preferences dialog, and the Keyboard Shortcuts, User Guide and About windows.

A mixin of `app.main_window.MainWindow`. Every question is a method tests replace.
"""

from __future__ import annotations

import time

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QInputDialog,
    QLabel,
    QMenu,
    QMessageBox,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QTextBrowser,
    QVBoxLayout,
)

from engine.autosave import AutosaveInfo
from engine.errors import CantusError

APP_NAME = "Cantus"
COMMON_METERS = ("4/4", "3/4", "2/4", "6/8", "5/4", "7/8", "9/8", "12/8", "2/2")


class Questions:
    # -- questions (tests replace these) ------------------------------------------------------

    def ask_save_changes(self) -> str:
        """"save", "discard" or "cancel" for the unsaved changes of the document."""
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle(APP_NAME)
        box.setText(f"Save the changes to {self.document.name}?")
        box.setInformativeText("Your changes will be lost if you don't save them.")
        box.setStandardButtons(QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard
                               | QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(QMessageBox.StandardButton.Save)
        answer = box.exec()
        return {QMessageBox.StandardButton.Save: "save",
                QMessageBox.StandardButton.Discard: "discard"}.get(
                    QMessageBox.StandardButton(answer), "cancel")

    def ask_recover(self, info: AutosaveInfo) -> bool:
        """Offer an autosave left by a crash; True to recover it (False discards it)."""
        when = time.strftime("%a %d %b, %H:%M", time.localtime(info.saved_at))
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle("Recover Sketch")
        box.setText(f"Cantus closed without saving {info.name}.")
        box.setInformativeText(f"A copy was kept on {when}. Recover it?")
        recover = box.addButton("Recover", QMessageBox.ButtonRole.AcceptRole)
        box.addButton("Discard", QMessageBox.ButtonRole.DestructiveRole)
        box.setDefaultButton(recover)
        box.exec()
        return box.clickedButton() is recover

    def ask_tempo(self, qpm: float) -> float | None:
        value, ok = QInputDialog.getDouble(self, "Tempo", "Quarter notes per minute:", qpm,
                                           20.0, 400.0, 1)
        return value if ok else None

    def ask_time_signature(self, current: tuple[int, int]) -> tuple[int, int] | None:
        text = f"{current[0]}/{current[1]}"
        items = [text] + [m for m in COMMON_METERS if m != text]
        chosen, ok = QInputDialog.getItem(self, "Time Signature", "Beats / note value:", items,
                                          0, True)
        if not ok:
            return None
        try:
            numerator, denominator = (int(x) for x in chosen.replace(" ", "").split("/"))
        except ValueError:
            self._report_error("Not a time signature",
                               f"'{chosen}' is not a time signature; write it like 3/4 or 6/8.")
            return None
        return numerator, denominator

    def ask_audio_output(self, current: str | None, latency_ms: float) -> tuple[str | None, float] | None:
        """The Preferences dialog: (device name or None for the default, latency in ms), or None."""
        from engine.audio.player import list_output_devices

        dialog = QDialog(self)
        dialog.setWindowTitle("Preferences")
        form = QFormLayout(dialog)
        devices = QComboBox()
        devices.addItem("The system's default output", None)
        try:
            for d in list_output_devices(rescan=self.transport.player is None):
                devices.addItem(f"{d.name} ({d.host_api})", d.name)
        except CantusError as error:
            devices.setToolTip(str(error))
        index = devices.findData(current)
        devices.setCurrentIndex(max(index, 0))
        latency = QSpinBox()
        latency.setRange(5, 500)
        latency.setSuffix(" ms")
        latency.setValue(int(round(latency_ms)))
        latency.setToolTip("Longer is safer from dropouts while a model runs; shorter feels more immediate")
        form.addRow("Sound output", devices)
        form.addRow("Latency", latency)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(dialog.accept)
        buttons.rejected.connect(dialog.reject)
        form.addRow(buttons)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return None
        return devices.currentData(), float(latency.value())

    # -- help -----------------------------------------------------------------------------------

    def shortcut_rows(self) -> list[tuple[str, str, str]]:
        """(menu or "Piano roll", command, keys) for every command that has a key, from the
        actions themselves: what the Keyboard Shortcuts window lists."""
        rows = []
        for menu in self.menuBar().findChildren(QMenu):
            title = menu.title().replace("&", "")
            for action in menu.actions():
                keys = ", ".join(k.toString(QKeySequence.SequenceFormat.NativeText) for k in action.shortcuts())
                if keys and not action.isSeparator():
                    rows.append((title, action.text().replace("&", "").rstrip("\u2026"), keys))
        return rows

    def about_text(self) -> str:
        """Versions, and where the models run (said without loading torch when none has run)."""
        import platform
        import sys

        import PySide6
        from PySide6 import QtCore

        import engine

        torch = sys.modules.get("torch")
        lines = [f"Cantus {engine.__version__}: a sketchbook for melodies, with generative models.",
                 f"Python {platform.python_version()}, PySide6 {PySide6.__version__} (Qt {QtCore.qVersion()})"
                 + (f", PyTorch {torch.__version__}" if torch else ""),
                 self.device_label.text() + ("" if torch else " (PyTorch loads with the first model)"),
                 self.sound_label.toolTip() if self.sound_label.toolTip().startswith("Sound") else self.sound_label.text(),
                 "Every model was trained by Cantus's own code; each bundle's CARD.md says on what and how."]
        return "\n".join(lines)

    def guide_markdown(self) -> str:
        """The README's user guide (its "The window" and "Sound" parts), or a sentence where the
        README is not installed."""
        from engine.registry import readme

        try:
            text = readme().read_text(encoding="utf-8")
        except OSError:
            return "The user guide (README.md) is not installed with this copy of Cantus."
        start = text.find("## The window")
        end = text.find("## Models")
        return text[start:end if end > start else None] if start >= 0 else text

    def show_help(self, kind: str) -> QDialog:
        """Open the Keyboard Shortcuts, User Guide or About window (not modal); returns it."""
        dialog = QDialog(self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        layout = QVBoxLayout(dialog)
        if kind == "shortcuts":
            dialog.setWindowTitle("Keyboard Shortcuts")
            rows = self.shortcut_rows()
            table = QTableWidget(len(rows), 3)
            table.setHorizontalHeaderLabels(["Menu", "Command", "Keys"])
            for r, row in enumerate(rows):
                for c, text in enumerate(row):
                    table.setItem(r, c, QTableWidgetItem(text))
            table.resizeColumnsToContents()
            table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
            layout.addWidget(table)
            dialog.resize(560, 600)
        elif kind == "guide":
            dialog.setWindowTitle("Cantus User Guide")
            browser = QTextBrowser()
            from engine.registry import readme

            # The guide's pictures (docs/*.png) lie beside the README wherever it is installed.
            browser.setSearchPaths([str(readme().parent)])
            browser.setMarkdown(self.guide_markdown())
            layout.addWidget(browser)
            dialog.resize(760, 700)
        else:
            dialog.setWindowTitle("About Cantus")
            label = QLabel(self.about_text())
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            label.setWordWrap(True)
            layout.addWidget(label)
        dialog.show()
        return dialog
