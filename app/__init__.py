"""Cantus desktop front end (PySide6): main window, piano roll and the `cantus` launcher."""
