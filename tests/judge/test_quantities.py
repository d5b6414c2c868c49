"""Numbers, units and dates in both languages (pure)."""

from __future__ import annotations

import pytest

from monitor.judge.quantities import find_months, find_quantities
from monitor.text.normalize import fold_text

CASES = [
    ("4800 TOPS降至2400 TOPS", [(4800, 4800, "TOPS"), (2400, 2400, "TOPS")]),
    ("a cap of 2,400 TOPS", [(2400, 2400, "TOPS")]),
    ("about $15 billion", [(15e9, 15e9, "USD")]),
    ("US$10,000-12,000 per chip", [(10000, 12000, "USD")]),
    ("revenue of 15bn dollars", [(15e9, 15e9, "USD")]),
    ("约1500亿美元", [(1500e8, 1500e8, "USD")]),
    ("２８０亿元", [(280e8, 280e8, "CNY")]),
    ("RMB 28 billion", [(28e9, 28e9, "CNY")]),
    ("H20單價約1萬至1.2萬美元", [(1e4, 1.2e4, "USD")]),
    ("share fell from 85% to 78%", [(85, 85, "%"), (78, 78, "%")]),
    ("同比增长40%", [(40, 40, "%")]),
    ("7nm / 7纳米 / 5奈米", [(7, 7, "nm"), (7, 7, "nm"), (5, 5, "nm")]),
    ("a 7-nanometre node", []),  # hyphenated: the number is not the quantity of a unit we read
    ("H20, A100 and 910C in 2024", []),  # model numbers and years are not quantities
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_find_quantities(text: str, expected: list[tuple[float, float, str]]) -> None:
    found = [(q.low, q.high, q.unit) for q in find_quantities(fold_text(text)) if q.unit]
    assert found == [(float(a), float(b), u) for a, b, u in expected]


def test_ranges_overlap_with_tolerance() -> None:
    [price] = find_quantities(fold_text("US$10,000-12,000"))
    assert not price.overlaps(25000, 25000, 0.2)
    assert price.overlaps(13000, 13000, 0.1)
    [premium] = find_quantities(fold_text("a 50% premium"))
    assert premium.overlaps(50, 80, 0.1)


@pytest.mark.parametrize(
    ("text", "published", "expected"),
    [
        ("issued on October 17, 2023", None, [(2023, 10)]),
        ("2024年10月，美国商务部", None, [(2024, 10)]),
        ("effective 2025-05-15", None, [(2025, 5)]),
        ("美国10月17日扩大对华芯片出口限制", (2023, 10), [(2023, 10)]),
        ("美国12月2日再收紧", (2025, 1), [(2024, 12)]),  # a month after publication is last year's
        ("on Oct. 17 the rules", (2023, 11), [(2023, 10)]),
        ("美国10月17日扩大", None, []),  # no year and no date of publication: unknown
    ],
)
def test_find_months(text: str, published: tuple[int, int] | None, expected: list[tuple[int, int]]) -> None:
    assert find_months(fold_text(text), published) == expected
