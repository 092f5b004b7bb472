"""Encodings of notes for the models: melody one-hot, performance events, drum classes."""
