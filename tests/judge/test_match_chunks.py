"""Judging in chunks (`pipeline.match_items`) stores what judging all at once does, and the
sentence vectors it stores are reused: a rematch embeds nothing again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select

from monitor.pipeline.match import match_items
from monitor.settings import Source
from monitor.storage import SqlRepository, open_database
from monitor.storage.tables import FlagRow, ItemRow
from tests.judging import needs_encoder, shipped_judge

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
