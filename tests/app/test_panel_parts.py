"""What the model panels share: switched off, with the reason, when their model is missing."""

import pytest


@pytest.mark.parametrize("module, cls, button, action", [
    ("app.latent_panel", "LatentPanel", "sample_button", "sample"),
    ("app.continue_panel", "ContinuePanel", "continue_button", "start"),
])
def test_a_missing_model_turns_the_panel_off_with_a_reason(window, tmp_path, monkeypatch, qtbot,
                                                           module, cls, button, action):
    import importlib

    import engine.registry

    monkeypatch.setattr(engine.registry, "MODELS_DIR", tmp_path / "no-models")
    panel_class = getattr(importlib.import_module(module), cls)
    p = panel_class(window.document, window.undo_stack, window.bridge, window.view)
    qtbot.addWidget(p)
    assert p.model_error and "not installed" in p.status.text()
    assert not getattr(p, button).isEnabled() and getattr(p, action)() is None


def test_a_new_tracks_name_is_never_one_already_there():
    from app.panel_parts import unique_track_name

    assert unique_track_name("Continue", ["Melody"]) == "Continue"
    assert unique_track_name("Continue", ["Continue", "Continue 2"]) == "Continue 3"
    assert unique_track_name("Sample 1", ["Sample 1", "Continue 2"]) == "Sample 1 2"
