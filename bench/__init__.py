"""``nasoa.bench``: the suites behind ``nasoa bench`` and the provenance they record beside results."""
