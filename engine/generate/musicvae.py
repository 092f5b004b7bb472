"""MusicVAE in musical terms: encode melodies, decode, interpolate, sample, vary, push attributes.

Takes and returns `Track`s, never tensors. Any input works: a sketch's melody is found
(polyphony reduced, with a note saying so), unquantized notes are quantized to 16ths, pitches
outside the piano are moved by octaves, and a melody longer than the model's window is cut into
consecutive windows that are decoded and joined again, so nothing at the boundaries is lost.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from engine.music.attributes import ATTRIBUTES, melody_attributes, notes_needed, token_attributes
from engine.music.encodings.melody_onehot import FIRST_NOTE_ON, MelodyOneHot
from engine.music.melody import extract_melody, skyline
from engine.music.meter import melody_span, melody_window_offset
from engine.music.meter import STEPS_PER_BAR_4_4 as STEPS_PER_BAR  # a bar of the melody models: 4/4 in 16ths
from engine.music.quantize import is_quantized, quantize_melody
from engine.music.sketch import TICKS_PER_STEP, Note, Sketch, Track
from engine.models.musicvae import MusicVAE, MusicVAEConfig
from engine.models.musicvae_long import LongMusicVAE, LongVAEConfig
from engine.registry import ModelLoadError, load_model

CODEC = MelodyOneHot()
ALIASES = {"diatonic": "c_diatonic", "density": "note_density", "interval": "mean_interval",
           "syncopation16": "syncopation_16th", "syncopation8": "syncopation_8th"}
# A slider's search (`MelodyVAE.push`): how far along its vector it looks, in multiples of the
# vector (0 is the melody as it is), and the steps along another slider's vector it tries to
# hold that slider's attribute where it was.
REACH = np.array([0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 4.0], np.float32)
HOLD = np.array([-1.0, -0.5, -0.25, 0.25, 0.5, 1.0], np.float32)
# The held attributes' drift, summed in their units: at most this much is held, and a hold step
# must take off more than this to be taken.
HOLD_SLACK = 0.25


@dataclass
class Prepared:
    """A melody made ready for the model, and what had to change to make it so."""

    track: Track  # monophonic, on the 16th grid, in piano range, starting at its first bar
    offset_ticks: int  # where that first bar was in the original
    notes: list[str] = field(default_factory=list)  # for people: "polyphony reduced to one line"


def prepare(melody: Track | Sketch) -> Prepared:
    """A sketch's melody is read on the sketch's own bar lines, the model's bars counted from
    where its meter starts (and refused, with a sentence, in a meter the model cannot read:
    `melody_span`); a bare track's from the 4/4 bar line before it, counted from tick 0 (the
    Latent panel gives tracks already cut at the selection's first bar)."""
    remarks = []
    meter = melody.time_signatures if isinstance(melody, Sketch) else None
    if isinstance(melody, Sketch):
        found = extract_melody(melody)
        track = found.track
        if found.dropped or found.truncated:
            remarks.append(f"Polyphony reduced to one line ({found.dropped} notes left out).")
    else:
        track = melody
        if not track.is_monophonic():
            line, dropped, _ = skyline(track.notes)
            track = track.copy(line)
            remarks.append(f"Polyphony reduced to one line ({dropped} notes left out).")
    if not is_quantized(track.notes):
        track, dropped = quantize_melody(track)
        remarks.append("Quantized to 16th notes" + (f" ({dropped} grace notes left out)." if dropped else "."))
    notes = []
    moved = 0
    for n in track.notes:
        p = n.pitch
        while p < CODEC.min_pitch:
            p += 12
        while p > CODEC.max_pitch:
            p -= 12
        moved += p != n.pitch
        notes.append(Note(p, n.velocity, n.start_tick, n.end_tick))
    if moved:
        remarks.append(f"{moved} notes moved by octaves into the piano's range.")
    offset = (melody_span(meter, notes, from_meter_start=True)[0] if meter is not None
              else melody_window_offset(notes))
    shifted = [n.shifted(ticks=-offset) for n in notes]
    return Prepared(track.copy(sorted(shifted)), offset, remarks)


def slerp(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    """Spherical interpolation along the last axis (lerp where a and b are nearly parallel)."""
    an = a / (np.linalg.norm(a, axis=-1, keepdims=True) + 1e-12)
    bn = b / (np.linalg.norm(b, axis=-1, keepdims=True) + 1e-12)
    omega = np.arccos(np.clip(np.sum(an * bn, axis=-1, keepdims=True), -1.0, 1.0))
    so = np.sin(omega)
    safe = so > 1e-6
    out_s = (np.sin((1 - t) * omega) * a + np.sin(t * omega) * b) / np.where(safe, so, 1.0)
    return np.where(safe, out_s, (1 - t) * a + t * b)


class MelodyVAE:
    """A trained MusicVAE with its attribute vectors, speaking in tracks."""

    def __init__(self, model: MusicVAE, attribute_vectors: dict[str, np.ndarray] | None = None,
                 device: torch.device | None = None, name: str = "musicvae",
                 attribute_units: dict[str, float] | None = None) -> None:
        self.device = device or torch.device("cpu")
        self.model = model.to(self.device).eval()
        self.cfg: MusicVAEConfig = model.cfg
        self.attribute_vectors = attribute_vectors or {}
        # A slider's unit: how far its attribute moves at +1 (the attribute's standard deviation
        # over validation melodies). A slider without one is a plain push along its vector.
        self.attribute_units = {k: float(v) for k, v in (attribute_units or {}).items() if v > 0}
        self.name = name
        # A 16-bar model over 2-bar codes: its attribute vectors live in the 2-bar code space and
        # move every window's code (``shift``); a flat model's move z itself.
        self.shifts_codes = isinstance(model, LongMusicVAE)
        self._means: dict[tuple, tuple[np.ndarray, Prepared]] = {}

    @classmethod
    def load(cls, name_or_dir: str | Path = "musicvae-mel2bar", device: str | None = None) -> "MelodyVAE":
        builders = {"musicvae": lambda c: MusicVAE(MusicVAEConfig(**c)),
                    "musicvae-long": lambda c: LongMusicVAE(LongVAEConfig(**c))}
        model, config, folder = load_model(name_or_dir, None, builders, "MusicVAE", device)
        vectors = {k: np.asarray(v, dtype=np.float32) for k, v in config.get("attribute_vectors", {}).items()}
        return cls(model, vectors, next(model.parameters()).device, folder.name,
                   config.get("attribute_units"))

    # -- tokens <-> tracks ----------------------------------------------------------------------

    @property
    def window_steps(self) -> int:
        return self.cfg.seq_len

    def to_windows(self, prepared: Prepared) -> np.ndarray:
        """Events of the melody cut into windows: (n_windows, seq_len), at least one window."""
        end = max((n.end_tick for n in prepared.track.notes), default=0) // TICKS_PER_STEP
        n = max(1, -(-end // self.window_steps))
        return CODEC.encode(prepared.track.notes, n * self.window_steps).reshape(n, self.window_steps)

    @staticmethod
    def to_track(tokens: np.ndarray, like: Track | None = None, offset_ticks: int = 0,
                 name: str = "Melody") -> Track:
        """A track from windows of events; velocities of notes that match ``like`` are kept."""
        notes = CODEC.decode(np.asarray(tokens).reshape(-1))
        default = 80
        velocity_of: dict[tuple[int, int], int] = {}
        if like is not None and like.notes:
            velocity_of = {(n.pitch, n.start_tick): n.velocity for n in like.notes}
            default = int(np.median([n.velocity for n in like.notes]))
        out = [Note(n.pitch, velocity_of.get((n.pitch, n.start_tick), default),
                    n.start_tick + offset_ticks, n.end_tick + offset_ticks) for n in notes]
        program = like.program if like is not None else 0
        return Track(like.name if like is not None and like.name else name, program, False, out)

    def _generator(self, seed: int | None) -> torch.Generator | None:
        if seed is None:
            return None
        return torch.Generator(device=self.device).manual_seed(int(seed))

    # -- the model ------------------------------------------------------------------------------

    def encode(self, melody: Track | Sketch) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(z, mu, sigma), each (n_windows, z_size); z is a posterior sample."""
        tokens = torch.from_numpy(self.to_windows(prepare(melody))).to(self.device)
        mu, sigma = self.model.encode(tokens)
        z = mu + sigma * torch.randn_like(mu)
        return z.cpu().numpy(), mu.cpu().numpy(), sigma.cpu().numpy()

    def decode_tokens(self, z: np.ndarray, temperature: float | None = None,
                      seed: int | None = None, shift: np.ndarray | None = None) -> np.ndarray:
        """Tokens (n, seq_len) from codes (n, z_size); ``shift`` is an attribute push (a sum of
        amounts times attribute vectors): added to z, or, for a 16-bar model over 2-bar codes, to
        every window's 2-bar code."""
        zt = torch.from_numpy(np.asarray(z, dtype=np.float32)).to(self.device)
        if shift is None:
            return self.model.decode(zt, temperature, self._generator(seed)).cpu().numpy()
        st = torch.from_numpy(np.asarray(shift, dtype=np.float32)).to(self.device)
        if self.shifts_codes:
            return self.model.decode(zt, temperature, self._generator(seed), shift=st).cpu().numpy()
        return self.model.decode(zt + st, temperature, self._generator(seed)).cpu().numpy()

    def decode(self, z: np.ndarray, temperature: float | None = None, seed: int | None = None,
               like: Track | None = None) -> Track:
        """One track from latent codes (n_windows, z_size), windows played one after another."""
        return self.to_track(self.decode_tokens(z, temperature, seed), like)

    def means(self, melody: Track | Sketch) -> tuple[np.ndarray, Prepared]:
        """(mu (n_windows, z_size), the prepared melody); the last few are remembered, so a
        slider that moves around one melody encodes it once."""
        key = tuple(melody.sorted_notes()) if isinstance(melody, Track) else None
        if key is not None and key in self._means:
            return self._means[key]
        p = prepare(melody)
        with torch.no_grad():
            mu, _ = self.model.encode(torch.from_numpy(self.to_windows(p)).to(self.device))
        out = (mu.cpu().numpy(), p)
        if key is not None:
            if len(self._means) >= 8:
                self._means.pop(next(iter(self._means)))
            self._means[key] = out
        return out

    @staticmethod
    def _same_length(*mus: np.ndarray) -> list[np.ndarray]:
        """Code sequences (n_windows, z_size) padded with zeros to the longest one's windows."""
        n = max(len(m) for m in mus)
        return [np.concatenate([m, np.zeros((n - len(m), m.shape[1]), m.dtype)]) for m in mus]

    @staticmethod
    def blend(mu_a: np.ndarray, mu_b: np.ndarray, t: float, method: str = "slerp") -> np.ndarray:
        if method not in ("slerp", "lerp"):
            raise ValueError("method is slerp or lerp")
        return slerp(mu_a, mu_b, t) if method == "slerp" else (1 - t) * mu_a + t * mu_b

    def interpolate(self, a: Track | Sketch, b: Track | Sketch, steps: int = 7,
                    method: str = "slerp") -> list[Track]:
        """``steps`` melodies from A to B on the means; the first is A and the last is B themselves."""
        if steps < 2:
            raise ValueError("an interpolation needs at least 2 steps")
        if method not in ("slerp", "lerp"):
            raise ValueError("method is slerp or lerp")
        (mu_a, pa), (mu_b, pb) = self.means(a), self.means(b)
        mu_a, mu_b = self._same_length(mu_a, mu_b)
        ts = np.linspace(0.0, 1.0, steps)[1:-1]
        if not len(ts):
            return [pa.track, pb.track]
        zs = np.concatenate([self.blend(mu_a, mu_b, t, method) for t in ts])
        tokens = self.decode_tokens(zs).reshape(len(ts), len(mu_a), -1)
        return [pa.track, *(self.to_track(tok, pa.track) for tok in tokens), pb.track]

    def point(self, a: Track | Sketch, b: Track | Sketch | None = None, t: float = 0.0,
              attributes: dict[str, float] | None = None, similarity: float = 1.0,
              temperature: float | None = None, seed: int | None = None,
              method: str = "slerp") -> Track:
        """One melody from a point of the latent space that the panel's controls describe: ``t``
        of the way from A to B (B optional), pushed along attribute vectors, then moved toward a
        seeded random point by 1 - ``similarity``; decoded by argmax, or sampled at a temperature.
        Starts at bar 0 (A's own first bar), like `interpolate`."""
        mu_a, pa = self.means(a)
        z = mu_a
        if b is not None and t:
            mu_b, _ = self.means(b)
            mu_a, mu_b = self._same_length(mu_a, mu_b)
            z = self.blend(mu_a, mu_b, float(t), method)
        shift = self.push(z, attributes or {})
        if shift is not None and not self.shifts_codes:
            z, shift = z + shift, None  # a flat model is pushed before it moves toward a random point
        if similarity < 1.0:
            if not 0.0 <= similarity <= 1.0:
                raise ValueError("similarity is between 0 and 1")
            r = np.random.default_rng(seed).standard_normal(z.shape).astype(np.float32)
            z = slerp(z, r, 1.0 - similarity)
        return self.to_track(self.decode_tokens(z, temperature, seed, shift), pa.track)

    def pad_point(self, corners: list[Track | Sketch], u: float, v: float,
                  temperature: float | None = None, seed: int | None = None) -> Track:
        """A melody from the four-corner pad: the bilinear blend of the corners' means, A at
        (0, 0), B at (1, 0), C at (0, 1), D at (1, 1); decoded like `point`, at bar 0."""
        if len(corners) != 4:
            raise ValueError("the pad has four corners")
        means = [self.means(c) for c in corners]
        mus = self._same_length(*(m for m, _ in means))
        u, v = float(np.clip(u, 0, 1)), float(np.clip(v, 0, 1))
        weights = ((1 - u) * (1 - v), u * (1 - v), (1 - u) * v, u * v)
        z = sum(w * m for w, m in zip(weights, mus))
        return self.to_track(self.decode_tokens(z, temperature, seed), means[0][1].track)

    def attribute_vector(self, name: str) -> np.ndarray:
        key = ALIASES.get(name, name)
        if key not in self.attribute_vectors:
            known = ", ".join(sorted(self.attribute_vectors)) or "none"
            raise ModelLoadError(f"This model has no '{name}' attribute (it has: {known}).")
        return self.attribute_vectors[key]

    def _attributes(self, tokens: np.ndarray) -> np.ndarray:
        """The five attributes (rows, len(ATTRIBUTES)) of token rows (..., seq_len), each row
        measured over its own window."""
        t = torch.from_numpy(np.ascontiguousarray(tokens).reshape(-1, tokens.shape[-1]).astype(np.int64))
        return token_attributes(t).numpy()

    def _decode_moves(self, z: np.ndarray, shift: np.ndarray, moves: np.ndarray,
                      batch_rows: int = 1024) -> tuple[np.ndarray, np.ndarray]:
        """Argmax decodes of ``z`` (n, z_size) pushed by ``shift`` plus each of ``moves`` (K, n,
        shift_size), as one batch of at most ``batch_rows`` 2-bar windows at a time: tokens (K,
        n, seq_len) and their attributes (K, n, len(ATTRIBUTES))."""
        k, n = moves.shape[:2]
        zz = np.repeat(z[None], k, axis=0).reshape(k * n, -1)  # writable, unlike a broadcast view
        ss = (shift[None] + moves).reshape(k * n, -1)
        rows = max(1, batch_rows // max(1, self.window_steps // (2 * STEPS_PER_BAR)))
        tokens = np.concatenate([self.decode_tokens(zz[i:i + rows], shift=ss[i:i + rows])
                                 for i in range(0, k * n, rows)])
        return tokens.reshape(k, n, -1), self._attributes(tokens).reshape(k, n, -1)

    def push(self, z: np.ndarray, amounts: dict[str, float], hold: bool = True) -> np.ndarray | None:
        """The attribute sliders at ``amounts`` ({"note_density": 1.0, ...}) as a push of the
        codes ``z`` (n_windows, z_size): a displacement for each window (n, shift_size) to hand
        to `decode_tokens` as ``shift``; None when every amount is 0. What is searched is the
        argmax decode (a temperature, or Similar on a 2-bar model, moves away from it).

        A slider with a unit is searched, window by window: along its vector (the multiples in
        REACH, decoded as one batch), the first displacement whose decode moves the attribute at
        least ``amount`` units from where the window's own decode has it, or, where none does,
        the one that moves it furthest (nothing, if nothing moves it that way). Taking the
        first that reaches makes the attribute rise with the slider in every window, and the
        smallest push changes the tune least. Then, with ``hold``, the other attributes (those
        whose sliders are at 0, and which the window's own decode has: a silent window has no
        intervals to keep) are brought back toward where they were: along each one's own vector
        in turn (HOLD's steps), a step is taken where it lowers their summed drift, in units, by
        more than HOLD_SLACK. Note density otherwise drags the intervals with it. Neither a
        search nor a hold step gives back any of a searched slider's move: each attribute
        searched so far stays between its target and what its search reached (several sliders
        are searched in ATTRIBUTES' order). Sliders without a unit (bundles made before units)
        push ``amount`` times their vector, as they always did."""
        merged: dict[str, float] = {}
        for k, a in amounts.items():
            key = ALIASES.get(k, k)
            merged[key] = merged.get(key, 0.0) + float(a)
        order = sorted(merged, key=lambda k: ATTRIBUTES.index(k) if k in ATTRIBUTES else len(ATTRIBUTES))
        active = [(k, merged[k]) for k in order if merged[k]]
        if not active:
            return None
        vectors = {k: self.attribute_vector(k) for k, _ in active}
        size = next(iter(vectors.values())).shape[-1]
        shift = np.zeros((len(z), size), np.float32)
        for k, a in active:
            if k not in self.attribute_units:
                shift += a * vectors[k]
        searched = [(k, a) for k, a in active if k in self.attribute_units]
        if not searched or not len(z):
            return shift
        z = np.asarray(z, dtype=np.float32)
        base_tokens = self.decode_tokens(z, shift=shift)
        base = self._attributes(base_tokens)
        notes = (base_tokens >= FIRST_NOTE_ON).sum(-1)
        # (window, attribute): does the window's own decode have it? Density is held even in a
        # silent window (no notes is a density to keep); the others need their notes.
        has = np.stack([notes >= (0 if a == "note_density" else notes_needed(a)) for a in ATTRIBUTES], -1)
        pushed = {k for k, _ in active}
        rows = np.arange(len(z))
        bands: list[tuple[int, np.ndarray, np.ndarray]] = []  # (attribute, low, high) per window

        def kept(values: np.ndarray, rows_: np.ndarray) -> np.ndarray:
            """Candidates (K, len(rows_)) that keep every searched attribute in its band."""
            ok = np.ones(values.shape[:-1], dtype=bool)
            for b, lo, hi in bands:
                ok &= (values[..., b] >= lo[rows_] - 1e-9) & (values[..., b] <= hi[rows_] + 1e-9)
            return ok

        for name, amount in searched:
            j, sign = ATTRIBUTES.index(name), np.sign(amount)
            target = base[:, j] + amount * self.attribute_units[name]
            moves = (sign * REACH)[:, None, None] * vectors[name][None, None]
            _, values = self._decode_moves(z, shift, np.broadcast_to(moves, (len(REACH), len(z), size)))
            ok = kept(values, rows)  # REACH[0] (no move) always keeps them
            reach = ok & (sign * values[..., j] >= sign * target[None] - 1e-9)
            furthest = np.where(ok, sign * values[..., j], -np.inf).argmax(0)
            first = np.where(reach.any(0), reach.argmax(0), furthest)
            shift = shift + (sign * REACH[first])[:, None] * vectors[name][None]
            got, now = values[first, rows, j], values[first, rows]
            bands.append((j, np.minimum(target, got), np.maximum(target, got)))
            if not hold:
                continue
            held = [ATTRIBUTES.index(a) for a in ATTRIBUTES
                    if a not in pushed and a in self.attribute_units and a in self.attribute_vectors]
            if not held:
                continue
            units = np.array([self.attribute_units[ATTRIBUTES[b]] for b in held], np.float32)

            def drift(values: np.ndarray, rows_: np.ndarray) -> np.ndarray:
                """How far the held attributes the windows have are from where they were,
                summed in their units."""
                off = np.abs(values[..., held] - base[rows_][..., held]) / units
                return np.where(has[rows_][..., held], off, 0.0).sum(-1)

            for b in held:
                off = drift(now, rows)
                need = np.flatnonzero(off > HOLD_SLACK)
                if not len(need):
                    break
                v = self.attribute_vectors[ATTRIBUTES[b]]
                moves = np.broadcast_to(HOLD[:, None, None] * v[None, None], (len(HOLD), len(need), size))
                _, tried = self._decode_moves(z[need], shift[need], moves)
                err = np.where(kept(tried, need), drift(tried, need), np.inf)
                k = err.argmin(0)
                better = err[k, np.arange(len(need))] < off[need] - HOLD_SLACK
                rows_b = need[better]
                shift[rows_b] += HOLD[k[better]][:, None] * v[None]
                now[rows_b] = tried[k[better], np.flatnonzero(better)]
        return shift

    def sample(self, n: int = 1, temperature: float = 1.0, seed: int | None = None,
               bars: int | None = None) -> list[Track]:
        """``n`` new melodies from the prior, each ``bars`` long (default: one window)."""
        windows = max(1, -(-(bars or self.window_steps // STEPS_PER_BAR) * STEPS_PER_BAR // self.window_steps))
        rng = np.random.default_rng(seed)
        z = rng.standard_normal((n * windows, self.cfg.z_size)).astype(np.float32)
        tokens = self.decode_tokens(z, temperature, seed).reshape(n, windows, -1)
        return [self.to_track(t) for t in tokens]

    def similar(self, melody: Track | Sketch, n: int = 4, similarity: float = 0.8,
                seed: int | None = None, temperature: float | None = None) -> list[Track]:
        """Variations: each mean moved toward a random point, ``similarity`` 1 = the same, 0 = unrelated."""
        if not 0.0 <= similarity <= 1.0:
            raise ValueError("similarity is between 0 and 1")
        p = prepare(melody)
        _, mu, _ = self.encode(p.track)
        rng = np.random.default_rng(seed)
        out = []
        for i in range(n):
            r = rng.standard_normal(mu.shape).astype(np.float32)
            z = slerp(mu, r, 1.0 - similarity)
            out.append(self.to_track(self.decode_tokens(z, temperature,
                                                        None if seed is None else seed + i), p.track))
        return out

    def apply_attributes(self, melody: Track | Sketch, amounts: dict[str, float]) -> Track:
        """The melody pushed along attribute vectors: {"note_density": +1.0, "mean_interval": -0.5};
        the latent panel's sliders at those amounts (`point`)."""
        return self.point(melody, attributes=amounts)


def encode_means(model, windows: np.ndarray, device: torch.device | None = None,
                 batch_size: int = 512) -> np.ndarray:
    """The latent means (n, z) of token windows (n, seq_len), a batch at a time."""
    device = device or torch.device("cpu")
    with torch.no_grad():
        return np.concatenate([model.encode(torch.from_numpy(windows[i:i + batch_size].astype(np.int64))
                                            .to(device))[0].float().cpu().numpy()
                               for i in range(0, len(windows), batch_size)])


def compute_attribute_vectors(model: MusicVAE, windows: np.ndarray, device: torch.device | None = None,
                              batch_size: int = 512) -> dict[str, list[float]]:
    """For each attribute: mean mu of windows in its top quartile minus mean mu of its bottom
    quartile. An attribute with a regularised dimension of its own (AR-VAE: the config's
    ar_attributes) moves along that dimension alone, by the same difference there."""
    mu = encode_means(model, windows, device, batch_size)
    values = {a: [] for a in ATTRIBUTES}
    counts = []
    for w in windows:
        notes = CODEC.decode(w)
        counts.append(len(notes))
        attrs = melody_attributes(Track(notes=notes), num_steps=len(w))
        for a in ATTRIBUTES:
            values[a].append(attrs[a])
    counts = np.asarray(counts)
    out = {}
    for a in ATTRIBUTES:
        # Only melodies where the attribute means something: an interval needs two notes, the
        # others one (an empty window is not "0% diatonic", and would tie the vector to density).
        defined = counts >= {"mean_interval": 2, "note_density": 0}.get(a, 1)
        v, m = np.asarray(values[a])[defined], mu[defined]
        if not len(v):
            continue
        lo, hi = np.quantile(v, [0.25, 0.75])
        top, bottom = v >= hi, v <= lo
        if hi <= lo:
            # Mostly one value (syncopation is 0 in most melodies): compare the melodies above
            # that value with those at or below it.
            top = v > lo
        if top.sum() and bottom.sum() and (top & ~bottom).any():
            vector = m[top].mean(axis=0) - m[bottom].mean(axis=0)
            if a in model.cfg.ar_attributes:
                dim = model.cfg.ar_attributes.index(a)
                vector = np.where(np.arange(len(vector)) == dim, vector, 0.0)
            out[a] = vector.tolist()
    return out
