"""Read what `monitor.tell.status.build_status` judges: the one place `monitor status` and the web
side's `/readyz` gather it, so the two always give the same verdict."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine

from monitor.config import Config
from monitor.pipeline.notify import notify_status
from monitor.storage import SqlRepository
from monitor.storage.lock import POLL, SERVICE, lock_holder, why_gone
from monitor.tell.status import StatusReport, build_status


def read_status(config: Config, engine: Engine, now: datetime) -> StatusReport:
    """The status report of the service on `engine`, as of `now`."""
    repo = SqlRepository(engine)
    service, poll = lock_holder(engine, SERVICE), lock_holder(engine, POLL)
    return build_status(
        now=now,
        settings=config.settings,
        sources=config.sources,
        states=repo.source_states([s.id for s in config.sources]),
        service=service,
        poll=poll,
        last_cycle=repo.last_cycle(),
        last_digest=repo.last_digest(),
        service_gone=why_gone(service, now) if service else None,
        poll_gone=why_gone(poll, now) if poll else None,
        verify_pending=repo.count_verify_pending() if config.settings.judge.verifier.kind != "off" else 0,
        notifications=notify_status(config, repo),
    )
