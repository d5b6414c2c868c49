"""Exact dedupe decisions (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

from monitor.keep.dedupe import plan_batch
from monitor.records import ItemIntent, KnownKeys

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def intent(guid: str, url: str | None, digest: str, source: str = "s") -> ItemIntent:
    return ItemIntent(source, guid, url, url, "t", "s", "en", NOW, NOW, None, digest)


def test_known_guid_or_url_in_source_is_unchanged() -> None:
    known = KnownKeys(frozenset({"g1"}), frozenset({"http://h/2"}))
    planned, counts = plan_batch([intent("g1", "http://h/1", "a"), intent("g2", "http://h/2", "b")], known)
    assert planned == [] and counts.unchanged == 2


def test_repeats_within_a_batch_are_dropped() -> None:
    planned, counts = plan_batch(
        [intent("g1", "http://h/1", "a"), intent("g1", "http://h/9", "b"), intent("g3", "http://h/1", "c")], KnownKeys()
    )
    assert len(planned) == 1 and (counts.new, counts.unchanged) == (1, 2)


def test_copies_point_at_the_first_stored_item() -> None:
    known = KnownKeys(first_by_url={"http://h/1": 7}, first_by_hash={"hh": 9})
    planned, counts = plan_batch(
        [intent("a", "http://h/1", "x"), intent("b", "http://h/5", "hh"), intent("c", "http://h/6", "new")], known
    )
    assert [p.duplicate_of for p in planned] == [7, 9, None]
    assert (counts.new, counts.duplicate) == (1, 2)


def test_copies_within_a_batch_point_at_the_earlier_one() -> None:
    planned, _ = plan_batch(
        [intent("a", "http://h/1", "x"), intent("b", "http://h/2", "x"), intent("c", None, "x")], KnownKeys()
    )
    assert [p.duplicate_of_index for p in planned] == [None, 0, 0]
