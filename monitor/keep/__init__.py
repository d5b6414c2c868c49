"""Keep: what of the collected items is worth keeping, and once.

Owns topic relevance (and the watched claims' terms that widen it), exact duplicates, near
duplicates (MinHash, edited copies) and stories (one event, every language). Pure over what it
is given: the storage edge and the poll cycle (`monitor.pipeline.cycle`) feed it. May import the
shared modules and itself; never `collect`, `judge`, `tell`, `storage`, `pipeline`, `service`
or `cli`.
"""
