"""Digests: build the content of a period (pure), render it (pure), deliver it (I/O)."""
