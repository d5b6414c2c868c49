"""The features that tell how an item bears on a claim: supports, contradicts or updates. Pure.

Time first, and what kind of claim it is. News is "later" when it comes after the article, or
more than REPORTING_DAYS after the time the claim names (sooner, it reports the claim's own
event). Later news on a claim that states an event (it names a year, or its verbs are in the past
tense: "rescinded", "launched", "was put") reports what followed it: an update. Later news on a
claim that states a state or a trend ("are shifting", "is forming", "buy") reports more of it:
support. Article 1's labels after its date are mostly `supports` for trend claims, article 2's
`updates` for dated-event claims; the claim's own text tells the two apart, no label does.
Then what the evidence says: a number of the claim's measure with another value, words that deny
or refute, words of change (lifted, resumed, approved, 恢复, 解除…), negation. The word lists are
general language, English and Chinese (folded to simplified script), not about any claim.
Left out as they fitted article 1 but turned article 2's stance worse: a number that agrees, the
similarity, a change word in the title, the day counts from the claim's time.
"""

from __future__ import annotations

import datetime as dt
import re

import numpy as np

from monitor.judge.features import Matrix
from monitor.judge.quantities import find_months
from monitor.text.normalize import fold_text

REPORTING_DAYS = 45  # news this soon after the time a claim names reports the claim's own event

RELATION_FEATURES = (
    "later_event",
    "later_state",
    "years_after",
    "numbers_conflict",
    "denial",
    "negation",
    "change",
)

_DENIAL = re.compile(
    r"\b(?:false|falsely|untrue|den(?:y|ies|ied)|refut\w*|debunk\w*|inaccurate|incorrect|wrong|misleading|"
    r"dismiss(?:ed|es)?|reject(?:ed|s)?|no evidence|not true|contrary)\b|"
    r"否认|不实|谣言|辟谣|澄清|错误|虚假|并非|不属实|驳斥|否定"
)
_CHANGE = re.compile(
    r"\b(?:resum\w*|lift\w*|eas(?:e|ed|es|ing)|approv\w*|allow\w*|grant\w*|reversed?|revers\w*|rescind\w*|"
    r"revok\w*|scrap\w*|now|new|latest|launch\w*|unveil\w*|tighten\w*|expand\w*|extend\w*|add(?:ed|s)?|"
    r"rais\w*|cut|cuts|drop\w*|fell|fall\w*|rose|ris(?:e|es|ing)|jump\w*|surg\w*|plung\w*|halt\w*|"
    r"suspend\w*|paus\w*|restart\w*|no longer|instead|replac\w*|since|after)\b|"
    r"恢复|解除|放宽|批准|允许|获准|撤销|撤回|取消|废除|推出|发布|最新|收紧|扩大|新增|暂停|停止|重启|不再|改为|此后|随后|如今|目前|已经"
)
_NEGATION = re.compile(r"\b(?:not|no|never|nor|without|cannot|can't|won't|didn't|doesn't|isn't)\b|不|未|没有|无|非")


def relation_features(
    evidence: str,
    title: str,
    published: dt.date | None,
    article: dt.date | None,
    claim_time: dt.date | None,
    conflict: float,
    event: float,
) -> list[float]:
    """One row of RELATION_FEATURES for an (item, claim) pair: `claim_time` is the end of the
    latest month the claim names (else the article's date), `conflict` whether the item gives
    the claim's measure another value, `event` the claim's `claim_event`."""
    days = (published - article).days if published and article else 0
    since_claim = (published - claim_time).days if published and claim_time else days
    text, head = fold_text(evidence), fold_text(title)
    later = float(days > 0 or since_claim > REPORTING_DAYS)
    return [
        later * event,
        later * (1.0 - event),
        float(np.clip(days / 365, -3, 3)),
        conflict,
        float(len(_DENIAL.findall(text)) > 0) + float(len(_DENIAL.findall(head)) > 0),
        float(len(_NEGATION.findall(text)) > 0),
        min(len(_CHANGE.findall(text)), 3) / 3,
    ]


def relation_matrix(rows: list[list[float]]) -> Matrix:
    return np.array(rows, dtype=np.float64).reshape(len(rows), len(RELATION_FEATURES))


def claim_time(text: str, article: dt.date | None) -> dt.date | None:
    """The end of the latest month the claim's text names, or the article's date."""
    months = [ym for ym in find_months(fold_text(text)) if article is None or ym <= (article.year, article.month)]
    if not months:
        return article
    year, month = max(months)
    return dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)


_DATED = re.compile(r"\b(?:19|20)\d\d\b|(?:19|20)\d\d\s*年|\bfiscal\b|财年|\bq[1-4]\b")
_PROGRESSIVE = re.compile(
    r"\b(?:is|are|am)\s+(?:\w+ly\s+|still\s+|now\s+|being\s+)?\w{3,}ing\b|\b(?:is|are)\s+being\s+\w+|"
    r"正在|开始|持续|逐步|日益|不断|面临"
)
_PAST_ONLY = re.compile(
    r"\b(?:was|were|had|did|began|became|fell|rose|took|gave|came|went|wrote|grew|drew|won)\b|了|已|曾"
)
_PAST_OR_PARTICIPLE = re.compile(
    r"(?<!\S)(\w{3,}ed|set|put|made|found|told|sold|bought|built|held|cut|hit|paid|left|sent|brought|lost)\s+(\S+)"
)
# a past form after one of these is an adjective or a participle ("buy banned chips", "is
# restricted"), before a preposition a reduced relative ("built around", "made without")
_NOT_FINITE_BEFORE = re.compile(
    r"\b(?:the|a|an|its|their|his|her|our|of|for|in|on|to|with|by|from|into|buy|buys|sell|sells|some|any|no|all|"
    r"be|been|being|is|are|am|get|gets|got|has|have|had|most|more|less|least|not|never)\s*$"
)
_PREPOSITION = re.compile(r"^(?:around|by|with|in|on|for|from|to|into|at|as|under|over|without)$")


def claim_event(text: str) -> float:
    """1.0 when the claim states an event (it names a year, or its verbs are in the past tense),
    0.0 when it states a state or a trend (present progressive, present tense): later news that
    bears on an event reports what followed it (updates), on a trend more of it (supports)."""
    folded = fold_text(text)
    if _PROGRESSIVE.search(folded):
        return 0.0
    if _DATED.search(folded) or _PAST_ONLY.search(folded):
        return 1.0
    for m in _PAST_OR_PARTICIPLE.finditer(folded):
        if not _NOT_FINITE_BEFORE.search(folded[: m.start()]) and not _PREPOSITION.match(m[2]):
            return 1.0
    return 0.0
