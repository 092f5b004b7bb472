"""The PySide6 in use does not leak references to None (6.12.0 on Python 3.11 did, and the app
aborted after a few repaints with "Fatal Python error: none_dealloc"; pyproject excludes it)."""

import sys

import pytest
from PySide6.QtCore import QObject


@pytest.mark.skipif(sys.version_info >= (3, 12),
                    reason="None is immortal from Python 3.12 on: its count cannot run out")
def test_void_qt_calls_keep_none_alive():
    probe = QObject()
    probe.setObjectName("probe")
    before = sys.getrefcount(None)
    for _ in range(2000):
        probe.setObjectName("probe")
    assert before - sys.getrefcount(None) < 100
