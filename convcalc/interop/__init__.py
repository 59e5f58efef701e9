"""Other tools and frameworks: the PyTorch export and its check, the peers' counting presets."""
