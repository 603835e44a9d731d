"""migemu's QAPI generator: QAPI schema language in, C++20 + RapidJSON out.

Stages (each its own module): parser -> expr (checks, normalisation) -> schema (typed
entity model) -> one visitor-based backend per output (types, visit, commands, events,
introspect), plus dump (the stable model dump the golden tests compare).
"""
