"""Dedupe decisions for a batch of items: which are already known, which copy an earlier one.

Pure: storage supplies what it knows (`KnownKeys`), this module decides. No I/O.
"""

from __future__ import annotations

from collections.abc import Sequence

from monitor.records import ItemIntent, KnownKeys, Planned, StoreCounts


def plan_batch(intents: Sequence[ItemIntent], known: KnownKeys) -> tuple[list[Planned], StoreCounts]:
    """Drop what this source already has (same guid or canonical URL); point copies of
    other items (same canonical URL or content hash, any source) at the first of them."""
    counts = StoreCounts()
    planned: list[Planned] = []
    guids, urls = set(known.source_guids), set(known.source_urls)
    batch_url: dict[str, int] = {}
    batch_hash: dict[str, int] = {}
    for intent in intents:
        url = intent.canonical_url
        if intent.guid in guids or (url is not None and url in urls):
            counts.unchanged += 1
            continue
        guids.add(intent.guid)
        if url is not None:
            urls.add(url)
        stored = (known.first_by_url.get(url) if url else None) or known.first_by_hash.get(intent.content_hash)
        index = None if stored else (batch_url.get(url) if url else None)
        if stored is None and index is None:
            index = batch_hash.get(intent.content_hash)
        if stored is None and index is None:
            if url:
                batch_url[url] = len(planned)
            batch_hash[intent.content_hash] = len(planned)
            counts.new += 1
        else:
            counts.duplicate += 1
        planned.append(Planned(intent, stored, index))
    return planned, counts
