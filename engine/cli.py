"""Headless command line: everything the window does, without a display.

`cantus info`, `cantus convert` and `cantus data build` live here; the `cantus` console script
(app/launcher.py) hands these commands to `main` and opens the window for anything else.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Sequence

from engine.errors import CantusError

COMMANDS = frozenset({"info", "convert", "data", "render", "play", "train", "eval", "interpolate", "sample", "vary",
                      "continue", "vocode"})


def _format_time(seconds: float) -> str:
    m, s = divmod(int(round(seconds)), 60)
    return f"{m}:{s:02d}"


def describe(sketch, name: str) -> dict:
    """What `cantus info` reports, as plain data."""
    from engine.music.melody import extract_melody
    from engine.music.sketch import pitch_name

    melody = extract_melody(sketch)
    tracks = []
    for i, t in enumerate(sketch.tracks):
        pitches = [n.pitch for n in t.notes]
        tracks.append({
            "index": i,
            "name": t.name,
            "program": t.program,
            "is_drum": t.is_drum,
            "notes": len(t.notes),
            "lowest": pitch_name(min(pitches)) if pitches else None,
            "highest": pitch_name(max(pitches)) if pitches else None,
            "monophonic": t.is_monophonic(),
        })
    ts = sketch.time_signature
    return {
        "file": name,
        "tracks": tracks,
        "notes": sketch.note_count,
        "tempo_qpm": round(sketch.qpm, 3),
        "tempo_changes": len(sketch.tempos),
        "time_signature": f"{ts.numerator}/{ts.denominator}",
        "time_signature_changes": len(sketch.time_signatures),
        "duration_s": round(sketch.duration_s, 3),
        "bars": _bar_count(sketch),
        "melody": {
            "track_index": melody.track_index,
            "source": melody.source,
            "notes": len(melody.track.notes),
            "dropped": melody.dropped,
            "truncated": melody.truncated,
        },
    }


def _bar_count(sketch) -> float:
    # Bars through the meter map, to one decimal.
    end = sketch.end_tick
    bars = 0.0
    marks = sketch.time_signatures + [None]
    for ts, nxt in zip(marks, marks[1:]):
        stop = min(end, nxt.tick) if nxt else end
        if stop > ts.tick:
            bars += (stop - ts.tick) / ts.bar_ticks
    return round(bars, 1)


def _print_info(info: dict) -> None:
    print(f"{info['file']}")
    print(f"  length     {_format_time(info['duration_s'])} ({info['duration_s']:.2f} s, {info['bars']} bars)")
    changes = f" ({info['tempo_changes']} changes)" if info["tempo_changes"] > 1 else ""
    print(f"  tempo      {info['tempo_qpm']:g} qpm{changes}")
    changes = f" ({info['time_signature_changes']} changes)" if info["time_signature_changes"] > 1 else ""
    print(f"  meter      {info['time_signature']}{changes}")
    print(f"  notes      {info['notes']} in {len(info['tracks'])} tracks")
    for t in info["tracks"]:
        kind = "drums" if t["is_drum"] else f"program {t['program']}"
        rng = f"{t['lowest']}-{t['highest']}" if t["notes"] else "-"
        mono = "monophonic" if t["monophonic"] else "polyphonic"
        name = t["name"] or "(unnamed)"
        print(f"  {t['index'] + 1:>3}. {name:<20} {kind:<11} {t['notes']:>6} notes  {rng:<8} {mono}")
    m = info["melody"]
    line = f"  melody     {m['source']}, {m['notes']} notes"
    if m["dropped"] or m["truncated"]:
        line += f" ({m['dropped']} dropped, {m['truncated']} shortened to make it monophonic)"
    print(line)


def cmd_info(args: argparse.Namespace) -> int:
    from engine.music.files import open_sketch

    sketch = open_sketch(args.file)
    info = describe(sketch, Path(args.file).name)
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        _print_info(info)
    return 0


def cmd_convert(args: argparse.Namespace) -> int:
    from engine.music.files import open_sketch, save_sketch_as

    sketch = open_sketch(args.input)
    out = save_sketch_as(sketch, args.output)
    print(f"wrote {out} ({sketch.note_count} notes in {len(sketch.tracks)} tracks)")
    return 0


def _renderer(args: argparse.Namespace) -> str:
    """The renderer name render_sketch takes, from --renderer and --vocoder."""
    return args.renderer if args.renderer != "neural" else f"neural-{args.vocoder}"


def cmd_render(args: argparse.Namespace) -> int:
    from engine.audio.render import render_sketch
    from engine.audio.wav import write_wav
    from engine.music.files import open_sketch

    sketch = open_sketch(args.input)
    renderer = _renderer(args)
    rendered = render_sketch(sketch, renderer, args.sample_rate, args.soundfont, temperature=args.temperature)
    if rendered.note:
        print(f"cantus: {rendered.note}", file=sys.stderr)
    out = write_wav(args.output, rendered.audio, rendered.sample_rate, bits=args.bits)
    print(f"wrote {out} ({_format_time(rendered.duration_s)}, {args.sample_rate:,} Hz, "
          f"{args.bits}-bit{' float' if args.bits == 32 else ''}) with {rendered.renderer}")
    return 0


def cmd_play(args: argparse.Namespace) -> int:
    """Render a sketch and play it on a sound output, to the end or until Ctrl-C."""
    import time

    from engine.audio.devices import AudioDeviceError, list_output_devices
    from engine.audio.player import Player

    if args.list_devices:
        devices = list_output_devices()
        for d in devices:
            print(f"{d.index:3}  {d.name} ({d.host_api}, {d.default_sample_rate:,.0f} Hz)")
        if not devices:
            print("cantus: no sound output was found (no sound card, or the sound system is not "
                  "running)", file=sys.stderr)
        return 0 if devices else 1
    if args.input is None:
        raise CantusError("Name a .mid or .cantus file to play (or --list-devices).")
    from engine.audio.render import render_sketch
    from engine.music.files import open_sketch

    sketch = open_sketch(args.input)
    renderer = _renderer(args)
    rendered = render_sketch(sketch, renderer, 44100, args.soundfont)
    if rendered.note:
        print(f"cantus: {rendered.note}", file=sys.stderr)
    device = int(args.device) if args.device and args.device.isdigit() else args.device
    try:
        with Player(device) as player:
            player.set_song(rendered.audio, rendered.sample_rate)
            start_s = min(max(0.0, args.start), rendered.duration_s)
            player.play(from_s=start_s)
            info = player.device_info
            print(f"playing {Path(args.input).name} ({_format_time(rendered.duration_s - start_s)}) with "
                  f"{rendered.renderer} on {info.name} ({info.host_api}); Ctrl-C stops", flush=True)
            try:
                while player.is_playing:
                    time.sleep(0.05)
                    error = player.check()
                    if error is not None:
                        raise error
            except KeyboardInterrupt:
                player.stop()
                print(f"stopped at {player.position_s:.2f} s")
                return 130
            print(f"played to {player.position_s:.2f} s")
    except AudioDeviceError as e:  # its sentences are the window's ("press Play again")
        raise CantusError(str(e).replace(", then press Play again.", ".")
                          .replace(" Press Play to try again.", "")) from e
    return 0


def cmd_vocode(args: argparse.Namespace) -> int:
    import time

    from engine.audio.mel import MEL
    from engine.audio.vocode import read_audio, vocode_audio
    from engine.audio.wav import write_wav

    audio, notes = read_audio(args.input)
    for note in notes:
        print(f"cantus: {note}", file=sys.stderr)
    from tqdm import tqdm

    started = time.perf_counter()
    with tqdm(total=100, desc=f"Vocoding with {args.vocoder}", unit="%", file=sys.stderr,
              disable=args.vocoder != "wavenet", bar_format="{desc}: {percentage:3.0f}%|{bar}| {elapsed}") as bar:
        def progress(fraction: float) -> None:
            bar.update(round(100 * fraction) - bar.n)

        out_audio = vocode_audio(audio, args.vocoder, args.model, seed=args.seed, progress=progress)
    took = time.perf_counter() - started
    duration = len(audio) / MEL.sample_rate
    out = write_wav(args.output, out_audio, MEL.sample_rate, bits=16, normalise=False)
    print(f"wrote {out} ({_format_time(duration)}, {MEL.sample_rate:,} Hz mono) through the mel and "
          f"back with {args.vocoder} in {took:.1f} s ({duration / max(took, 1e-9):.1f}x real time)")
    return 0


def cmd_train_musicvae(args: argparse.Namespace) -> int:
    from engine.train.musicvae import TrainArgs, train

    result = train(TrainArgs(config=args.config, sources=args.sources, out=args.out,
                             batch_size=args.batch_size, lr=args.lr, minutes=args.minutes,
                             max_steps=args.max_steps, eval_every=args.eval_every, seed=args.seed,
                             device=args.device, precision=args.precision,
                             free_bits=args.free_bits, max_beta=args.max_beta, init=args.init,
                             resume=not args.fresh, attribute_dims=args.attribute_dims,
                             ar_weight=args.ar_weight, base=args.base, token_weight=args.token_weight,
                             tune_decoder=args.tune_decoder, offbeat=args.offbeat))
    if "final" not in result:  # another rank of a torchrun job: rank 0 reports
        return 0
    final = result["final"]
    print(f"trained {result['steps']} steps in {result['minutes']:.1f} min; final validation loss "
          f"{final.get('loss', float('nan')):.3f}, accuracy {final.get('accuracy', float('nan')):.4f} "
          f"(free-running {final.get('sampled_accuracy', float('nan')):.4f}); best in {args.out}/best, "
          f"final in {args.out}/last")
    return 0


def cmd_train_attributes(args: argparse.Namespace) -> int:
    from engine.train import musicvae as tm

    only = "--units-only" if args.units_only else "--decouple-only" if args.decouple_only else None
    if only and not args.scale_on:
        raise CantusError(f"{only} needs --scale-on: the corpora whose validation melodies it measures.")
    if not args.units_only:
        _vectors_reach_and_decoupling(args, tm)
    if args.scale_on:  # the sliders' units last: the reach and the decoupling measure fixed multiples
        units = tm.add_attribute_units(args.bundle, args.scale_on)
        print("slider units (standard deviations on validation melodies): "
              + ", ".join(f"{a} {u:g}" for a, u in units.items()))
    return 0


def _vectors_reach_and_decoupling(args: argparse.Namespace, tm) -> None:
    if not args.decouple_only:  # else the vectors (and reaches) the bundle has, their side effects taken out
        vectors = tm.add_attribute_vectors(args.bundle, args.sources)
        print(f"stored {len(vectors)} attribute vectors in {args.bundle}/config.json: {', '.join(vectors)}")
        if args.scale_on:
            scales = tm.scale_attribute_vectors(args.bundle, args.scale_on, melodies=args.melodies)
            print("slider scales (chosen on validation melodies): "
                  + ", ".join(f"{a} {k:g}" for a, k in scales.items()))
    if args.scale_on and args.decouple_rounds:
        report = tm.decouple_attribute_vectors(args.bundle, args.scale_on, melodies=args.melodies,
                                               rounds=args.decouple_rounds)
        print("each slider at +1 on validation melodies, before -> after decoupling: "
              + "; ".join(f"{a} d {report['own_before'][a]:.2f} -> {report['own_after'][a]:.2f}, largest on "
                          f"another {report['before'][a]:.2f} -> {report['after'][a]:.2f}" for a in report["after"]))


def cmd_train_transformer(args: argparse.Namespace) -> int:
    from engine.train.transformer import TrainArgs, train

    result = train(TrainArgs(sources=args.sources, line=args.line, out=args.out, absolute=args.absolute,
                             d_model=args.d_model, transpose=args.transpose, stretch=args.stretch,
                             init=args.init, warmup=args.warmup,
                             n_layers=args.layers, n_heads=args.heads, d_ff=args.d_ff, max_len=args.max_len,
                             dropout=args.dropout, batch_size=args.batch_size, lr=args.lr,
                             minutes=args.minutes, max_steps=args.max_steps, eval_every=args.eval_every,
                             seed=args.seed, device=args.device, precision=args.precision,
                             compile=args.compile, resume=not args.fresh))
    if "final" not in result:  # another rank of a torchrun job: rank 0 reports
        return 0
    print(f"trained {result['steps']} steps in {result['minutes']:.1f} min; best validation NLL "
          f"{result['best_val_nll']:.4f} nats/event; bundle in {args.out}/best")
    return 0


def _performances(args: argparse.Namespace) -> list:
    """Held-out performances: the corpora's test split, or every piece in --midi-dir."""
    from engine.train.transformer import ended, load_performances

    if args.midi_dir:
        from engine.data import build_corpus

        corpus = build_corpus(args.midi_dir, progress=not args.json)
        return [p for s in ("train", "validation", "test") for p in ended(corpus.performances[s])]
    return load_performances(args.sources, "test")


def cmd_eval_render(args: argparse.Namespace) -> int:
    from engine.eval.render import evaluate, folder_pieces, test_pieces

    methods = tuple(m.strip() for m in args.methods.split(",") if m.strip())
    from engine.eval.render import ALL_METHODS

    unknown = [m for m in methods if m not in ALL_METHODS]
    if unknown or not methods:
        raise CantusError(f"Methods are {', '.join(ALL_METHODS)}; not {', '.join(unknown) or 'none'}.")
    if args.midi_dir:
        pieces = folder_pieces(args.midi_dir, args.limit, args.seconds)
    else:
        pieces = test_pieces(args.sources, args.limit, args.seconds)

    def progress(done, total, name):
        if not args.json:
            print(f"  {done}/{total} {name}", file=sys.stderr)

    models = {"fast": args.fast_model, "wavenet": args.wavenet_model, "melflow": args.melflow_model,
              "melflow-fast": args.melflow_fast_model}
    result = evaluate(pieces, methods, {k: v for k, v in models.items() if v}, pitch=not args.no_pitch,
                      progress=progress, temperature=args.temperature)
    print(json.dumps(result, indent=None if args.json else 2))
    return 0


def cmd_eval_transformer(args: argparse.Namespace) -> int:
    from engine.eval.transformer import evaluate
    from engine.generate.continuation import Continuer

    relative = Continuer.load(args.model).model
    absolute = Continuer.load(args.baseline).model if args.baseline else None
    performances = _performances(args)
    if args.sequences:
        performances = performances[: args.sequences]
    if not performances:
        raise CantusError("There is no music to evaluate on.")
    result = evaluate(relative, absolute, performances, limit=args.limit, continuations=args.continuations,
                      speed_events=args.speed_events)
    print(json.dumps(result, indent=None if args.json else 2))
    return 0


def cmd_eval_continuation(args: argparse.Namespace) -> int:
    from engine.eval.continuation import evaluate, held_out_melodies
    from engine.generate.continuation import Continuer

    songs = held_out_melodies(args.midi_dir, args.limit)
    if not songs:
        raise CantusError("There is no melody to continue.")
    continuer = Continuer.load(args.model, melody=args.melody_model or None)
    result = evaluate(continuer, songs, prime_bars=args.prime_bars, bars=args.bars,
                      temperature=args.temperature, top_p=args.top_p, seed=args.seed,
                      max_polyphony=args.max_notes, mode=args.mode,
                      snap=None if args.snap == "off" else args.snap)
    print(json.dumps(result, indent=None if args.json else 2))
    return 0


def cmd_continue(args: argparse.Namespace) -> int:
    from engine.generate.continuation import Continuer
    from engine.music.files import open_sketch, save_sketch_as

    if (args.bars is None) == (args.seconds is None):
        raise CantusError("Say how long: --bars N or --seconds S.")
    low, _, high = (args.range or "").partition("-")
    pitch_range = (int(low), int(high)) if args.range else None
    sketch = open_sketch(args.input)
    continuer = Continuer.load(args.model, melody=args.melody_model or None)
    mode = continuer.mode_of(sketch, continuer.start_of(sketch), args.mode)
    snap = {"auto": "1/16" if mode == "melody" else None, "off": None}.get(args.snap, args.snap)
    result = continuer.continue_(
        sketch, bars=args.bars, seconds=args.seconds, temperature=args.temperature, top_p=args.top_p,
        key=None if (args.key or "").lower() in ("none", "off") else (args.key or "auto"), seed=args.seed,
        pitch_range=pitch_range, max_polyphony=args.max_notes, mode=mode, snap=snap)
    save_sketch_as(result.sketch, args.output)
    as_what = "as a melody" if mode == "melody" else "as piano"
    print(f"wrote {args.output}: {len(result.track.notes)} new notes {as_what}"
          f"{f' in {result.key.name}' if result.key else ''}{f', on the {snap} grid' if snap else ''}")
    return 0


def _vae(name: str):
    from engine.generate.requests import melody_vae

    return melody_vae(name)  # loaded once, as the window's requests load it


def _vae_name(args: argparse.Namespace) -> str:
    """--model when given, else the 16-bar model for --bars 16 or more, else the 2-bar one."""
    from engine.generate.requests import VAE_LONG_NAME, VAE_NAME

    if args.model:
        return args.model
    return VAE_LONG_NAME if (getattr(args, "bars", None) or 0) >= 16 else VAE_NAME


def cmd_eval_musicvae(args: argparse.Namespace) -> int:
    from engine.eval.musicvae import evaluate
    from engine.train.musicvae import load_windows

    vae = _vae(args.model)
    bars = vae.cfg.seq_len // 16
    if args.midi_dir:
        from engine.data import build_corpus

        corpus = build_corpus(args.midi_dir, progress=not args.json)
        import numpy as np

        windows = np.concatenate([corpus.windows(bars, s) for s in ("train", "validation", "test")])
        c = corpus.counts
        folder = {"pieces": c["pieces"], "pieces_skipped_meter": c["pieces_skipped_meter"], "meters": c["meters"]}
        if not len(windows):
            meters = ", ".join(f"{m} ({n})" for m, n in c["meters"].items()) or "none"
            raise CantusError(f"None of the {c['pieces']} pieces in {args.midi_dir} gave a {bars}-bar melody "
                              f"window. Their meters: {meters}; melodies are read in 4/4, 2/2, 2/4 and 4/2.")
    else:
        folder = None
        windows = load_windows(args.sources, bars, args.split)
    if args.limit and len(windows) > args.limit:
        # A seeded random subset: the splits are stored source by source, so the first N would
        # all come from one corpus.
        import numpy as np

        windows = windows[np.sort(np.random.default_rng(0).choice(len(windows), args.limit, replace=False))]
    if not len(windows):
        raise CantusError("There are no melodies to evaluate on.")
    if args.attribute_melodies < 1:
        raise CantusError("--attribute-melodies needs at least one melody.")
    result = evaluate(vae, windows, pairs=args.pairs, attribute_melodies=args.attribute_melodies)
    result["split"] = "folder" if folder is not None else args.split  # what was measured
    if folder is not None:
        result["folder"] = folder  # what the folder held, and what its meters let through
    print(json.dumps(result, indent=None if args.json else 2))
    return 0


def _write_tracks(tracks, out: str, qpm: float, gap_bars: int = 1) -> None:
    """Tracks one after another in one MIDI file, a bar of rest between them."""
    from engine.music.files import save_sketch_as
    from engine.music.sketch import Sketch, Track

    from engine.music.meter import BAR_TICKS_4_4 as bar  # what the melody models play
    notes, at = [], 0
    for t in tracks:
        notes += [n.shifted(ticks=at) for n in t.notes]
        end = max((n.end_tick for n in t.notes), default=0)
        at += -(-max(end, 1) // bar) * bar + gap_bars * bar
    name = tracks[0].name if tracks and tracks[0].name else "Melody"
    save_sketch_as(Sketch.new(qpm=qpm, tracks=[Track(name, 0, False, notes)]), out)


def cmd_interpolate(args: argparse.Namespace) -> int:
    from engine.music.files import open_sketch, save_sketch_as
    from engine.music.sketch import Sketch

    a, b = open_sketch(args.a), open_sketch(args.b)
    vae = _vae(_vae_name(args))
    steps = vae.interpolate(a, b, args.steps, args.method)
    if args.out_dir:
        out = Path(args.out_dir)
        out.mkdir(parents=True, exist_ok=True)
        for i, t in enumerate(steps):
            save_sketch_as(Sketch.new(qpm=a.qpm, tracks=[t]), out / f"step{i:02d}.mid")
        print(f"wrote {len(steps)} files to {out}")
    elif args.output:
        _write_tracks(steps, args.output, a.qpm)
        print(f"wrote {args.output} ({len(steps)} steps, a bar of rest between them)")
    else:
        raise CantusError("Say where to write the result: -o OUT.mid or --out-dir DIR.")
    return 0


def cmd_sample(args: argparse.Namespace) -> int:
    vae = _vae(_vae_name(args))
    tracks = vae.sample(args.n, args.temperature, args.seed, bars=args.bars)
    _write_tracks(tracks, args.output, args.qpm)
    print(f"wrote {args.output} ({args.n} melodies)")
    return 0


def cmd_vary(args: argparse.Namespace) -> int:
    from engine.music.files import open_sketch

    amounts = {}
    for item in args.attribute:
        name, _, value = item.partition("=")
        try:
            amounts[name.strip()] = float(value)
        except ValueError:
            raise CantusError(f"'{item}' is not NAME=AMOUNT (for example density=+1).") from None
    sketch = open_sketch(args.input)
    name = _vae_name(args)
    vae = _vae(name)
    tracks = []
    if amounts:  # the latent panel's sliders at these amounts: the same request, the same notes
        from engine.generate.requests import LatentPoint

        tracks.append(LatentPoint(sketch, attributes=tuple(amounts.items()), model=name).run().track)
    if args.similar is not None:
        tracks += vae.similar(sketch, args.n, args.similar, args.seed)
    if not tracks:
        raise CantusError("Say how to vary it: --attribute NAME=AMOUNT and/or --similar 0..1.")
    _write_tracks(tracks, args.output, sketch.qpm)
    print(f"wrote {args.output} ({len(tracks)} variations)")
    return 0


def cmd_data_build(args: argparse.Namespace) -> int:
    from engine.data import build_corpus, format_counts

    corpus = build_corpus(args.source, limit=args.limit, workers=args.workers, progress=not args.quiet)
    print(format_counts(corpus))
    return 0


def cmd_data_build_audio(args: argparse.Namespace) -> int:
    from engine.data.audio_corpus import DEFAULT_PROGRAMS, build_audio_corpus, format_audio_counts

    programs = DEFAULT_PROGRAMS
    if args.programs:
        try:
            programs = tuple(int(p) for p in args.programs.split(",") if p.strip())
        except ValueError:
            raise CantusError(f"'{args.programs}' is not a list of General MIDI program numbers "
                              "(for example 0,4,73).") from None
    corpus = build_audio_corpus(args.source, programs=programs, hours=args.hours, limit=args.limit,
                                progress=not args.quiet, soundfont=args.soundfont)
    print(format_audio_counts(corpus))
    return 0


def cmd_train_vocoder(args: argparse.Namespace) -> int:
    from engine.train.vocoder import TrainArgs, train

    kind = "wavenet" if args.model == "wavenet" else "fast"
    result = train(TrainArgs(
        kind=kind, sources=args.sources, out=args.out, segment_samples=args.segment_samples,
        batch_size=args.batch_size, lr=args.lr, minutes=args.minutes, max_steps=args.max_steps,
        eval_every=args.eval_every, seed=args.seed, device=args.device, precision=args.precision,
        init=args.init, resume=not args.fresh, dim=getattr(args, "dim", None), layers=args.layers,
        channels=getattr(args, "channels", None), lpc_order=getattr(args, "lpc_order", None),
        melflow=getattr(args, "melflow", None),
        melflow_share=getattr(args, "melflow_share", 0.75)))
    if "final" not in result:  # another rank of a torchrun job: rank 0 reports
        return 0
    final = result["final"]
    shown = ", ".join(f"{k} {v:.4f}" for k, v in final.items())
    print(f"trained {result['steps']} steps in {result['minutes']:.1f} min "
          f"({result['audio_hours_seen']:.1f} hours of audio); final validation {shown}; "
          f"best ({result.get('best', float('nan')):.4f}) in {args.out}/best")
    return 0


def cmd_train_melflow(args: argparse.Namespace) -> int:
    from engine.train.melflow import TrainArgs, train

    result = train(TrainArgs(
        sources=args.sources, out=args.out, frames=args.frames, batch_size=args.batch_size, lr=args.lr,
        minutes=args.minutes, max_steps=args.max_steps, eval_every=args.eval_every, seed=args.seed,
        device=args.device, precision=args.precision, init=args.init, resume=not args.fresh,
        n_flows=args.flows, coupling_dim=args.coupling_dim, templates=args.templates))
    if "final" not in result:  # another rank of a torchrun job: rank 0 reports
        return 0
    shown = ", ".join(f"{k} {v:.4f}" for k, v in result["final"].items())
    print(f"trained {result['steps']} steps in {result['minutes']:.1f} min "
          f"({result['audio_hours_seen']:.1f} hours of audio); final validation {shown}; "
          f"best NLL ({result.get('best', float('nan')):.4f}) in {args.out}/best")
    return 0


def cmd_train_melflow_temperature(args: argparse.Namespace) -> int:
    from engine.train.melflow import choose_temperature

    scores = choose_temperature(args.bundle, args.sources, pieces=args.pieces)
    best = min(scores, key=scores.get)
    print("validation MR-STFT (melflow+fast) by temperature: "
          + ", ".join(f"{t:g} {s:.3f}" for t, s in scores.items()) + f"; stored {best:g} in {args.bundle}/config.json")
    return 0


def cmd_train_wavenet_temperature(args: argparse.Namespace) -> int:
    from engine.train.vocoder import choose_temperature

    try:
        temperatures = tuple(float(t) for t in args.temperatures.split(","))
    except ValueError:
        print(f"cantus: --temperatures takes numbers separated by commas, not '{args.temperatures}'", file=sys.stderr)
        return 2
    scores = choose_temperature(args.bundle, args.sources, temperatures=temperatures, segments=args.segments)
    best = min(scores, key=scores.get)
    print("validation MR-STFT by temperature: " + ", ".join(f"{t:g} {s:.3f}" for t, s in scores.items())
          + f"; stored {best:g} in {args.bundle}/config.json")
    return 0


def cmd_train_wavenet_postfilter(args: argparse.Namespace) -> int:
    from engine.train.vocoder import choose_postfilter

    try:
        gains = tuple(float(g) for g in args.gains.split(","))
        passes = tuple(int(n) for n in args.passes.split(","))
    except ValueError:
        print("cantus: --gains takes numbers and --passes whole numbers, separated by commas", file=sys.stderr)
        return 2
    if any(not g > 0 for g in gains) or any(n < 0 for n in passes):
        print("cantus: --gains must be above 0 and --passes at least 0", file=sys.stderr)
        return 2
    scores = choose_postfilter(args.bundle, args.sources, gains=gains, passes=passes, segments=args.segments)
    g, n = min(scores, key=scores.get)
    chosen = f"max gain {g:g}, {n} passes" if n else "none"
    print("validation MR-STFT by post-filter (max gain x passes): "
          + ", ".join(f"{a:g}x{b} {s:.3f}" for (a, b), s in scores.items())
          + f"; stored {chosen} in {args.bundle}/config.json")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cantus",
        description="Cantus, a sketchbook for melodies. With no command, opens the window "
                    "(cantus [FILE] [--screenshot OUT.png]).")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("info", help="tracks, notes, tempo, meter, length and melody of a file")
    p.add_argument("file", help="a .mid or .cantus file")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("convert", help="convert between MIDI (.mid) and sketches (.cantus)")
    p.add_argument("input")
    p.add_argument("-o", "--output", required=True)
    p.set_defaults(func=cmd_convert)

    p = sub.add_parser("render", help="render a sketch to a WAV file")
    p.add_argument("input", help="a .mid or .cantus file")
    p.add_argument("-o", "--output", required=True, help="the .wav file to write")
    p.add_argument("--renderer", default="synth", choices=["synth", "builtin", "neural"],
                   help="synth: the soundfont synth (FluidSynth; the built-in synth where it is "
                        "missing); builtin: the built-in synth; neural: MelFlow and a vocoder")
    p.add_argument("--vocoder", default="fast", choices=["fast", "wavenet", "griffinlim"],
                   help="the neural renderer's vocoder: fast (default), wavenet (sample by sample), "
                        "griffinlim (the baseline)")
    p.add_argument("--temperature", type=float, default=None,
                   help="MelFlow's sampling temperature, 0 to 1 (default: the model's own)")
    p.add_argument("--soundfont", default=None, help="a .sf2/.sf3 soundfont (default: TimGM6mb)")
    p.add_argument("--sample-rate", type=int, default=44100, choices=[22050, 44100, 48000])
    p.add_argument("--bits", type=int, default=16, choices=[16, 24, 32],
                   help="16 or 24-bit PCM, or 32-bit float")
    p.set_defaults(func=cmd_render)

    p = sub.add_parser("play", help="play a sketch on a sound output (render it, then play it)")
    p.add_argument("input", nargs="?", help="a .mid or .cantus file")
    p.add_argument("--renderer", default="synth", choices=["synth", "builtin", "neural"],
                   help="as for render: synth (default), builtin, or neural (MelFlow and a vocoder)")
    p.add_argument("--vocoder", default="fast", choices=["fast", "wavenet", "griffinlim"])
    p.add_argument("--soundfont", default=None, help="a .sf2/.sf3 soundfont (default: TimGM6mb)")
    p.add_argument("--device", default=None,
                   help="a sound output by number or (part of its) name; see --list-devices")
    p.add_argument("--start", type=float, default=0.0, help="start this many seconds in")
    p.add_argument("--list-devices", action="store_true", help="list the sound outputs and exit")
    p.set_defaults(func=cmd_play)

    p = sub.add_parser("vocode", help="any audio through the mel spectrogram and back, to hear a vocoder")
    p.add_argument("input", help="a WAV, FLAC or OGG file (stereo is mixed to mono, any rate resampled)")
    p.add_argument("-o", "--output", required=True, help="the .wav file to write (22,050 Hz, 16-bit)")
    p.add_argument("--vocoder", default="fast", choices=["fast", "wavenet", "griffinlim"],
                   help="fast: the fast neural vocoder; wavenet: the WaveNet (slower, sample by "
                        "sample); griffinlim: no model, the baseline")
    p.add_argument("--model", default=None, help="another bundle folder for the fast or WaveNet vocoder")
    p.add_argument("--seed", type=int, default=0, help="the WaveNet's sampling seed")
    p.set_defaults(func=cmd_vocode)

    p = sub.add_parser("train", help="train a model (one CPU, a GPU, or many GPUs via torchrun)")
    train_sub = p.add_subparsers(dest="model", required=True, metavar="MODEL")
    t = train_sub.add_parser("musicvae", help="MusicVAE on melody windows")
    t.add_argument("--config", default="mel2bar", choices=["mel2bar", "mel16bar", "mel16bar-e2e"],
                   help="mel2bar; mel16bar: 16 bars over a 2-bar model's codes (--base); "
                        "mel16bar-e2e: the paper's end-to-end hierarchical decoder")
    t.add_argument("--base", default="musicvae-mel2bar", metavar="BUNDLE",
                   help="mel16bar: the 2-bar model it is built on (its encoder and decoder)")
    t.add_argument("--token-weight", type=float, default=None,
                   help="mel16bar: the note term's weight (0: train on the 2-bar codes alone, fast)")
    t.add_argument("--tune-decoder", action=argparse.BooleanOptionalAction, default=None,
                   help="mel16bar: train the 2-bar decoder too (default: frozen)")
    t.add_argument("--sources", default="music21,pop909", help="comma-separated corpora")
    t.add_argument("--out", default="runs/musicvae", help="checkpoints and the best bundle go here")
    t.add_argument("--batch-size", type=int, default=512)
    t.add_argument("--lr", type=float, default=1e-3)
    t.add_argument("--minutes", type=float, default=None, help="stop cleanly after this long")
    t.add_argument("--max-steps", type=int, default=None)
    t.add_argument("--eval-every", type=int, default=500)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--device", default=None, help="cpu, cuda, cuda:1, mps (default: the best there is)")
    t.add_argument("--precision", default="auto", choices=["auto", "bf16", "fp32"],
                   help="auto: bf16 autocast on CUDA and on CPUs with bf16 hardware (AMX, AVX512-BF16)")
    t.add_argument("--free-bits", type=float, default=None,
                   help="KL below this many bits is free (default: the config's)")
    t.add_argument("--max-beta", type=float, default=None, help="the largest KL weight (default: the config's)")
    t.add_argument("--init", default=None, metavar="BUNDLE",
                   help="fine-tune: start from this bundle's weights, schedules going on from its step")
    t.add_argument("--fresh", action="store_true", help="ignore an existing checkpoint in --out")
    t.add_argument("--attribute-dims", default=None, metavar="all|NAMES",
                   help="attribute-regularised latent dimensions (AR-VAE): the first ones order "
                        "melodies by these attributes, so that the sliders move them")
    t.add_argument("--ar-weight", type=float, default=None, help="the attribute regulariser's weight")
    t.add_argument("--offbeat", type=float, default=0.0, metavar="SHARE",
                   help="augmentation: this share of the windows moved an 8th later (8th syncopation)")
    t.set_defaults(func=cmd_train_musicvae)

    t = train_sub.add_parser("attributes", help="store MusicVAE attribute vectors in a bundle")
    t.add_argument("--bundle", required=True)
    t.add_argument("--sources", default="music21,pop909")
    t.add_argument("--scale-on", default=None, metavar="SOURCES",
                   help="then choose each slider's reach on these corpora's validation melodies "
                        "(d >= 1 at +1, monotonic, little change to the others)")
    t.add_argument("--decouple-rounds", type=int, default=3, metavar="N",
                   help="after --scale-on, N rounds of taking each slider's side effects on the other "
                        "attributes out of its vector, on the same validation melodies (0: none)")
    t.add_argument("--melodies", type=int, default=2000,
                   help="validation melodies to measure the sliders on (at most; POP909 has 1,759 2-bar ones)")
    t.add_argument("--decouple-only", action="store_true",
                   help="keep the bundle's vectors and reaches; only take their side effects out")
    t.add_argument("--units-only", action="store_true",
                   help="keep the bundle's vectors; only measure each slider's unit (how far +1 moves "
                        "its attribute: one standard deviation on the --scale-on validation melodies)")
    t.set_defaults(func=cmd_train_attributes)

    from engine.train.transformer_args import TrainArgs as MT  # the defaults, in one place

    t = train_sub.add_parser("transformer", help="the Music Transformer on performance events")
    t.add_argument("--sources", default=MT.sources,
                   help='comma-separated corpora, each with an optional weight ("music21,pop909:2")')
    t.add_argument("--line", choices=("all", "melody"), default=MT.line,
                   help="all: every part (melody and piano); melody: the melody alone, as played")
    t.add_argument("--out", default=MT.out, help="checkpoints and the best bundle go here")
    t.add_argument("--init", default=None, help="start from this bundle's weights (a name or a folder)")
    t.add_argument("--transpose", type=int, default=MT.transpose, help="augmentation: up to this many semitones each way")
    t.add_argument("--stretch", type=float, default=MT.stretch, help="augmentation: tempo changed by up to this fraction")
    t.add_argument("--warmup", type=int, default=MT.warmup, help="warm-up steps")
    t.add_argument("--absolute", action="store_true", help="the baseline with absolute positions")
    t.add_argument("--d-model", type=int, default=MT.d_model)
    t.add_argument("--layers", type=int, default=MT.n_layers)
    t.add_argument("--heads", type=int, default=MT.n_heads)
    t.add_argument("--d-ff", type=int, default=MT.d_ff, help="width of the feed-forward layers")
    t.add_argument("--max-len", type=int, default=MT.max_len, help="events per training crop (and attention span)")
    t.add_argument("--dropout", type=float, default=MT.dropout, help="on the residuals (worth it only in long runs)")
    t.add_argument("--batch-size", type=int, default=MT.batch_size)
    t.add_argument("--lr", type=float, default=MT.lr)
    t.add_argument("--minutes", type=float, default=MT.minutes, help="stop cleanly after this long")
    t.add_argument("--max-steps", type=int, default=MT.max_steps, help="optimiser steps")
    t.add_argument("--eval-every", type=int, default=MT.eval_every)
    t.add_argument("--seed", type=int, default=MT.seed)
    t.add_argument("--device", default=None, help="cpu, cuda, cuda:1, mps (default: the best there is)")
    t.add_argument("--precision", default=MT.precision, choices=["auto", "bf16", "fp32"])
    t.add_argument("--compile", action="store_true",
                   help="torch.compile the training step (a C++ compiler; about 1.5x faster on the CPU)")
    t.add_argument("--fresh", action="store_true", help="ignore an existing checkpoint in --out")
    t.set_defaults(func=cmd_train_transformer)

    for name, help_text, segment, batch, lr in (
            ("vocoder", "the fast vocoder (mel to audio through one inverse STFT)", 16384, 16, 5e-4),
            ("wavenet", "the WaveNet vocoder (mel-conditioned, 8-bit mu-law)", 8192, 8, 1e-3)):
        t = train_sub.add_parser(name, help=help_text)
        t.add_argument("--sources", default="pop909",
                       help="paired audio corpora (cantus data build-audio), comma-separated")
        t.add_argument("--out", default=f"runs/{name}", help="checkpoints and the best bundle go here")
        t.add_argument("--segment-samples", type=int, default=segment, help="samples per training segment")
        t.add_argument("--batch-size", type=int, default=batch)
        t.add_argument("--lr", type=float, default=lr)
        t.add_argument("--layers", type=int, default=None, help="blocks (default: the config's)")
        if name == "vocoder":
            t.add_argument("--dim", type=int, default=None, help="width of the ConvNeXt stack")
            t.add_argument("--melflow", default=None, metavar="BUNDLE",
                           help="fine-tune on this MelFlow's mels of the clips' notes (validated on them too)")
            t.add_argument("--melflow-share", type=float, default=0.75,
                           help="with --melflow: the share of each batch vocoded from MelFlow's mels")
        else:
            t.add_argument("--channels", type=int, default=None, help="residual channels")
            t.add_argument("--lpc-order", type=int, default=32,
                           help="predict what the mel's order-P linear predictor misses (LPCNet); 0: the samples")
        t.add_argument("--minutes", type=float, default=None, help="stop cleanly after this long")
        t.add_argument("--max-steps", type=int, default=None)
        t.add_argument("--eval-every", type=int, default=200)
        t.add_argument("--seed", type=int, default=0)
        t.add_argument("--device", default=None, help="cpu, cuda, cuda:1, mps (default: the best there is)")
        t.add_argument("--precision", default="auto", choices=["auto", "bf16", "fp32"],
                       help="auto: bf16 autocast on CUDA and on CPUs with bf16 hardware (AMX, AVX512-BF16)")
        t.add_argument("--init", default=None, metavar="BUNDLE", help="fine-tune from this bundle")
        t.add_argument("--fresh", action="store_true", help="ignore an existing checkpoint in --out")
        t.set_defaults(func=cmd_train_vocoder)

    t = train_sub.add_parser("melflow", help="MelFlow (notes to mel spectrogram, a conditional Glow)")
    t.add_argument("--sources", default="pop909",
                   help="paired audio corpora (cantus data build-audio), comma-separated")
    t.add_argument("--out", default="runs/melflow", help="checkpoints and the best bundle go here")
    t.add_argument("--frames", type=int, default=256, help="mel frames per training window (even)")
    t.add_argument("--batch-size", type=int, default=16)
    t.add_argument("--lr", type=float, default=1e-3)
    t.add_argument("--flows", type=int, default=None, help="flow steps (default: the config's)")
    t.add_argument("--coupling-dim", type=int, default=None, help="width of the coupling networks")
    t.add_argument("--templates", action="store_true",
                   help="add the note templates (an additive model of each key's spectrum); with --init, "
                        "to a bundle without them")
    t.add_argument("--minutes", type=float, default=None, help="stop cleanly after this long")
    t.add_argument("--max-steps", type=int, default=None)
    t.add_argument("--eval-every", type=int, default=250)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--device", default=None, help="cpu, cuda, cuda:1, mps (default: the best there is)")
    t.add_argument("--precision", default="auto", choices=["auto", "bf16", "fp32"])
    t.add_argument("--init", default=None, metavar="BUNDLE", help="fine-tune from this bundle")
    t.add_argument("--fresh", action="store_true", help="ignore an existing checkpoint in --out")
    t.set_defaults(func=cmd_train_melflow)

    t = train_sub.add_parser("melflow-temperature",
                             help="choose a MelFlow bundle's sampling temperature on the validation split")
    t.add_argument("--bundle", required=True)
    t.add_argument("--sources", default="pop909")
    t.add_argument("--pieces", type=int, default=12, help="validation clips of 10 s")
    t.set_defaults(func=cmd_train_melflow_temperature)

    t = train_sub.add_parser("wavenet-temperature",
                             help="choose a WaveNet bundle's sampling temperature on the validation split")
    t.add_argument("--bundle", required=True)
    t.add_argument("--sources", default="pop909")
    t.add_argument("--segments", type=int, default=8, help="validation segments of 2 s")
    t.add_argument("--temperatures", default="1.0,0.9,0.8,0.7,0.6,0.5,0.4,0.3",
                   help="the temperatures tried, separated by commas")
    t.set_defaults(func=cmd_train_wavenet_temperature)

    t = train_sub.add_parser("wavenet-postfilter",
                             help="choose a WaveNet bundle's mel post-filter on the validation split")
    t.add_argument("--bundle", required=True)
    t.add_argument("--sources", default="pop909")
    t.add_argument("--segments", type=int, default=8, help="validation segments of 2 s")
    t.add_argument("--gains", default="1,4,16", help="largest gains tried, separated by commas")
    t.add_argument("--passes", default="6,12,24,48", help="passes tried, separated by commas (none is always tried)")
    t.set_defaults(func=cmd_train_wavenet_postfilter)

    p = sub.add_parser("eval", help="measure a trained model on held-out data")
    eval_sub = p.add_subparsers(dest="model_kind", required=True, metavar="MODEL")
    e = eval_sub.add_parser("musicvae", help="MusicVAE: accuracy, note F1, KL, interpolation, attributes")
    e.add_argument("--model", default="musicvae-mel2bar", help="a bundled model name or a bundle folder")
    e.add_argument("--midi-dir", default=None, help="evaluate on the melodies of this folder instead")
    e.add_argument("--sources", default="music21,pop909", help="corpora whose held-out split is used")
    e.add_argument("--split", choices=("test", "validation"), default="test",
                   help="which held-out split: test for the card, validation for tuning")
    e.add_argument("--pairs", type=int, default=200)
    e.add_argument("--attribute-melodies", type=int, default=256, metavar="N",
                   help="melodies each attribute slider is measured on")
    e.add_argument("--limit", type=int, default=None, help="at most this many melodies (a seeded random subset)")
    e.add_argument("--json", action="store_true", help="one line of JSON")
    e.set_defaults(func=cmd_eval_musicvae)
    e = eval_sub.add_parser("transformer", help="Music Transformer: NLL against the baseline, constraints, speed")
    e.add_argument("--model", default="music-transformer", help="a bundled model name or a bundle folder")
    e.add_argument("--baseline", default="music-transformer-absolute",
                   help="the absolute-position model to compare with ('' for none)")
    e.add_argument("--midi-dir", default=None, help="evaluate on the music of this folder instead")
    e.add_argument("--sources", default="music21,pop909", help="corpora whose test split is used")
    e.add_argument("--sequences", type=int, default=None, help="at most this many performances")
    e.add_argument("--limit", type=int, default=None, help="at most this many windows for NLL")
    e.add_argument("--continuations", type=int, default=1000, help="sampled to check the constraints")
    e.add_argument("--speed-events", type=int, default=512, help="events per sampling-speed run")
    e.add_argument("--json", action="store_true", help="one line of JSON")
    e.set_defaults(func=cmd_eval_transformer)
    e = eval_sub.add_parser("continuation", help="continuations of held-out melodies against what the songs "
                                                 "really do next: monophony, short notes, register, "
                                                 "key, overlapped areas")
    e.add_argument("--model", default="music-transformer", help="a bundled model name or a bundle folder")
    e.add_argument("--melody-model", default="music-transformer-melody",
                   help="the model for melodies: a bundled name or a bundle folder "
                        "('' for none: the piano model answers melodies too)")
    e.add_argument("--midi-dir", default=None, help="these MIDI files' melodies instead of POP909's test split")
    e.add_argument("--limit", type=int, default=None,
                   help="at most this many songs (default: all; POP909's test split has 33, and 20 "
                        "songs moved an overlapped area by up to 0.1 from one subset to another)")
    e.add_argument("--prime-bars", type=int, default=8)
    e.add_argument("--bars", type=int, default=8, help="bars continued (and compared)")
    e.add_argument("--temperature", type=float, default=1.0)
    e.add_argument("--top-p", type=float, default=0.95)
    e.add_argument("--max-notes", type=int, default=None, help="notes at once (default: the mode's)")
    e.add_argument("--mode", choices=("auto", "melody", "piano"), default="auto")
    e.add_argument("--snap", default="auto", metavar="GRID", help='a grid ("1/16"), "off", or "auto": 1/16 for a melody')
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--json", action="store_true", help="one line of JSON")
    e.set_defaults(func=cmd_eval_continuation)

    e = eval_sub.add_parser("render", help="vocoders against the synth's own render: MR-STFT, mel L1, "
                                           "pitch accuracy, onset F1, real-time factor")
    e.add_argument("--midi-dir", default=None,
                   help="render these MIDI files with the synth as references (POP909: MELODY and PIANO)")
    e.add_argument("--sources", default="pop909", help="audio corpora whose test split is used")
    e.add_argument("--limit", type=int, default=12, help="at most this many pieces")
    e.add_argument("--seconds", type=float, default=10.0, help="the first seconds of each piece")
    e.add_argument("--methods", default="reference,griffinlim,fast,wavenet",
                   help="comma-separated: reference, griffinlim, fast, wavenet (vocoders on the reference's "
                        "mel), melflow+fast, melflow+wavenet, encoder+fast (from the notes)")
    e.add_argument("--melflow-model", default=None, help="a MelFlow bundle folder (default: the bundled one)")
    e.add_argument("--temperature", type=float, default=None, help="MelFlow's (default: its bundle's)")
    e.add_argument("--fast-model", default=None, help="a fast-vocoder bundle folder (default: the bundled one)")
    e.add_argument("--melflow-fast-model", default=None,
                   help="the fast vocoder after MelFlow (default: the one fine-tuned on MelFlow's mels where "
                        "installed, else --fast-model's)")
    e.add_argument("--wavenet-model", default=None, help="a WaveNet bundle folder (default: the bundled one)")
    e.add_argument("--no-pitch", action="store_true", help="skip pYIN pitch accuracy (the slow part)")
    e.add_argument("--json", action="store_true", help="one line of JSON")
    e.set_defaults(func=cmd_eval_render)

    p = sub.add_parser("interpolate", help="melodies between A and B (MusicVAE)")
    p.add_argument("a")
    p.add_argument("b")
    p.add_argument("--steps", type=int, default=7)
    p.add_argument("--method", default="slerp", choices=["slerp", "lerp"])
    p.add_argument("--bars", type=int, default=2, choices=[2, 16],
                   help="read and write 2 bars at a time, or 16 (the 16-bar model)")
    p.add_argument("--model", default=None, help="a bundle name or folder (default: by --bars)")
    p.add_argument("-o", "--output", default=None, help="one MIDI file, steps one after another")
    p.add_argument("--out-dir", default=None, help="one MIDI file per step")
    p.set_defaults(func=cmd_interpolate)

    p = sub.add_parser("sample", help="new melodies from MusicVAE")
    p.add_argument("--n", type=int, default=4)
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--bars", type=int, default=None,
                   help="bars per melody (default: the model's window); 16 or more: the 16-bar model")
    p.add_argument("--qpm", type=float, default=120.0)
    p.add_argument("--model", default=None, help="a bundle name or folder (default: by --bars)")
    p.add_argument("-o", "--output", required=True)
    p.set_defaults(func=cmd_sample)

    p = sub.add_parser("vary", help="variations of a melody (MusicVAE attributes or similarity)")
    p.add_argument("input")
    p.add_argument("--attribute", action="append", default=[], metavar="NAME=AMOUNT",
                   help="density, interval, diatonic, syncopation16, syncopation8 (repeatable)")
    p.add_argument("--similar", type=float, default=None, help="0..1: variations this close")
    p.add_argument("--n", type=int, default=4)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--bars", type=int, default=2, choices=[2, 16],
                   help="read and write 2 bars at a time, or 16 (the 16-bar model)")
    p.add_argument("--model", default=None, help="a bundle name or folder (default: by --bars)")
    p.add_argument("-o", "--output", required=True)
    p.set_defaults(func=cmd_vary)

    p = sub.add_parser("continue", help="carry a phrase on (Music Transformer)")
    p.add_argument("input", help="a .mid or .cantus file")
    p.add_argument("--bars", type=float, default=None, help="this many bars, at the sketch's tempo")
    p.add_argument("--seconds", type=float, default=None)
    p.add_argument("--key", default=None, help='lock to a key, e.g. "A:min" (default: the one detected; "none": no lock)')
    p.add_argument("--range", default=None, metavar="LOW-HIGH", help="MIDI pitches, e.g. 48-84")
    p.add_argument("--max-notes", type=int, default=None, help="most notes sounding at once")
    p.add_argument("--mode", choices=("auto", "melody", "piano"), default="auto",
                   help="melody: one note at a time in the phrase's register and dynamics; auto: "
                        "melody when the phrase is one (default)")
    p.add_argument("--snap", default="auto", metavar="GRID",
                   help='land the notes on a grid ("1/16", "1/8t"), "off", or "auto": 1/16 for a melody')
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--top-p", type=float, default=0.95)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--model", default="music-transformer", help="the model for piano parts")
    p.add_argument("--melody-model", default="music-transformer-melody",
                   help="the model for melodies: a bundled name or a bundle folder "
                        "('' for none: the piano model answers melodies too)")
    p.add_argument("-o", "--output", required=True)
    p.set_defaults(func=cmd_continue)

    p = sub.add_parser("data", help="training data")
    data_sub = p.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    b = data_sub.add_parser("build", help="extract melodies and performances from a corpus, cached")
    b.add_argument("--source", default="music21",
                   help="music21 (the bundled corpus), pop909, or a folder of MIDI files")
    b.add_argument("--limit", type=int, default=None, help="read at most N source files")
    b.add_argument("--workers", type=int, default=2, help="parallel parsing processes")
    b.add_argument("--quiet", action="store_true", help="no progress bar")
    b.set_defaults(func=cmd_data_build)
    b = data_sub.add_parser("build-audio",
                            help="render a corpus into paired (notes, audio, mel) clips for the vocoders, cached")
    b.add_argument("--source", default="pop909",
                   help="pop909, music21, or a folder of MIDI files (with name.wav/name.flac beside "
                        "name.mid for your own recordings)")
    b.add_argument("--programs", default=None,
                   help="General MIDI programs (0-based) melodies play on, e.g. 0,4,19,24,48,73 (the default)")
    b.add_argument("--hours", type=float, default=None, help="stop at this much audio")
    b.add_argument("--limit", type=int, default=None, help="read at most N pieces")
    b.add_argument("--soundfont", default=None, help="a .sf2/.sf3 soundfont (default: TimGM6mb)")
    b.add_argument("--quiet", action="store_true", help="no progress bar")
    b.set_defaults(func=cmd_data_build_audio)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        return args.func(args)
    except CantusError as e:
        print(f"cantus: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("cantus: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
