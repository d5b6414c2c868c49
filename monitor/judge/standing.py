"""Where each claim stands, derived from its flags (dismissed ones left out). Pure, no I/O.

- `unchallenged`: no flag;
- `supported`: only flags that support it;
- `updated`: a later development changed its status (an `updates` flag), none contradicts it;
- `contested`: at least one flag contradicts it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from monitor.judge.registry import Claim
from monitor.records import StoredFlag


@dataclass(frozen=True, slots=True)
class Standing:
    claim: Claim
    status: str
    counts: dict[str, int]
    timeline: list[StoredFlag]  # oldest item first

    @property
    def latest(self) -> StoredFlag | None:
        return self.timeline[-1] if self.timeline else None


def claim_status(relations: Counter[str]) -> str:
    if relations["contradicts"]:
        return "contested"
    if relations["updates"]:
        return "updated"
    if relations["supports"]:
        return "supported"
    return "unchallenged"


def standings(claims: Sequence[Claim], flags: Sequence[StoredFlag]) -> list[Standing]:
    """Each claim's status, relation counts and timeline, in registry order."""
    by_claim: dict[str, list[StoredFlag]] = {}
    for flag in flags:
        if flag.state != "dismissed":
            by_claim.setdefault(flag.claim_id, []).append(flag)
    result = []
    for claim in claims:
        timeline = sorted(by_claim.get(claim.id, []), key=lambda f: (f.item.published_at, f.id))
        counts = Counter(f.relation for f in timeline)
        result.append(Standing(claim, claim_status(counts), dict(counts), timeline))
    return result
