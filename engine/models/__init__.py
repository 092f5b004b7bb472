"""Neural networks, one small file each: plain nn.Modules with a dataclass config."""
