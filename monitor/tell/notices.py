"""What to tell: the notices of a moment, from data. No I/O, no clock (`now` is given).

A notice has a key that names the event it reports, so that the ledger holds it once per
channel however often the same state is looked at:

- `alert:<claim>:<relation>:<flag>`: a claim's first `contradicts` or first `updates` flag (not
  dismissed; where the verifier is on, verified), i.e. the moment its standing changes;
- `health:<source>:down:<since>` once a source has failed for `health_after` seconds, and
  `health:<source>:up:<since>` when it succeeds again after a `down` was raised;
- `digest:<period end>`: the digest of a period.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from monitor.judge import Claim
from monitor.records import SourceState, StoredFlag
from monitor.settings import NotifyTarget
from monitor.tell.build import Digest
from monitor.tell.render import item_url, line

ALERT_RELATIONS = ("contradicts", "updates")
_CHANGED = {"contradicts": "contested", "updates": "updated"}
_EVIDENCE_CHARS = 400


@dataclass(frozen=True, slots=True)
class Notice:
    """One message to send: its kind (`digest`, `alert`, `health`), the key of its event, a
    title and a plain-text body, and a file to attach (the digest's)."""

    kind: str
    key: str
    title: str
    body: str
    attach: Path | None = None


def iso(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def first_changes(flags: Iterable[StoredFlag], *, verified_only: bool) -> list[StoredFlag]:
    """Each claim's first flag of each relation that changes its standing (oldest created
    first), among the flags not dismissed and, with the verifier on, verified by it."""
    first: dict[tuple[str, str], StoredFlag] = {}
    for flag in sorted(flags, key=lambda f: (f.created_at, f.id)):
        if flag.relation not in ALERT_RELATIONS or flag.state == "dismissed":
            continue
        if verified_only and (flag.verification is None or flag.verification.status != "verified"):
            continue
        first.setdefault((flag.claim_id, flag.relation), flag)
    return list(first.values())


def alert_notices(
    flags: Iterable[StoredFlag],
    claims: Sequence[Claim],
    names: Mapping[str, str],
    now: datetime,
    *,
    verified_only: bool,
    max_age: int,
) -> list[Notice]:
    """One alert per claim change not older than `max_age` (older news waits for no one: a
    channel added to an old database is not flooded with its history)."""
    texts = {c.id: c.text for c in claims}
    oldest = now - timedelta(seconds=max_age)
    return [
        alert_notice(flag, texts.get(flag.claim_id), names)
        for flag in first_changes(flags, verified_only=verified_only)
        if flag.created_at >= oldest
    ]


def alert_notice(flag: StoredFlag, claim_text: str | None, names: Mapping[str, str]) -> Notice:
    """The claim, how its standing changed, the evidence sentence, the report and its link."""
    item = flag.item
    outlets = ", ".join(line(names.get(s, s)) for s in flag.sources) or line(names.get(item.source_id, item.source_id))
    evidence = line(flag.evidence)
    if len(evidence) > _EVIDENCE_CHARS:
        evidence = evidence[: _EVIDENCE_CHARS - 1] + "…"
    lines = [
        f"Claim {flag.claim_id} is now {_CHANGED[flag.relation]}: a report {flag.relation} it.",
        *([f"Claim: {line(claim_text)}"] if claim_text else []),
        f"Evidence: “{evidence}”",
        f"Report: {line(item.title) or '(untitled)'} ({outlets}, {item.published_at:%Y-%m-%d})",
        *([f"Link: {url}"] if (url := item_url(item)) else []),
        *([line(flag.verification.summary())] if flag.verification is not None else []),
        f"Flag {flag.id} (score {flag.score:.2f}): review it with `monitor flags confirm|dismiss {flag.id}`.",
    ]
    title = f"{flag.claim_id} {flag.relation}: {line(item.title)}"[:200]
    return Notice("alert", f"alert:{flag.claim_id}:{flag.relation}:{flag.id}", title, "\n".join(lines))


def failing_for(state: SourceState, now: datetime) -> timedelta | None:
    """How long a failing source has failed (since its first error after its last success)."""
    if not state.consecutive_errors or state.failing_since is None:
        return None
    return now - state.failing_since


def health_notices(
    states: Iterable[SourceState],
    names: Mapping[str, str],
    now: datetime,
    *,
    after: int,
    known: Collection[str],
) -> list[Notice]:
    """`down` for each source failing longer than `after` seconds; `up` for each source that
    succeeds again after a `down` in `known` (the keys a channel already holds) was raised."""
    notices = []
    for state in states:
        name = line(names.get(state.id, state.name or state.id))
        failing = failing_for(state, now)
        if failing is not None and failing >= timedelta(seconds=after) and state.failing_since is not None:
            notices.append(down_notice(state, name, failing, state.failing_since))
        elif not state.consecutive_errors:
            ups = (up_notice(state, name, k) for k in sorted(known) if k.startswith(f"health:{state.id}:down:"))
            notices.extend(up for up in ups if up.key not in known)
    return notices


def down_notice(state: SourceState, name: str, failing: timedelta, since: datetime) -> Notice:
    hours = failing.total_seconds() / 3600
    body = "\n".join(
        [
            f"Source {name} ({state.id}) has failed for {hours:.1f} h, {state.consecutive_errors} polls in a row.",
            f"Last error: {line(state.last_error) or '-'}",
            f"Last success: {iso(state.last_success_at) if state.last_success_at else 'never'}",
            "It is still polled; you will be told when it recovers.",
        ]
    )
    return Notice("health", f"health:{state.id}:down:{iso(since)}", f"Source failing: {name}", body)


def up_notice(state: SourceState, name: str, down_key: str) -> Notice:
    since = down_key.rsplit(":down:", 1)[1]
    at = iso(state.last_success_at) if state.last_success_at else "now"
    body = f"Source {name} ({state.id}) works again: polled successfully at {at} (failing since {since})."
    return Notice("health", f"health:{state.id}:up:{since}", f"Source recovered: {name}", body)


def digest_notice(digest: Digest, path: Path, *, attach: bool) -> Notice:
    """A short text of the digest: its claim changes (claim, relation, standing, evidence, link),
    its counts, and where the whole is (attached when the channel takes files)."""
    lines = [f"{digest.start:%Y-%m-%d %H:%M} → {digest.end:%Y-%m-%d %H:%M} UTC"]
    if digest.empty:
        lines.append("Nothing new in this period.")
    for change in digest.claim_changes:
        lead = change.entries[0] if change.entries else None
        lines.append(f"• {change.claim_id} {', '.join(change.relations)} (now {change.status})")
        if lead is not None:
            lines.append(f"  “{line(lead.evidence)[:_EVIDENCE_CHARS]}” — {line(lead.outlet)}")
            if url := item_url(lead.item):
                lines.append(f"  {url}")
    lines.append(f"{digest.change_count} claim change(s), {digest.story_count} stories, {digest.item_count} new items.")
    lines.append(f"Full digest: {path.name}" + (" (attached)" if attach else f" ({path})"))
    title = f"{line(digest.title)} · {digest.end:%Y-%m-%d}"
    return Notice("digest", f"digest:{iso(digest.end)}", title, "\n".join(lines), path if attach else None)


def for_target(target: NotifyTarget, notices: Iterable[Notice]) -> list[Notice]:
    """The notices a target receives."""
    return [n for n in notices if n.kind in target.receives]
