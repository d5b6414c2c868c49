"""What reads an item's text after it is stored is total: any title and text, in any script,
with numbers, units and dates of every shape, gives a result, never an exception. A text that
made the judge, story features, MinHash or relevance raise would fail its whole batch every
cycle (the cycle sets no next poll when its last stage fails, and the next cycle meets the same
item): one item would stop the monitor's judging and stories for good.

The texts are built from pieces where the readers look hardest (amounts in both languages,
units, dates, ranges, digits of other scripts, supplementary-plane Han, zero-width spaces)
and random text between them."""

from __future__ import annotations

import datetime as dt

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.config import load_registry
from monitor.judge.registry import Registry
from monitor.keep.default_topic import DEFAULT_TOPIC
from monitor.keep.minhash import signatures
from monitor.keep.relevance import TopicMatcher
from monitor.keep.story_features import extract_features
from monitor.text.normalize import fold_text
from tests.judging import SHIPPED_CLAIMS, judge_for, needs_encoder, shipped_judge

PIECES = st.sampled_from(
    [
        "Nvidia", "H20", "英伟达", "輝達", "出口管制", "$4.5 billion", "45亿美元", "7nm", "14 nm", "5奈米",
        "2024年10月", "Oct 2024", "85%", "78 %", "2400 TOPS", "4800TOPS", "1.5万", "百分之三十", "三成",
        "50–80%", "7月31日", "July 31", "31/7", "。", ".", "\n", " ", "¥", "€1,2", "1e10", "9" * 40, "0.", ".5",
        "‰", "½", "²", "٣", "𧭈", "\u200b", "—", "-", "1-2", "2-3代", "Q1", "FY2026", "2025-13-45",
    ]
)  # fmt: skip
TEXTS = st.lists(st.one_of(PIECES, st.text(max_size=20)), max_size=30).map("".join)
LANGS = st.sampled_from(["en", "zh-Hans", "zh-Hant", "ja", ""])
WHEN = dt.datetime(2025, 7, 30, tzinfo=dt.UTC)
REGISTRY: Registry = load_registry(SHIPPED_CLAIMS)
TOPIC = TopicMatcher(DEFAULT_TOPIC)
LEXICAL = judge_for(REGISTRY, with_encoder=False)  # built once: it prepares the claims on first use


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(TEXTS, TEXTS, LANGS)
def test_reading_an_item_is_total_without_the_encoder(title: str, text: str, lang: str) -> None:
    decisions = LEXICAL.match(title, text, WHEN)
    assert all(d.claim_id in {c.id for c in REGISTRY.claims} for d in decisions)
    features = extract_features(title, text, lang)
    assert len(features.terms) == len(set(features.terms.tolist()))
    signatures([(fold_text(f"{title}\n{text}"), lang)])
    TOPIC.judge(title, text)


@needs_encoder
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(TEXTS, TEXTS)
def test_judging_an_item_is_total_with_the_encoder(title: str, text: str) -> None:
    for decision in shipped_judge().match(title, text, WHEN):
        assert 0.0 <= decision.score <= 1.0
