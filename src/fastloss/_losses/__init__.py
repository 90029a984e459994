"""Loss semantics, one module per family: validation, shapes and reductions, then a kernel call."""
