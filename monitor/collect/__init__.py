"""Collect: fetch feeds, pages and linked articles politely, and parse them.

Owns the HTTP edge (per-host limits, conditional GET, backoff, the URL gate, robots.txt),
decoding of bytes in any declared or sniffed charset, and the parsers of feeds, pages and
articles. May import the shared modules (`monitor.settings`, `monitor.records`,
`monitor.errors`, `monitor.logs`, `monitor.backoff`, `monitor.text`) and itself; never `keep`,
`judge`, `tell`, `storage`, `pipeline`, `service` or `cli`.
"""
