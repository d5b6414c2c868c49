"""Numbers, units and dates as news writes them, in English and Chinese.

`4800 TOPS`, `2,400`, `$15 billion`, `15bn`, `1500亿美元`, `２８０亿元`, `85%`, `7nm` / `7纳米`,
`US$10,000–12,000`, `October 2023`, `2024年10月`. Works on folded text (see
`monitor.text.normalize.fold_text`: half-width, simplified, lower-case). Pure, no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Multipliers, English and Chinese.
_SCALE = {
    "thousand": 1e3,
    "k": 1e3,
    "million": 1e6,
    "mn": 1e6,
    "m": 1e6,
    "billion": 1e9,
    "bn": 1e9,
    "b": 1e9,
    "trillion": 1e12,
    "tn": 1e12,
    "千": 1e3,
    "万": 1e4,
    "十万": 1e5,
    "百万": 1e6,
    "千万": 1e7,
    "亿": 1e8,
    "十亿": 1e9,
    "百亿": 1e10,
    "千亿": 1e11,
    "万亿": 1e12,
}
# Unit words → a canonical unit.
_UNITS = {
    "美元": "USD",
    "美金": "USD",
    "usd": "USD",
    "dollars": "USD",
    "dollar": "USD",
    "$": "USD",
    "us$": "USD",
    "人民币": "CNY",
    "元": "CNY",
    "rmb": "CNY",
    "yuan": "CNY",
    "cny": "CNY",
    "%": "%",
    "percent": "%",
    "per cent": "%",
    "个百分点": "pp",
    "percentage points": "pp",
    "tops": "TOPS",
    "tflops": "TFLOPS",
    "teraflops": "TFLOPS",
    "petaflops": "PFLOPS",
    "nm": "nm",
    "纳米": "nm",
    "奈米": "nm",
    "nanometer": "nm",
    "nanometre": "nm",
    "倍": "x",
    "times": "x",
}
_NUM = r"\d+(?:,\d{3})*(?:\.\d+)?"
_SCALE_RE = r"thousand|million|billion|trillion|mn|bn|tn|[kmb](?![a-z])|十万|百万|千万|十亿|百亿|千亿|万亿|千|万|亿"
_UNIT_RE = (
    r"美元|美金|人民币|元|个百分点|%|percentage points|percent|per cent|tops|tflops|teraflops|petaflops"
    r"|nm|纳米|奈米|nanomet(?:er|re)s?|倍|times|usd|dollars?|rmb|yuan|cny"
)
_QUANTITY = re.compile(
    rf"(?P<cur>us\$|\$|rmb|¥|人民币)?\s*(?P<a>{_NUM})(?:\s*(?P<ascale>{_SCALE_RE}))?"
    rf"(?:\s*(?:-|–|—|~|to|至|到)\s*(?:us\$|\$)?(?P<b>{_NUM}))?"
    rf"\s*(?P<scale>{_SCALE_RE})?\s*(?P<unit>{_UNIT_RE})?",
)
_MONTHS = {
    "january": 1,
    "february": 2,
    "march": 3,
    "april": 4,
    "may": 5,
    "june": 6,
    "july": 7,
    "august": 8,
    "september": 9,
    "october": 10,
    "november": 11,
    "december": 12,
    "jan": 1,
    "feb": 2,
    "mar": 3,
    "apr": 4,
    "jun": 6,
    "jul": 7,
    "aug": 8,
    "sep": 9,
    "sept": 9,
    "oct": 10,
    "nov": 11,
    "dec": 12,
}
_DATE_EN = re.compile(
    r"\b(?P<mon>"
    + "|".join(sorted(_MONTHS, key=len, reverse=True))
    + r")\.?\s+(?:(?P<d>\d{1,2})(?:st|nd|rd|th)?,?\s+)?(?P<y>(?:19|20)\d{2})\b"
)
_DATE_ZH = re.compile(r"(?P<y>(?:19|20)\d{2})\s*年\s*(?P<m>\d{1,2})\s*月")
_DATE_ISO = re.compile(r"\b(?P<y>(?:19|20)\d{2})-(?P<m>\d{2})(?:-\d{2})?\b")
_MONTH_DAY_ZH = re.compile(r"(?<![年\d])(?P<m>\d{1,2})\s*月\s*\d{1,2}\s*[日号]")
_MONTH_DAY_EN = re.compile(
    r"\b(?P<mon>"
    + "|".join(sorted(_MONTHS, key=len, reverse=True))
    + r")\.?\s+\d{1,2}(?:st|nd|rd|th)?\b(?!,?\s+(?:19|20)\d{2})"
)


@dataclass(frozen=True, slots=True)
class Quantity:
    """A number as written: `low`..`high` (equal for a single value) in `unit` (may be None)."""

    low: float
    high: float
    unit: str | None
    start: int
    end: int

    def overlaps(self, low: float, high: float, tolerance: float) -> bool:
        """Whether this range meets `low`..`high`, widened by a relative tolerance."""
        return self.low <= high * (1 + tolerance) and low * (1 - tolerance) <= self.high


def find_quantities(text: str) -> list[Quantity]:
    """Every number in folded text, with its range, scale and unit applied."""
    found = []
    for m in _QUANTITY.finditer(text):
        if _inside_word(text, m.start("a")) or _is_year(m):
            continue
        scale = _SCALE.get(m["scale"] or m["ascale"] or "", 1.0)
        head_scale = _SCALE.get(m["ascale"] or "", scale)
        unit = _UNITS.get((m["unit"] or "").strip()) or _UNITS.get((m["cur"] or "").strip())
        if m["unit"] and m["unit"].startswith("nanomet"):
            unit = "nm"
        if unit is None and (m["scale"] or m["ascale"]) in ("k", "m", "b"):
            continue  # a bare letter after a number is a model name ("7m", "910b"), not a scale
        low = _float(m["a"]) * head_scale
        high = _float(m["b"]) * scale if m["b"] else low
        if m["b"] and high < low:  # "10,000-12" style shorthand: scale the tail like the head
            high = low
        found.append(Quantity(min(low, high), max(low, high), unit, m.start(), m.end()))
    return found


def find_months(text: str, published: tuple[int, int] | None = None) -> list[tuple[int, int]]:
    """Every (year, month) written in folded text: `october 2023`, `2024年10月`, `2025-07`; with
    the item's (year, month) of publication, also dates without a year (`10月17日`, `Oct. 17`),
    taken as the latest such date not after publication."""
    months = []
    if published is not None:
        for pattern in (_MONTH_DAY_ZH, _MONTH_DAY_EN):
            for m in pattern.finditer(text):
                month = int(m["m"]) if "m" in m.groupdict() and m.groupdict().get("m") else _MONTHS.get(m["mon"], 0)
                if 1 <= month <= 12:
                    months.append((published[0] if month <= published[1] else published[0] - 1, month))
    for m in _DATE_EN.finditer(text):
        months.append((int(m["y"]), _MONTHS[m["mon"]]))
    for pattern in (_DATE_ZH, _DATE_ISO):
        for m in pattern.finditer(text):
            if 1 <= int(m["m"]) <= 12:
                months.append((int(m["y"]), int(m["m"])))
    return months


def _float(text: str) -> float:
    return float(text.replace(",", ""))


def _inside_word(text: str, start: int) -> bool:
    """A digit glued to letters before it (h20, a100, 910c) is part of a name."""
    return start > 0 and (text[start - 1].isascii() and text[start - 1].isalpha())


def _is_year(m: re.Match[str]) -> bool:
    value = m["a"]
    bare = not (m["unit"] or m["scale"] or m["ascale"] or m["cur"])
    return bare and len(value) == 4 and value[:2] in ("19", "20")
