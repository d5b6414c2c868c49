"""Backoff and due-ness of sources: pure functions, table-driven."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.backoff import backoff_seconds, is_due, longest_delay, poll_delay
from monitor.settings import PollSettings

H = 3600.0
DAY = 86400.0

# (interval, errors, cap, status, retry_after, expected seconds), no jitter
CASES = [
    pytest.param(H, 0, DAY, None, None, H, id="success waits the interval"),
    pytest.param(H, 1, DAY, None, None, H, id="first failure costs nothing"),
    pytest.param(H, 2, DAY, None, None, 2 * H, id="second doubles"),
    pytest.param(H, 3, DAY, None, None, 4 * H, id="third doubles again"),
    pytest.param(H, 5, DAY, None, None, 16 * H, id="fifth"),
    pytest.param(H, 6, DAY, None, None, DAY, id="capped"),
    pytest.param(H, 400, DAY, None, None, DAY, id="failing for weeks: still polled daily"),
    pytest.param(H, 10_000, DAY, None, None, DAY, id="no overflow"),
    pytest.param(H, 3, 600.0, None, None, H, id="a cap below the interval never polls faster"),
    pytest.param(1.0, 3, 4.0, None, None, 4.0, id="tiny test intervals"),
    pytest.param(60.0, 1, DAY, 429, 600.0, 600.0, id="429 honours Retry-After"),
    pytest.param(60.0, 1, DAY, 503, 600.0, 600.0, id="503 honours Retry-After"),
    pytest.param(60.0, 1, DAY, 500, 600.0, 60.0, id="500 ignores Retry-After"),
    pytest.param(60.0, 1, DAY, 429, None, 60.0, id="429 without Retry-After"),
    pytest.param(60.0, 4, DAY, 429, 30.0, 480.0, id="Retry-After shorter than the backoff: the backoff"),
    pytest.param(60.0, 1, DAY, 429, 30 * DAY, DAY, id="absurd Retry-After is capped"),
    pytest.param(H, 0, DAY, 429, 30 * DAY, H, id="Retry-After is for failures only"),
    pytest.param(60.0, 1, DAY, 503, 0.0, 60.0, id="Retry-After 0"),
]


@pytest.mark.parametrize(("interval", "errors", "cap", "status", "retry_after", "expected"), CASES)
def test_backoff_seconds(
    interval: float, errors: int, cap: float, status: int | None, retry_after: float | None, expected: float
) -> None:
    assert backoff_seconds(interval, errors, cap=cap, status=status, retry_after=retry_after) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("jitter", "rand", "expected"),
    [(0.0, 0.99, 100.0), (0.1, 0.0, 100.0), (0.1, 0.5, 105.0), (0.1, 0.999999, 110.0), (1.0, 1.0, 200.0)],
)
def test_jitter_only_adds_up_to_its_fraction(jitter: float, rand: float, expected: float) -> None:
    assert backoff_seconds(100.0, 0, cap=DAY, jitter=jitter, rand=rand) == pytest.approx(expected, abs=1e-3)


def test_jitter_applies_after_the_cap() -> None:
    # sources failing for days must not all come back in the same second
    assert backoff_seconds(H, 50, cap=DAY, jitter=0.1, rand=0.5) == pytest.approx(DAY * 1.05)


@given(
    interval=st.integers(1, 7 * 86400),
    errors=st.integers(0, 10_000),
    cap=st.integers(1, 30 * 86400),
    jitter=st.floats(0, 1),
    rand=st.floats(0, 1),
    retry_after=st.none() | st.floats(0, 1e9),
)
def test_bounds_and_monotony(
    interval: int, errors: int, cap: int, jitter: float, rand: float, retry_after: float | None
) -> None:
    delay = backoff_seconds(interval, errors, cap=cap, jitter=jitter, rand=rand, status=429, retry_after=retry_after)
    assert interval <= delay <= max(interval, cap) * (1 + jitter) + 1e-6
    more = backoff_seconds(interval, errors + 1, cap=cap, jitter=jitter, rand=rand, status=429, retry_after=retry_after)
    assert more >= delay - 1e-6


def test_poll_delay_uses_the_source_interval_else_the_default() -> None:
    poll = PollSettings(interval=600, jitter=0, backoff_max=7200)
    assert poll_delay(poll, None, errors=0, rand=0.3) == timedelta(seconds=600)
    assert poll_delay(poll, 60, errors=0, rand=0.3) == timedelta(seconds=60)
    assert poll_delay(poll, 60, errors=3, rand=0.3) == timedelta(seconds=240)
    assert poll_delay(poll, None, errors=9, rand=0.3) == timedelta(seconds=7200)
    assert poll_delay(poll, 60, errors=1, rand=0, status=503, retry_after=900) == timedelta(seconds=900)


NOW = datetime(2025, 7, 15, 12, 0, tzinfo=UTC)
POLL = PollSettings(interval=600, jitter=0.1, backoff_max=3600)


@pytest.mark.parametrize(
    ("next_poll_at", "source_interval", "errors", "due"),
    [
        pytest.param(None, None, 0, True, id="never polled"),
        pytest.param(NOW - timedelta(seconds=1), None, 0, True, id="past"),
        pytest.param(NOW, None, 0, True, id="now"),
        pytest.param(NOW + timedelta(seconds=30), None, 0, False, id="soon"),
        pytest.param(NOW + timedelta(seconds=660), None, 0, False, id="interval plus full jitter"),
        pytest.param(NOW + timedelta(hours=5), None, 0, True, id="interval was shortened since"),
        pytest.param(NOW + timedelta(hours=1), None, 4, False, id="backing off"),
        pytest.param(NOW + timedelta(hours=1), 60, 9, False, id="backing off, short interval"),
        pytest.param(NOW + timedelta(days=2), None, 9, True, id="the cap was lowered since"),
    ],
)
def test_is_due(next_poll_at: datetime | None, source_interval: int | None, errors: int, due: bool) -> None:
    assert is_due(next_poll_at, NOW, POLL, source_interval, errors=errors) is due


def test_longest_delay_covers_every_choice() -> None:
    for errors in range(12):
        longest = longest_delay(POLL, None, errors=errors)
        for rand in (0.0, 0.5, 1.0):
            assert poll_delay(POLL, None, errors=errors, rand=rand, status=429, retry_after=1e9) <= longest
