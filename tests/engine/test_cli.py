"""The headless command line, run as a user would, in a separate process where it matters."""

import json
import subprocess
import sys

from engine.cli import main
from engine.music.midi_io import read_midi


def test_info_json_on_a_real_song(pop909_dir, capsys):
    assert main(["info", str(pop909_dir / "001" / "001.mid"), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert [t["name"] for t in info["tracks"]] == ["MELODY", "BRIDGE", "PIANO"]
    assert info["notes"] == sum(t["notes"] for t in info["tracks"]) > 1000
    assert info["melody"]["track_index"] == 0
    assert round(info["tempo_qpm"]) == 90 and 190 < info["duration_s"] < 200


def test_info_json_stays_json_under_ci(pop909_dir):
    # pyfluidsynth prints where it found its library when CI is set; that must not reach stdout.
    import os

    env = dict(os.environ, CI="true")
    out = subprocess.run([sys.executable, "-m", "engine", "info", "--json",
                          str(pop909_dir / "004" / "004.mid")], capture_output=True, text=True,
                         timeout=120, env=env)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["tracks"]


def test_info_text_in_a_fresh_process(pop909_dir):
    out = subprocess.run([sys.executable, "-m", "engine", "info", str(pop909_dir / "002" / "002.mid")],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "melody     track 'MELODY'" in out.stdout and "tempo" in out.stdout


def test_convert_round_trip_midi_cantus_midi(pop909_dir, tmp_path, capsys):
    src = pop909_dir / "003" / "003.mid"
    assert main(["convert", str(src), "-o", str(tmp_path / "a.cantus")]) == 0
    assert main(["convert", str(tmp_path / "a.cantus"), "-o", str(tmp_path / "b.mid")]) == 0
    assert read_midi(tmp_path / "b.mid") == read_midi(src)
    assert "wrote" in capsys.readouterr().out


def test_errors_are_sentences_with_exit_code_2(tmp_path, capsys):
    (tmp_path / "x.txt").write_text("hello")
    assert main(["info", str(tmp_path / "x.txt")]) == 2
    err = capsys.readouterr().err
    assert "neither" in err and "Traceback" not in err
    assert main(["convert", str(tmp_path / "missing.mid"), "-o", str(tmp_path / "y.cantus")]) == 2
    assert not (tmp_path / "y.cantus").exists()


def test_data_build_on_a_folder_prints_counts(tmp_path, capsys):
    from engine.music.midi_io import write_midi
    from engine.music.sketch import Note, Sketch, Track

    folder = tmp_path / "songs"
    folder.mkdir()
    for k in range(3):
        notes = [Note(60 + (i * (k + 2)) % 12, 80, i * 240, (i + 1) * 240) for i in range(64)]
        write_midi(Sketch.new(tracks=[Track("Lead", 0, False, notes)]), folder / f"song{k}.mid")
    (folder / "broken.mid").write_bytes(b"MThd garbage")
    assert main(["data", "build", "--source", str(folder), "--workers", "1", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "3" in out and "failed" in out.lower()


def test_train_transformers_command_line_defaults_are_the_trainers():
    from engine.cli import build_parser
    from engine.train.transformer_args import TrainArgs

    args = build_parser().parse_args(["train", "transformer"])
    d = TrainArgs()
    assert (args.sources, args.line, args.out, args.d_model, args.layers, args.heads, args.d_ff, args.max_len,
            args.dropout, args.batch_size, args.lr, args.warmup, args.transpose, args.stretch, args.eval_every,
            args.seed, args.precision) == \
        (d.sources, d.line, d.out, d.d_model, d.n_layers, d.n_heads, d.d_ff, d.max_len, d.dropout, d.batch_size,
         d.lr, d.warmup, d.transpose, d.stretch, d.eval_every, d.seed, d.precision)
