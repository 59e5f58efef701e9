"""Other tools and frameworks: the PyTorch export and its check, the peers' counting presets, and
the importers (ONNX files, PyTorch models: the same graph a spec becomes) with the spec writer."""
