"""Cantus's bundled resources (installed as the package ``cantus_resources``): models/<name>/ holds
each model's config.json, weights.safetensors and CARD.md. Found by `engine.registry`."""
