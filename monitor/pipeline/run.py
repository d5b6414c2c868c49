"""One poll cycle, recorded: the `cycle` row opened and closed around `poll_sources`, its
outcome logged (one line per cycle, and a line for each source that went into backoff). What
`monitor run --once` and each tick of `monitor serve` call.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence

from monitor.logs import log_time
from monitor.pipeline.cycle import Cycle, OnOutcome, poll_sources, verifier_report
from monitor.records import CycleReport, SourceOutcome
from monitor.settings import Source
from monitor.storage import SqlRepository

log = logging.getLogger(__name__)


async def run_cycle(
    sources: Sequence[Source],
    cycle: Cycle,
    *,
    trigger: str,
    on_outcome: OnOutcome | None = None,
    others: Sequence[Source] = (),
) -> CycleReport:
    """Poll `sources` once (and catch up on `others`' pending articles), recorded as a cycle
    row: running, then its counts and failures (also when interrupted: the sources done by then
    are counted)."""
    began = time.monotonic()
    cycle_id = cycle.repo.start_cycle(trigger=trigger, at=cycle.clock(), sources=len(sources))
    outcomes: list[SourceOutcome] = []

    def collect(outcome: SourceOutcome) -> None:
        outcomes.append(outcome)
        if cycle.metrics is not None:
            cycle.metrics.observe_outcome(outcome)
        if on_outcome:
            on_outcome(outcome)

    status = "crashed"
    try:
        report = await poll_sources(sources, cycle, on_outcome=collect, others=others)
        status = cycle_status(outcomes)
        return report
    except asyncio.CancelledError:
        status = "interrupted"
        raise
    finally:
        verified = verifier_report(cycle.verifier)
        if cycle.metrics is not None:
            cycle.metrics.observe_verifier(verified)
        cycle.repo.finish_cycle(cycle_id, at=cycle.clock(), status=status, outcomes=outcomes, verifier=verified)
        _log_cycle(cycle_id, trigger, status, len(sources), outcomes, time.monotonic() - began)
        if verified is not None:
            log.info(
                "event=verifier cycle=%d calls=%d tokens=%d seconds=%.2f invalid=%d errors=%d left=%d stopped=%r",
                cycle_id,
                verified.calls,
                verified.tokens,
                verified.seconds,
                verified.invalid,
                verified.errors,
                verified.left,
                verified.stopped,
            )
        _log_backoff(cycle.repo, outcomes)


def cycle_status(outcomes: Sequence[SourceOutcome]) -> str:
    failed = sum(o.status == "error" for o in outcomes)
    if not failed:
        return "ok"
    return "failed" if failed == len(outcomes) else "partial"


def _log_cycle(
    cycle_id: int, trigger: str, status: str, sources: int, outcomes: Sequence[SourceOutcome], seconds: float
) -> None:
    log.info(
        "event=cycle cycle=%d trigger=%s status=%s sources=%d ok=%d not_modified=%d failed=%d "
        "new=%d duplicate=%d unchanged=%d seconds=%.2f",
        cycle_id,
        trigger,
        status,
        sources,
        sum(o.status == "ok" for o in outcomes),
        sum(o.status == "not_modified" for o in outcomes),
        sum(o.status == "error" for o in outcomes),
        sum(o.counts.new for o in outcomes),
        sum(o.counts.duplicate for o in outcomes),
        sum(o.counts.unchanged for o in outcomes),
        seconds,
    )


def _log_backoff(repo: SqlRepository, outcomes: Sequence[SourceOutcome]) -> None:
    failed = [o.source_id for o in outcomes if o.status == "error"]
    for state in repo.source_states(failed) if failed else []:
        wait = (
            (state.next_poll_at - state.last_polled_at).total_seconds()
            if state.next_poll_at and state.last_polled_at
            else 0
        )
        log.info(
            "event=backoff source=%s errors=%d wait=%.1f next_poll_at=%s",
            state.id,
            state.consecutive_errors,
            wait,
            log_time(state.next_poll_at),
        )
