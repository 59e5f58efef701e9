"""Teaching helpers: hand-computed convolutions and pooling, inverse size questions, layer derivations."""
