"""The process's counters for Prometheus: what polls, the judge, digests and the verifier did.

One `Metrics` object per process, built by the command line and passed down (the poll cycle,
the digest job, the web app that serves `/metrics`): it holds its own `CollectorRegistry`
rather than prometheus-client's global one, so two of them (two tests, two services in one
interpreter) never count into each other. The methods take the records the pipeline already
makes (`SourceOutcome`, `VerifierReport`, decisions) so the hooks in the pipeline are one call
each. No I/O: counting only; `/metrics` renders the registry.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from prometheus_client import CollectorRegistry, Counter, Histogram

from monitor.pipeline.digest import DigestOutcome
from monitor.records import Decision, SourceOutcome, VerifierReport

# Judge time per item: most items take milliseconds (stored vectors), a first embedding a second.
JUDGE_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """Counters of one process; every method is cheap and safe to call from any thread."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.polls = Counter("monitor_polls", "Polls of a source, by how they went", ["source", "status"], registry=r)
        self.poll_failures = Counter("monitor_poll_failures", "Polls of a source that failed", ["source"], registry=r)
        self.items = Counter("monitor_items", "Items stored by polls: new or duplicate", ["kind"], registry=r)
        self.flags = Counter("monitor_flags", "Flags the judge raised, by relation", ["relation"], registry=r)
        self.judge_seconds = Histogram(
            "monitor_judge_seconds", "Seconds the judge took per item", buckets=JUDGE_BUCKETS, registry=r
        )
        self.digests = Counter(
            "monitor_digest_deliveries", "Digest deliveries, by channel and result", ["channel", "status"], registry=r
        )
        self.verifier_calls = Counter("monitor_verifier_calls", "Calls made to the verifier model", registry=r)
        self.verifier_errors = Counter("monitor_verifier_errors", "Verifier calls that failed", registry=r)

    def observe_outcome(self, outcome: SourceOutcome) -> None:
        """One source polled: its poll, a failure, and the items it stored."""
        self.polls.labels(outcome.source_id, outcome.status).inc()
        if outcome.status == "error":
            self.poll_failures.labels(outcome.source_id).inc()
        self.items.labels("new").inc(outcome.counts.new)
        self.items.labels("duplicate").inc(outcome.counts.duplicate)

    def observe_judged(self, decisions: Iterable[Sequence[Decision]], seconds: float, items: int) -> None:
        """A chunk of items judged in `seconds`: the flags raised, and the time per item."""
        for item_decisions in decisions:
            for decision in item_decisions:
                self.flags.labels(decision.relation).inc()
        if items:
            per_item = seconds / items
            for _ in range(items):
                self.judge_seconds.observe(per_item)

    def observe_verifier(self, report: VerifierReport | None) -> None:
        """A cycle's verifier report (the verifier counts per cycle; this adds each cycle's)."""
        if report is not None:
            self.verifier_calls.inc(report.calls)
            self.verifier_errors.inc(report.errors)

    def observe_delivery(self, channel: str, ok: bool) -> None:
        self.digests.labels(channel, "sent" if ok else "failed").inc()

    def observe_digest(self, outcome: DigestOutcome) -> None:
        """A digest run's deliveries, for /metrics: the file always, the e-mail and the Atom feed
        when this run tried them."""
        self.observe_delivery("file", True)
        for email in (*outcome.retried, outcome.email):
            if email.status in ("sent", "failed"):
                self.observe_delivery("email", email.status == "sent")
        if outcome.feed_path is not None or outcome.feed_error is not None:
            self.observe_delivery("atom", outcome.feed_error is None)
