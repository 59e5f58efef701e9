"""Arithmetic on sizes: ints on the fast path, sympy expressions for symbolic inputs (``dims``),
the exact-tiling rules (``_exact``) and the symbolic normal forms and bounds (``_symbolic``)."""
