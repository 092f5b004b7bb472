"""Bundled models: name to folder (config.json, weights.safetensors, CARD.md), loading, and the
one place that picks the device."""

from __future__ import annotations

import json
from pathlib import Path

from engine.errors import CantusError


def _resources_dir() -> Path:
    """The project's resources (models/<name>/, icons/, and the README in an installed copy):
    resources/ beside the source (a checkout, an editable install, the frozen app of packaging/),
    else the installed package ``cantus_resources`` (a wheel; see setup.py)."""
    beside = Path(__file__).resolve().parent.parent / "resources"
    if (beside / "models").is_dir():
        return beside
    from importlib.resources import files

    try:
        return Path(str(files("cantus_resources")))
    except ModuleNotFoundError:
        return beside  # neither: every model reads as not installed, and says where it looked


RESOURCES_DIR = _resources_dir()
MODELS_DIR = RESOURCES_DIR / "models"


def resource(*parts: str) -> Path:
    """A file of the resources, e.g. resource("icons", "cantus.svg")."""
    return RESOURCES_DIR.joinpath(*parts)


def readme() -> Path:
    """The README (its user guide is the Help menu's): installed copies carry it among the
    resources; a checkout has it at the top of the tree."""
    installed = resource("README.md")
    return installed if installed.is_file() else RESOURCES_DIR.parent / "README.md"


class ModelLoadError(CantusError):
    """A model is missing or cannot be loaded; the message says which and why."""


def model_dir(name: str) -> Path:
    return MODELS_DIR / name


def not_installed(name: str, label: str) -> str | None:
    """Why a bundled model cannot be used, in a sentence (None when its weights are there).
    Cheap: it looks for the files and loads nothing."""
    folder = model_dir(name)
    if (folder / "weights.safetensors").is_file():
        return None
    return f"{label} is not installed ({folder} has no weights)"


def device(preferred: str | None = None):
    """CUDA when there is a GPU, else Apple's MPS, else the CPU (or the named device)."""
    import torch

    if preferred:
        return torch.device(preferred)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def device_name(dev=None) -> str:
    """For the status bar: the GPU's name, or "CPU"."""
    import torch

    dev = dev or device()
    if dev.type == "cuda":
        return torch.cuda.get_device_name(dev)
    return "Apple GPU (MPS)" if dev.type == "mps" else "CPU"


def read_bundle(folder: str | Path) -> tuple[dict, dict]:
    """(config.json as a dict, state dict of float32 tensors) of a model folder.

    Raises `ModelLoadError` when the folder, its config or its weights are missing or damaged.
    """
    import torch
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    folder = Path(folder)
    label = folder.name
    if not folder.is_dir():
        raise ModelLoadError(f"The model '{label}' is not installed (no folder {folder}).")
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelLoadError(f"The model '{label}' has no config.json; reinstall or retrain it.") from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ModelLoadError(f"The model '{label}' has a damaged config.json; reinstall or retrain it.") from None
    weights = folder / "weights.safetensors"
    if not weights.is_file():
        raise ModelLoadError(f"The model '{label}' has no weights file; reinstall or retrain it.")
    try:
        state = load_file(str(weights))
    except (SafetensorError, OSError, ValueError) as e:
        raise ModelLoadError(
            f"The weights of the model '{label}' are damaged ({str(e)[:80]}); reinstall or retrain it.") from None
    return config, {k: v.to(torch.float32) for k, v in state.items()}


def load_model(name_or_dir, kind: str, build, label: str, device_name_: str | None = None):
    """(module on its device, config.json, folder) for a bundled model name or a bundle folder.

    ``kind`` is the config's "model" field; ``build(config["config"])`` makes the empty module.
    ``build`` may instead be a dict of builders by kind (``kind`` then unused): one door for
    models of one family. Every way this can fail is a `ModelLoadError` that names the model
    and what to do.
    """
    builders = build if isinstance(build, dict) else {kind: build}
    folder = Path(name_or_dir)
    if not folder.is_dir():
        folder = model_dir(str(name_or_dir))
    config, state = read_bundle(folder)
    if config.get("model") not in builders:
        raise ModelLoadError(f"'{folder.name}' is not a {label} model.")
    try:
        module = builders[config["model"]](config["config"])
        module.load_state_dict(state)
    except (TypeError, KeyError, RuntimeError) as e:
        raise ModelLoadError(
            f"The model '{folder.name}' does not match this version of Cantus ({str(e)[:100]}).") from None
    return module.to(device(device_name_)).eval(), config, folder


def save_bundle(model, out_dir: Path, kind: str, config: dict, extra: dict | None = None,
                skip: tuple[str, ...] = ()) -> None:
    """config.json + weights.safetensors (float16, ``skip`` left out: tied copies), written atomically."""
    import torch
    from safetensors.torch import save_file

    from engine.fileio import atomic_write_text

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to("cpu", torch.float16).contiguous() for k, v in model.state_dict().items()
             if k not in skip}
    tmp = out_dir / "weights.safetensors.tmp"
    save_file(state, str(tmp))
    tmp.replace(out_dir / "weights.safetensors")
    atomic_write_text(out_dir / "config.json", json.dumps({"model": kind, "config": config, **(extra or {})},
                                                          indent=2))
