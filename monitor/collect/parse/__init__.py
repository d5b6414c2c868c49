"""Parsers: documents (bytes plus headers) in, `ParsedFeed` out. No I/O."""
