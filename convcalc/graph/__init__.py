"""The network graph: nodes (layer instances with their tensors) and a tree of groups, built once from a spec."""
