"""Training loops and their command line: one CPU, one GPU, or many through torchrun."""
