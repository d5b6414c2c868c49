"""The notices of a moment, from data alone (monitor.tell.notices): which flags change a
claim's standing, how old news and dismissed flags are kept out, source health down and up, and
how secrets in URLs are resolved and scrubbed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from monitor.pipeline.notify import retry_delay
from monitor.records import SourceState, StoredFlag, StoredItem, Verification
from monitor.tell.channel import missing_variables, redact, resolve_url
from monitor.tell.notices import alert_notices, first_changes, health_notices

NOW = datetime(2025, 7, 16, 12, 0, tzinfo=UTC)


def item(n: int, title: str = "Report") -> StoredItem:
    return StoredItem(
        n,
        "wire",
        f"g{n}",
        f"https://x.example/{n}",
        None,
        f"{title} {n}",
        "",
        "en",
        NOW,
        NOW,
        None,
        None,
        None,
        True,
        None,
    )


def flag(
    n: int, claim: str, relation: str, *, minutes: int = 0, state: str = "new", verified: str | None = None
) -> StoredFlag:
    verification = Verification(verified, "m") if verified else None
    at = NOW - timedelta(minutes=minutes)
    return StoredFlag(
        n, claim, relation, 0.8, f"evidence {n}", None, state, None, at, None, item(n), ("wire",), verification
    )


def keys(flags: list[StoredFlag], **options: object) -> list[str]:
    opts: dict[str, object] = {"verified_only": False, "max_age": 86400, **options}
    return [n.key for n in alert_notices(flags, [], {}, NOW, **opts)]  # type: ignore[arg-type]


def test_only_the_first_contradiction_and_the_first_update_of_a_claim_alert() -> None:
    flags = [
        flag(1, "C01", "supports", minutes=50),
        flag(2, "C01", "contradicts", minutes=40),
        flag(3, "C01", "contradicts", minutes=30),
        flag(4, "C01", "updates", minutes=20),
        flag(5, "C02", "updates", minutes=10),
    ]
    assert keys(flags) == ["alert:C01:contradicts:2", "alert:C01:updates:4", "alert:C02:updates:5"]


def test_a_dismissed_flag_is_no_change_and_the_next_one_is() -> None:
    flags = [flag(2, "C01", "contradicts", minutes=40, state="dismissed"), flag(3, "C01", "contradicts", minutes=30)]
    assert keys(flags) == ["alert:C01:contradicts:3"]


def test_with_the_verifier_on_only_a_verified_flag_alerts() -> None:
    flags = [
        flag(2, "C01", "contradicts", minutes=40, verified="unverified"),
        flag(3, "C01", "contradicts", minutes=30, verified="failed"),
        flag(4, "C01", "contradicts", minutes=20, verified="verified"),
    ]
    assert keys(flags, verified_only=True) == ["alert:C01:contradicts:4"]
    assert keys(flags) == ["alert:C01:contradicts:2"]
    [notice] = alert_notices(flags[2:], [], {}, NOW, verified_only=True, max_age=86400)
    assert "verified by m" in notice.body and "evidence 4" in notice.body


def test_old_flags_raise_no_alert_and_do_not_let_a_later_one_pose_as_first() -> None:
    flags = [flag(2, "C01", "contradicts", minutes=3000), flag(3, "C01", "contradicts", minutes=5)]
    assert first_changes(flags, verified_only=False)[0].id == 2
    assert keys(flags, max_age=3600) == []


def test_alert_text_is_one_line_per_field_whatever_the_feed_wrote() -> None:
    hostile = flag(9, "C01", "contradicts")
    hostile = StoredFlag(**{**{f: getattr(hostile, f) for f in StoredFlag.__slots__}, "evidence": "a\nb\u202e\x00c"})  # type: ignore[arg-type]
    [notice] = alert_notices([hostile], [], {}, NOW, verified_only=False, max_age=60)
    assert "Evidence: “a bc”" in notice.body


def state(errors: int, since_hours: float | None, source: str = "wire") -> SourceState:
    since = NOW - timedelta(hours=since_hours) if since_hours is not None else None
    return SourceState(
        source, "http://x", "feed", consecutive_errors=errors, failing_since=since, last_error="HTTP 500"
    )


def test_health_down_after_the_threshold_and_up_only_after_a_down() -> None:
    assert health_notices([state(3, 1)], {}, NOW, after=7200, known=()) == []
    [down] = health_notices([state(3, 2)], {"wire": "Wire"}, NOW, after=7200, known=())
    assert down.key == "health:wire:down:2025-07-16T10:00:00Z" and "HTTP 500" in down.body
    assert health_notices([state(0, None)], {}, NOW, after=7200, known=()) == []  # never down: no up
    [up] = health_notices([state(0, None)], {}, NOW, after=7200, known={down.key})
    assert up.key == "health:wire:up:2025-07-16T10:00:00Z"
    assert health_notices([state(0, None)], {}, NOW, after=7200, known={down.key, up.key}) == []


@pytest.mark.parametrize(("attempts", "seconds"), [(1, 60), (2, 120), (3, 240), (7, 3600), (30, 3600)])
def test_retries_back_off_exponentially_to_a_cap(attempts: int, seconds: int) -> None:
    assert retry_delay(attempts, 60, 3600) == timedelta(seconds=seconds)


def test_variables_are_resolved_quoted_and_scrubbed() -> None:
    url = "mailto://me:${PASS}@mail.example.org/?to=${TO}"
    assert missing_variables(url, {"PASS": "x"}) == ["TO"]
    resolved, secrets = resolve_url(url, {"PASS": "p@ss:w/rd", "TO": "a@b.c"})
    assert resolved == "mailto://me:p%40ss%3Aw/rd@mail.example.org/?to=a%40b.c"
    said = f"failed to log in to {resolved} with p@ss:w/rd"
    assert "p@ss" not in redact(said, secrets) and "p%40ss" not in redact(said, secrets)
