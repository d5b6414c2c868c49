"""Judging in chunks (`pipeline.match_items`) stores what judging all at once does, and the
sentence vectors it stores are reused: a rematch embeds nothing again."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select

from monitor.config import load_registry
from monitor.judge.judge import Judge
from monitor.judge.reading import ItemReading
from monitor.pipeline.match import match_items
from monitor.records import Decision
from monitor.settings import Source
from monitor.storage import SqlRepository, open_database
from monitor.storage.tables import FlagRow, ItemRow
from tests.judging import SHIPPED_CLAIMS, judge_for, needs_encoder, shipped_judge

T0 = datetime(2025, 7, 15, tzinfo=UTC)
TEXTS = [
    ("US lets Nvidia resume H20 chip sales to China", "The Commerce Department granted Nvidia export licences."),
    ("網信辦約談輝達 要求說明H20晶片後門安全風險", "網信辦約談輝達公司，要求其說明H20晶片漏洞後門安全風險。"),
    ("Local club wins the regional football cup", "The match went to penalties after extra time."),
    ("US adds HBM memory chips to export controls on China", ""),
    ("Nvidia H20 sells for about US$12,000", "The H20 price was said to be $12,000."),
]


def _store(path: Path) -> SqlRepository:
    repo = SqlRepository(open_database(f"sqlite:///{path}"))
    repo.sync_sources([Source(id="s", url="http://example.com/feed", kind="feed")])
    rows = [
        {
            "source_id": "s",
            "guid": f"g{n}",
            "title": title,
            "summary": summary,
            "lang": "zh-Hant" if n % len(TEXTS) == 1 else "en",
            "published_at": T0 + timedelta(hours=n),
            "fetched_at": T0 + timedelta(hours=n),
            "content_hash": f"h{n}",
            "relevant": n % 4 != 3,
        }
        for n, (title, summary) in enumerate(TEXTS * 3)
    ]
    with repo.session() as session, session.begin():
        session.execute(insert(ItemRow), rows)
    return repo


def _flags(repo: SqlRepository) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    with repo.session() as session:
        flags = session.execute(select(FlagRow.item_id, FlagRow.claim_id, FlagRow.relation, FlagRow.score))
        matched = session.execute(select(ItemRow.id, ItemRow.matched_at))
        return sorted(tuple(f) for f in flags), sorted(tuple(m) for m in matched)


@needs_encoder
def test_matching_in_chunks_stores_the_flags_of_matching_at_once(tmp_path: Path) -> None:
    matcher, now = shipped_judge(), T0 + timedelta(days=1)
    chunked, at_once = _store(tmp_path / "chunked.db"), _store(tmp_path / "at_once.db")
    relevant = sum(n % 4 != 3 for n in range(3 * len(TEXTS)))
    assert match_items(chunked, matcher, now, chunk=2) == relevant
    assert match_items(at_once, matcher, now, chunk=1000) == relevant
    flags, matched = _flags(chunked)
    assert flags and (flags, matched) == _flags(at_once)
    assert match_items(chunked, matcher, now, chunk=2) == 0  # all matched already
    assert match_items(chunked, matcher, now, again=True, chunk=3) == relevant
    assert _flags(chunked) == (flags, matched)


class PoisonedJudge(Judge):
    """The shipped judge, but one item's text breaks it (a bug it would find)."""

    def decide(self, item: ItemReading, vectors: Any) -> list[Decision]:
        if any("penalties" in s.text for s in item.sentences):
            raise ValueError("a bug this text finds")
        return super().decide(item, vectors)


def test_an_item_that_breaks_the_judge_is_logged_and_passed_and_the_others_are_judged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The broken items (the football text, where it is relevant) are logged and stored as judged
    without flags; every other item gets the flags a sound judge gives it, in a chunk with one
    of them or not, and the broken ones are not tried again at the next call."""
    now = T0 + timedelta(days=1)
    sound, broken = _store(tmp_path / "sound.db"), _store(tmp_path / "broken.db")
    registry = load_registry(SHIPPED_CLAIMS)
    judge = judge_for(registry, with_encoder=False)
    poisoned = PoisonedJudge(registry, None, judge.calibration)
    relevant = sum(n % 4 != 3 for n in range(3 * len(TEXTS)))
    assert match_items(sound, judge, now, chunk=4) == relevant
    with caplog.at_level(logging.ERROR, logger="monitor.pipeline.match"):
        assert match_items(broken, poisoned, now, chunk=4) == relevant
    with broken.session() as session:
        broken_items = select(ItemRow.id).where(ItemRow.summary.contains("penalties"), ItemRow.relevant)
        victims = set(session.scalars(broken_items))
    assert victims and {r.getMessage().split()[1] for r in caplog.records} == {f"item={i}" for i in victims}
    flags, matched = _flags(broken)
    sound_flags, sound_matched = _flags(sound)
    assert flags == [f for f in sound_flags if f[0] not in victims] and flags
    assert [m[0] for m in matched if m[1] is not None] == [m[0] for m in sound_matched if m[1] is not None]
    assert match_items(broken, poisoned, now) == 0  # judged: not tried again at every cycle


class BrokenJudge(Judge):
    """A judge that fails on every text: the failure is the judge's, not an item's."""

    def decide(self, item: ItemReading, vectors: Any) -> list[Decision]:
        raise OSError("the model's file cannot be read")


def test_a_judge_that_fails_on_every_item_fails_and_leaves_them_to_judge(tmp_path: Path) -> None:
    """No item is stored as judged when none could be: the call fails as before the isolation,
    and the items wait for a judge that works."""
    repo = _store(tmp_path / "broken.db")
    registry = load_registry(SHIPPED_CLAIMS)
    broken = BrokenJudge(registry, None, judge_for(registry, with_encoder=False).calibration)
    with pytest.raises(OSError, match="cannot be read"):
        match_items(repo, broken, T0 + timedelta(days=1), chunk=4)
    flags, matched = _flags(repo)
    assert flags == [] and all(at is None for _, at in matched)
    assert len(repo.items_to_match()) == sum(n % 4 != 3 for n in range(3 * len(TEXTS)))
