"""What the handlers call: the same repository functions and pure steps the command line uses
(`standings`, `review_flag`, `read_status`, the digest's own build and render), returning the
documents of `monitor.web.views`. Handlers hold no SQL and no logic of their own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from monitor.config import Config
from monitor.judge.standing import standings
from monitor.pipeline.digest import make_digest
from monitor.pipeline.status import read_status
from monitor.records import StoredFlag
from monitor.storage import SqlRepository
from monitor.storage.search import ItemSearch
from monitor.tell.render import environment, render_email
from monitor.tell.status import StatusReport, source_health
from monitor.web import views

REVIEW_STATES = {"confirm": "confirmed", "dismiss": "dismissed"}  # as `monitor flags confirm|dismiss`
NOTE_CHARS = 4000


@dataclass(frozen=True)
class WebData:
    config: Config
    engine: Engine
    clock: Callable[[], datetime]

    @property
    def repo(self) -> SqlRepository:
        return SqlRepository(self.engine)

    # -- claims and flags

    def claims(self) -> list[dict[str, Any]]:
        return [views.claim_row(s) for s in standings(self.config.registry.claims, self.repo.list_flags())]

    def claim(self, claim_id: str) -> dict[str, Any] | None:
        claim = self.config.registry.claim(claim_id)
        if claim is None:
            return None
        flags = self.repo.list_flags(claim_id=claim_id)
        [standing] = standings([claim], flags)
        return views.claim_page(standing, [f for f in flags if f.state == "dismissed"])

    def queue(self) -> list[dict[str, Any]]:
        texts = {c.id: c.text for c in self.config.registry.claims}
        return [{**views.flag_doc(f), "claim_text": texts.get(f.claim_id, "")} for f in self._queue()]

    def _queue(self) -> list[StoredFlag]:
        return views.review_queue(self.repo.list_flags(state="new"))

    def review(self, flag_id: int, action: str, note: str | None) -> dict[str, Any] | None:
        """Confirm or dismiss a flag exactly as `monitor flags confirm|dismiss --note` does;
        None when there is no such flag. The stored review feeds `monitor judge fit`."""
        state = REVIEW_STATES[action]
        note = (note or "").strip()[:NOTE_CHARS] or None
        if not self.repo.review_flag(flag_id, state, note, self.clock()):
            return None
        [flag] = self.repo.list_flags(ids=[flag_id])
        return views.flag_doc(flag)

    # -- stories, items, sources, digests

    def stories(self, limit: int = 200) -> list[dict[str, Any]]:
        return [views.story_doc(s) for s in self.repo.list_stories(relevant_only=True)[:limit]]

    def items(self, query: str, limit: int = 100) -> list[dict[str, Any]]:
        """Newest items, or with `query` the items holding every word of it (either script)."""
        parsed = views.search_query(query)
        if parsed is None:
            return [views.item_doc(i) for i in self.repo.list_items(limit=limit)]
        search = ItemSearch(self.engine)
        search.index_pending(views.search_document)
        return [views.item_doc(i) for i in search.search(*parsed, limit=limit)]

    def sources(self) -> list[dict[str, Any]]:
        states = {s.id: s for s in self.repo.source_states([s.id for s in self.config.sources])}
        interval = self.config.settings.poll.interval
        return [views.source_doc(source_health(s, states.get(s.id), interval)) for s in self.config.sources]

    def digests(self) -> list[dict[str, Any]]:
        repo = self.repo
        return [views.digest_doc(d, repo.deliveries(d.id)) for d in reversed(repo.digests())]

    def digest(self, digest_id: int) -> dict[str, Any] | None:
        repo = self.repo
        record = next((d for d in repo.digests() if d.id == digest_id), None)
        if record is None:
            return None
        markdown = _read(record.path)
        return {**views.digest_doc(record, repo.deliveries(record.id)), "markdown": markdown}

    def digest_html(self, digest_id: int) -> str | None:
        """The digest as its e-mail shows it, rebuilt from the store by the digest's own code."""
        repo = self.repo
        record = next((d for d in repo.digests() if d.id == digest_id), None)
        if record is None:
            return None
        digest = make_digest(repo, self.config, record.period_start, record.period_end, repo.list_flags())
        return render_email(digest, environment(self.config.dir)).html

    # -- health

    def status(self) -> StatusReport:
        return read_status(self.config, self.engine, self.clock())


def _read(path: str | None) -> str | None:
    if not path:
        return None
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError:
        return None
