"""Corpora to training data: music21's corpus, POP909 and MIDI folders, as melody windows and
performance sequences, split by piece and cached. See `engine.data.corpus` for the rules."""

from engine.data.cache import cache_dir
from engine.data.corpus import CorpusData, build_corpus, format_counts, load_corpora, load_corpus
from engine.data.pieces import EXTRACTOR_VERSION, SPLITS, FileResult, Piece, split_of
from engine.data.windows import cut_windows, keep_mask

__all__ = [
    "EXTRACTOR_VERSION", "SPLITS", "CorpusData", "FileResult", "Piece", "build_corpus",
    "cache_dir", "cut_windows", "format_counts", "keep_mask", "load_corpora", "load_corpus", "split_of",
]
