"""music21's corpus: a chorale with a pickup, a book of folk songs (an opus), the file order."""

import numpy as np
from conftest import assert_valid_windows

from engine.data import build_corpus
from engine.data.sources import music21_files

CHORALE = "bach/bwv66.6.mxl"  # 4/4, a one-beat pickup (two eighths), 9 full bars
FOLK_BOOK = "essenFolksong/testd.abc"  # 8 songs: 6/8, 4/4, 3/4, 2/4...


def test_chorale_and_folk_book():
    corpus = build_corpus("music21", files=[CHORALE, FOLK_BOOK], workers=1, progress=False)
    c = corpus.counts
    assert c["files"] == 2 and c["files_failed"] == 0 and c["files_parsed"] == 2
    assert c["pieces"] == 9  # the chorale and the book's 8 songs
    assert f"music21:{FOLK_BOOK}#8" in corpus.piece_ids and f"music21:{CHORALE}" in corpus.piece_ids
    assert c["meters"]["4/4"] == 3
    assert c["meters"]["2/4"] == 3  # two 2/4 bars make a window bar
    assert c["pieces_skipped_meter"] == 3  # the 6/8 and 3/4 songs give performances only
    for split in corpus.windows_2bar:
        assert_valid_windows(corpus.windows_2bar[split], 32)
        assert_valid_windows(corpus.windows_16bar[split], 256)
    assert sum(len(p) for p in corpus.performances.values()) == 9
    # The melody alone: the first part's line, one note at a time (the chorale's soprano).
    from engine.music.encodings import performance as perf

    melodies = [p for s in corpus.melody_performances.values() for p in s]
    assert len(melodies) == 9
    for line in melodies:
        notes = perf.decode(line)
        assert notes and all(a.end_s <= b.start_s + 1e-9 for a, b in zip(notes, notes[1:]))
    i = corpus.piece_ids.index(f"music21:{CHORALE}")
    split = next(s for s in corpus.performance_pieces if i in corpus.performance_pieces[s])
    j = corpus.performance_pieces[split].tolist().index(i)  # every piece here has a melody too
    soprano, choir = perf.decode(corpus.melody_performances[split][j]), perf.decode(corpus.performances[split][j])
    assert 3 * len(soprano) < len(choir) and max(n.pitch for n in soprano) == max(n.pitch for n in choir)
    assert build_corpus("music21", files=[CHORALE, FOLK_BOOK], workers=1,
                        progress=False).counts["files_parsed"] == 0


def test_chorale_windows_start_on_the_first_full_bar():
    from music21 import converter, stream
    from music21.corpus import getWork

    corpus = build_corpus("music21", files=[CHORALE], workers=1, progress=False)
    index = corpus.piece_ids.index(f"music21:{CHORALE}")
    split = next(s for s, owners in corpus.window_pieces_2bar.items() if index in owners)
    first = corpus.windows_2bar[split][corpus.window_pieces_2bar[split] == index][0]
    # The soprano's notes in bars 1 and 2, read straight from music21.
    soprano = converter.parse(getWork(CHORALE)).parts[0].stripTies()
    expected = np.zeros(32, np.uint8)
    for m in soprano.getElementsByClass(stream.Measure):
        if m.number in (1, 2):
            for n in m.notes:
                step = int((m.offset - 1.0 + n.offset) * 4)  # bar 1 begins after the 1-beat pickup
                expected[step] = 2 + n.pitch.midi - 21
                end = step + int(n.quarterLength * 4)
                if end < 32 and expected[end] == 0:
                    expected[end] = 1
    onsets = expected >= 2
    assert np.array_equal(first >= 2, onsets)
    assert np.array_equal(first[onsets], expected[onsets])
    assert first[0] == 2 + 69 - 21  # A4 on the downbeat of bar 1, not the pickup's C#5


def test_corpus_files_in_a_stable_sampling_order():
    named, left_out = music21_files()
    assert len(named) > 3000 and left_out > 0  # Roman-numeral analyses are left out
    assert named == music21_files()[0]
    first_200 = {name.split("/")[0] for name, _ in named[:200]}
    assert {"bach", "palestrina", "ryansMammoth"} <= first_200


def test_a_copy_of_cantus_without_music21s_scores_says_so(monkeypatch, tmp_path):
    import pytest
    from music21 import common

    from engine.errors import DataError

    def missing():  # what music21 does in the frozen app, whose scores folder is not there
        return next(iter((tmp_path / "music21" / "corpus").iterdir()))

    monkeypatch.setattr(common, "getCorpusFilePath", missing)
    with pytest.raises(DataError, match="does not carry music21's corpus"):
        music21_files()
