"""`cantus vocode` and `cantus eval render`, run as a user would: any audio through the mel and back,
bad input as a sentence with exit code 2 and nothing written."""

import json

import numpy as np
import pytest
import soundfile

from engine.audio.mel import MEL
from engine.cli import main
from engine.registry import model_dir
from engine.music.midi_io import write_midi
from engine.music.sketch import Note, Sketch, Track


@pytest.fixture
def stereo_wav(tmp_path):
    t = np.arange(int(1.5 * 44100)) / 44100
    tone = 0.4 * np.sin(2 * np.pi * 262 * t) * np.exp(-2 * t)
    path = tmp_path / "in.wav"
    soundfile.write(path, np.stack([tone, tone], axis=1), 44100)
    return path


def test_vocode_with_griffin_lim_mixes_resamples_and_says_so(stereo_wav, tmp_path, capsys):
    out = tmp_path / "out.wav"
    assert main(["vocode", str(stereo_wav), "-o", str(out), "--vocoder", "griffinlim"]) == 0
    captured = capsys.readouterr()
    assert "mixed to mono" in captured.err and "resampled to 22,050 Hz" in captured.err
    assert "griffinlim" in captured.out and "real time" in captured.out
    audio, rate = soundfile.read(out)
    assert rate == MEL.sample_rate and audio.ndim == 1
    assert len(audio) == pytest.approx(1.5 * MEL.sample_rate, abs=2)
    # The same note comes back: its strongest partial is where the input's is.
    spectrum = np.abs(np.fft.rfft(audio[: MEL.sample_rate // 2]))
    assert abs(np.argmax(spectrum) * 2 - 262) < 6


@pytest.mark.parametrize("make, message", [
    (lambda p: p.write_text("not audio"), "not an audio file"),
    (lambda p: soundfile.write(p, np.zeros(22050), 22050), "silent"),
    (lambda p: soundfile.write(p, 0.5 * np.ones(100), 22050), "too short"),
])
def test_bad_input_is_a_sentence_and_nothing_is_written(tmp_path, capsys, make, message):
    src = tmp_path / "bad.wav"
    make(src)
    out = tmp_path / "out.wav"
    assert main(["vocode", str(src), "-o", str(out), "--vocoder", "griffinlim"]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_a_missing_or_damaged_model_is_a_sentence(stereo_wav, tmp_path, capsys):
    out = tmp_path / "out.wav"
    assert main(["vocode", str(stereo_wav), "-o", str(out), "--model", str(tmp_path / "nowhere")]) == 2
    assert "not installed" in capsys.readouterr().err
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text('{"model": "fast_vocoder", "config": {}}')
    (broken / "weights.safetensors").write_bytes(b"garbage")
    assert main(["vocode", str(stereo_wav), "-o", str(out), "--model", str(broken)]) == 2
    assert "damaged" in capsys.readouterr().err
    assert not out.exists()


def test_eval_render_scores_griffin_lim_against_the_synth(tmp_path, capsys):
    folder = tmp_path / "midi"
    folder.mkdir()
    notes = [Note(60 + 2 * i, 90, i * 480, (i + 1) * 480) for i in range(8)]
    write_midi(Sketch.new(qpm=120, tracks=[Track("Piano", 0, False, notes)]), folder / "tune.mid")
    assert main(["eval", "render", "--midi-dir", str(folder), "--methods", "reference,griffinlim",
                 "--seconds", "4", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["n_pieces"] == 1 and result["n_monophonic"] == 1
    ref, gl = result["reference"], result["griffinlim"]
    assert ref["mrstft"] == 0.0 and ref["mel_l1"] == 0.0
    # pYIN hears the synth's own piano in tune, and the onsets are where the notes are.
    assert ref["pitch_accuracy"] > 0.8 and ref["onset_f1"] > 0.8
    assert 0.1 < gl["mrstft"] < 3.0 and gl["rtf"] > 0 and gl["frame_ripple"] > 0
    assert 0.5 < gl["pitch_vs_reference"] <= 1.2


def test_the_engine_lists_every_vocoder_and_says_which_are_missing(tmp_path, monkeypatch):
    from engine import registry
    from engine.audio import render, vocode

    assert render.VOCODERS == tuple(vocode.VOCODERS)
    assert vocode.available("griffinlim") is None
    monkeypatch.setattr(registry, "MODELS_DIR", tmp_path)
    assert "not installed" in vocode.available("fast") and "not installed" in vocode.available("wavenet")
    with pytest.raises(vocode.VocoderError, match="Unknown vocoder"):
        vocode.get_vocoder("hifigan")


def test_frame_ripple_hears_a_throb_at_the_frame_rate():
    from engine.eval.render import frame_ripple

    t = np.arange(3 * MEL.sample_rate) / MEL.sample_rate
    tone = 0.3 * np.sin(2 * np.pi * 330 * t)
    throbbing = tone * (1 + 0.3 * np.sin(2 * np.pi * MEL.frames_per_second * t))
    assert frame_ripple(tone, tone) == pytest.approx(1.0)
    assert frame_ripple(throbbing, tone) > 10


def test_render_neural_writes_the_sketch_through_melflow(tmp_path, capsys):
    tune = tmp_path / "tune.mid"
    write_midi(Sketch.new(qpm=120, tracks=[Track("Flute", 73, False, [Note(72, 90, 0, 960)])]), tune)
    out = tmp_path / "neural.wav"
    assert main(["render", str(tune), "-o", str(out), "--renderer", "neural", "--temperature", "0.3",
                 "--sample-rate", "22050"]) == 0
    assert "MelFlow (temperature 0.3)" in capsys.readouterr().out
    info = soundfile.info(str(out))
    assert info.samplerate == 22050 and info.duration == pytest.approx(1.0 + 1.5, abs=0.05)


def test_eval_render_scores_melflow_against_its_encoder_and_the_copy_synthesis(tmp_path, capsys):
    folder = tmp_path / "midi"
    folder.mkdir()
    notes = [Note(67 + (i % 3), 90, i * 480, (i + 1) * 480) for i in range(6)]
    write_midi(Sketch.new(qpm=120, tracks=[Track("Piano", 0, False, notes)]), folder / "tune.mid")
    assert main(["eval", "render", "--midi-dir", str(folder), "--methods", "fast,melflow+fast,encoder+fast",
                 "--seconds", "3", "--no-pitch", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    flow, encoder = result["melflow+fast"], result["encoder+fast"]
    assert 0 < flow["melflow_rtf"] < flow["rtf"] and flow["temperature"] >= 0
    assert flow["mrstft_vs_copy_synthesis"] == pytest.approx(flow["mrstft"] / result["fast"]["mrstft"])
    assert encoder["mel_l1"] < 1.0 and flow["mel_l1"] < 1.0  # MelFlow's mel is near the synth's


@pytest.mark.parametrize("args", [["--gains", "loud"], ["--passes", "1.5"], ["--gains", "0"], ["--passes", "-1"]])
def test_choosing_a_post_filter_says_what_it_takes(args, tmp_path, capsys):
    # A bundle that is not there: should the arguments' check go, the sentence is another one,
    # and no bundle is rewritten.
    assert main(["train", "wavenet-postfilter", "--bundle", str(tmp_path / "nothing"), *args]) == 2
    assert "--gains" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["wavenet-postfilter", "wavenet-temperature"])
def test_choosing_for_a_missing_or_other_model_is_a_sentence(command, tmp_path, capsys):
    assert main(["train", command, "--bundle", str(tmp_path / "nothing")]) == 2
    assert "is not installed" in capsys.readouterr().err
    assert main(["train", command, "--bundle", str(model_dir("fast-vocoder"))]) == 2
    assert "is not a WaveNet model" in capsys.readouterr().err
