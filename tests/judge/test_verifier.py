"""The verifier: what it asks, how it reads answers, and its calls to a real OpenAI-compatible
server on loopback (tests/llmserver.py, in the manner of OpenAI, Ollama and llama.cpp's server):
valid answers, garbage, a quote not in the item, a timeout, a 429 with Retry-After, a 500, the
budget, and what the flags become."""

from __future__ import annotations

import datetime as dt
import json
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from monitor.judge.llm import MAX_ERROR_CYCLES, Verifier
from monitor.judge.verifier import (
    SCHEMA,
    InvalidAnswerError,
    Question,
    excerpt,
    parse_answer,
    question_key,
    request_body,
    settle,
    unsettled,
)
from monitor.records import Decision, VerifierOutcome
from monitor.settings import VerifierSettings
from tests.llmserver import FAMILIES, ChatServer, Reply, chat_server, family, first_sentence, verdict

ITEM = (
    "Nvidia wrote down $4.5 billion of H20 inventory after the licence rule. "
    "Chinese buyers have turned to Huawei's Ascend chips instead. "
    "The company said sales to China would fall further."
)
QUOTE = "Chinese buyers have turned to Huawei's Ascend chips instead."


def question(n: int = 0, text: str = ITEM, claim: str = "Chinese firms shift purchases to domestic chips") -> Question:
    return Question(
        key=question_key(f"title {n}\n{text}", claim, "tiny"),
        item_id=n,
        claim_id="C01",
        claim_text=claim,
        article_published=dt.date(2025, 6, 1),
        title=f"Nvidia takes a charge {n}",
        published=dt.date(2025, 7, 1),
        excerpt=text,
        item_text=f"title {n}\n{text}",
    )


def settings(url: str, **changes: Any) -> VerifierSettings:
    base: dict[str, Any] = {"kind": "openai", "base_url": url, "model": "tiny", "timeout": 5.0, "concurrency": 1}
    return VerifierSettings(**(base | changes))


# -- reading answers -------------------------------------------------------------------------


def test_a_valid_answer_is_read_with_its_quote_checked() -> None:
    answer = parse_answer(verdict("supports", QUOTE, "Buyers moved to Ascend.", 0.8), ITEM)
    assert (answer.relation, answer.quote, answer.confidence) == ("supports", QUOTE, 0.8)


@pytest.mark.parametrize(
    "content",
    [
        f"```json\n{verdict('updates', QUOTE)}\n```",  # a fenced block, as models without a JSON mode write
        verdict("Supports", "  chinese BUYERS have   turned to Huawei’s Ascend chips instead.  "),  # case, spaces
        verdict("supports", "“Chinese buyers have turned to Huawei's Ascend chips instead.”"),  # quoted
    ],
)
def test_answers_a_reader_would_accept_are_accepted(content: str) -> None:
    assert parse_answer(content, ITEM).relation in ("supports", "updates")


def test_full_width_and_chinese_quotes_are_matched_as_written() -> None:
    text = "英伟达H20芯片对华销售恢复。中国企业转向华为昇腾芯片，采购量大增。"
    assert parse_answer(verdict("supports", "中国企业转向华为昇腾芯片，采购量大增。"), text).relation == "supports"
    with pytest.raises(InvalidAnswerError, match="not in the item"):
        parse_answer(verdict("supports", "中国企业转向寒武纪芯片。"), text)


@pytest.mark.parametrize(
    ("content", "error"),
    [
        ("I think it supports the claim.", "not JSON"),
        ("[1, 2]", "not a JSON object"),
        (verdict("agrees", QUOTE), "unknown relation"),
        (json.dumps({"relation": "supports", "quote": QUOTE, "reason": "x", "confidence": 7}), "confidence"),
        (json.dumps({"relation": "supports", "quote": QUOTE, "reason": "x", "confidence": "high"}), "confidence"),
        (verdict("supports", "Nvidia sold a million H20 chips to Tencent."), "not in the item"),
        (verdict("contradicts", "H20"), "too short"),
        (json.dumps({"relation": "supports", "quote": 5, "reason": "x", "confidence": 0.5}), "strings"),
    ],
)
def test_unusable_answers_are_refused_with_the_reason(content: str, error: str) -> None:
    with pytest.raises(InvalidAnswerError, match=error):
        parse_answer(content, ITEM)


def test_none_needs_no_quote() -> None:
    assert parse_answer(verdict("none", ""), ITEM).relation == "none"


# -- what is sent -----------------------------------------------------------------------------


def test_the_excerpt_keeps_the_lead_and_the_evidence_within_its_budget() -> None:
    sentences = ["Title."] + [f"Sentence {n} " + "x" * 80 + "." for n in range(1, 40)]
    text = excerpt(sentences, 30, 400)
    assert "Sentence 1 " in text and "Sentence 30 " in text and "Sentence 12 " not in text
    assert len(text) <= 400 + 10 and text.count("…") >= 2
    assert excerpt(["Only a title."], 0, 400) == ""


@pytest.mark.parametrize("structured", ["json_schema", "json_object", "none"])
def test_the_request_asks_for_the_shape_the_server_can_give(structured: Any) -> None:
    body = request_body(question(), model="tiny", max_tokens=200, structured=structured)
    assert body["model"] == "tiny" and body["max_tokens"] == 200 and body["temperature"] == 0
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    user = body["messages"][1]["content"]
    assert "Chinese firms shift purchases" in user and "2025-06-01" in user
    form = body.get("response_format")
    assert form == (
        {"type": "json_schema", "json_schema": {"name": "claim_verdict", "strict": True, "schema": SCHEMA}}
        if structured == "json_schema"
        else {"type": "json_object"}
        if structured == "json_object"
        else None
    )


# -- what a verdict does to a flag --------------------------------------------------------------

LOCAL = Decision("C01", "supports", 0.7, "the judge's sentence", "p=0.70")
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def outcome(status: str, content: str | None = None) -> VerifierOutcome:
    answer = parse_answer(content, question().item_text) if content else None
    return VerifierOutcome(question().key, status, "tiny", NOW, answer, None if answer else "garbage")


def test_the_verdict_decides_the_flag() -> None:
    made = settle(None, question(), outcome("ok", verdict("updates", QUOTE, "A later move.")), 0.2, "tiny")
    assert made is not None and (made.relation, made.evidence) == ("updates", QUOTE)
    assert made.verification is not None and made.verification.status == "verified"
    assert made.verification.reason == "A later move." and made.verification.model == "tiny"
    assert settle(LOCAL, question(), outcome("ok", verdict("none")), 0.7, "tiny") is None


def test_without_a_usable_verdict_the_judges_flag_stands_marked() -> None:
    failed = settle(LOCAL, question(), outcome("invalid"), 0.7, "tiny")
    assert failed is not None and failed.relation == "supports" and failed.verification is not None
    assert failed.verification.status == "failed"
    waiting = settle(LOCAL, question(), None, 0.7, "tiny")
    assert waiting is not None and waiting.verification is not None and waiting.verification.status == "unverified"
    assert settle(None, question(), outcome("invalid"), 0.2, "tiny") is None  # never a flag from garbage


def test_settled_answers_are_not_asked_again_and_each_question_once() -> None:
    q = question()
    assert unsettled([q, q], {}) == [q]
    assert unsettled([q], {q.key: outcome("ok", verdict("none"))}) == []
    assert unsettled([q], {q.key: VerifierOutcome(q.key, "error", "tiny", NOW, error="down")}) == [q]


# -- calls to a real server on loopback ----------------------------------------------------------


@pytest.mark.parametrize("name", FAMILIES)
def test_each_server_family_takes_the_request_and_its_answer_is_read(name: str) -> None:
    key = "sk-test-secret-0123"
    with chat_server(name, key=key, model="tiny") as server:
        server.reply = lambda body: verdict("supports", first_sentence(body), "It says so.", 0.7)
        q = question(text=QUOTE + " More text follows here.")
        with Verifier(settings(server.url), key) as verifier:
            found = verifier.resolve([q], {})
    assert server.refused == []
    assert found[q.key].status == "ok" and found[q.key].answer is not None
    assert found[q.key].answer.quote == QUOTE
    [seen] = server.requests
    recorded = family(name)
    assert seen.path == recorded["path"] and set(seen.body) <= set(recorded["request_fields"])
    assert set(recorded["request"]) <= set(seen.body)  # what the family's documented request has, ours has
    assert seen.body["response_format"]["type"] == recorded["request"]["response_format"]["type"]
    assert seen.headers["authorization"] == f"Bearer {key}"
    assert found[q.key].tokens == recorded["response"]["usage"]["total_tokens"]


def test_a_request_off_the_api_is_refused_by_the_fake_as_by_the_real_server() -> None:
    """The fake's checks bite: a wrong key, an unknown model, a format llama.cpp lacks."""
    with chat_server("llamacpp", key="right") as server:
        with Verifier(settings(server.url), "wrong") as verifier:
            found = verifier.resolve([question()], {})
        assert server.refused == ["401"] * 2 and found[question().key].status == "error"
    with chat_server("ollama", model="qwen") as server, Verifier(settings(server.url), None) as verifier:
        assert verifier.resolve([question()], {})[question().key].status == "error"
        assert "model 'tiny' not found" in server.refused[0]


def test_garbage_is_asked_once_more_then_given_up_never_a_flag() -> None:
    with chat_server() as server, Verifier(settings(server.url), None) as verifier:
        server.reply = lambda body: "Sure! The claim is supported."
        found = verifier.resolve([question()], {})
        assert server.calls == 2
    result = found[question().key]
    assert result.status == "invalid" and result.settled and "not JSON" in (result.error or "")
    assert verifier.usage.invalid == 1 and verifier.usage.calls == 2
    assert settle(None, question(), result, 0.5, "tiny") is None


def test_one_retry_mends_a_bad_first_answer() -> None:
    answers = iter(["not json", verdict("contradicts", QUOTE)])
    with chat_server() as server, Verifier(settings(server.url), None) as verifier:
        server.reply = lambda body: next(answers)
        found = verifier.resolve([question()], {})
    assert found[question().key].status == "ok" and server.calls == 2


@pytest.mark.parametrize(
    "reply",
    [
        Reply(verdict("supports", "Nvidia sold a million H20 chips to Tencent.")),  # a quote not in the item
        Reply(body=b"<html>502 Bad Gateway</html>"),  # not JSON at all
        Reply(body=b'{"choices": []}'),  # JSON, not a completion
        Reply(""),  # an empty answer
    ],
)
def test_answers_that_do_not_hold_up_are_failed_verifications(reply: Reply) -> None:
    with chat_server() as server, Verifier(settings(server.url), None) as verifier:
        server.reply = lambda body: reply
        result = verifier.resolve([question()], {})[question().key]
    assert result.status == "invalid" and server.calls == 2


def test_a_slow_server_times_out_and_the_cycle_stops_calling() -> None:
    with chat_server() as server, Verifier(settings(server.url, timeout=0.5), None) as verifier:
        server.reply = lambda body: Reply(verdict("none"), delay=3)
        started = time.monotonic()
        found = verifier.resolve([question(0), question(1), question(2)], {})
        elapsed = time.monotonic() - started
    assert found[question(0).key].status == "error" and "no answer within" in (found[question(0).key].error or "")
    assert question(1).key not in found and verifier.usage.left == 2  # waiting for the next cycle
    assert server.calls == 2 and elapsed < 5 and verifier.stopped


def test_an_unreachable_server_leaves_every_question_for_later() -> None:
    with chat_server() as server:
        url = server.url
    with Verifier(settings(url), None) as verifier:
        found = verifier.resolve([question(0), question(1)], {})
    assert found[question(0).key].status == "error" and "unreachable" in (found[question(0).key].error or "")
    assert not found[question(0).key].settled and verifier.usage.left == 1


def test_a_429_with_a_short_retry_after_is_waited_out_once() -> None:
    replies = iter([Reply(status=429, headers={"Retry-After": "1"}, body=b"{}"), Reply(verdict("none"))])
    with chat_server() as server, Verifier(settings(server.url), None) as verifier:
        server.reply = lambda body: next(replies)
        started = time.monotonic()
        found = verifier.resolve([question()], {})
    assert found[question().key].status == "ok" and time.monotonic() - started >= 1.0 and server.calls == 2


def test_a_429_asking_for_longer_than_a_call_stops_the_cycle_without_waiting() -> None:
    with chat_server() as server, Verifier(settings(server.url, timeout=5), None) as verifier:
        server.reply = lambda body: Reply(status=429, headers={"Retry-After": "3600"}, body=b"{}")
        started = time.monotonic()
        found = verifier.resolve([question(0), question(1)], {})
    assert time.monotonic() - started < 3 and server.calls == 1
    assert found[question(0).key].status == "error" and "429" in (found[question(0).key].error or "")
    assert verifier.usage.left == 1 and "429" in verifier.stopped


def test_a_500_is_retried_then_left_and_given_up_after_some_cycles() -> None:
    with chat_server() as server, Verifier(settings(server.url), None) as verifier:
        server.reply = lambda body: Reply(status=500, body=b'{"error": "boom"}')
        known: dict[str, VerifierOutcome] = {}
        statuses = []
        for _ in range(MAX_ERROR_CYCLES):
            verifier.start_cycle()
            found = verifier.resolve([question()], known)
            known |= found
            statuses.append(found[question().key].status)
        assert server.calls == 2 * MAX_ERROR_CYCLES
    assert statuses == ["error"] * (MAX_ERROR_CYCLES - 1) + ["invalid"]  # one request it cannot take: given up


def test_the_budget_bounds_the_calls_and_the_rest_wait() -> None:
    with chat_server() as server, Verifier(settings(server.url, max_calls_per_cycle=3), None) as verifier:
        found = verifier.resolve([question(n) for n in range(5)], {})
        assert server.calls == 3 and len(found) == 3 and verifier.usage.left == 2
        verifier.start_cycle()
        rest = [question(n) for n in range(5) if question(n).key not in found]
        assert len(verifier.resolve(rest, {})) == 2 and server.calls == 5


def test_calls_run_side_by_side_up_to_the_concurrency() -> None:
    with chat_server() as server, Verifier(settings(server.url, concurrency=4), None) as verifier:
        server.reply = lambda body: Reply(verdict("none"), delay=0.5)
        started = time.monotonic()
        verifier.resolve([question(n) for n in range(4)], {})
        elapsed = time.monotonic() - started
    assert server.calls == 4 and elapsed < 1.5  # one after another: 2 s


def test_the_key_is_never_logged(caplog: pytest.LogCaptureFixture) -> None:
    key = "sk-never-show-me-9876"
    caplog.set_level("DEBUG")
    with chat_server(key=key) as server, Verifier(settings(server.url), key) as verifier:
        server.reply = lambda body: Reply(status=500, body=b"{}")
        verifier.resolve([question()], {})
    assert caplog.records and key not in caplog.text


def test_a_server_is_used_through_a_chat_server_object() -> None:
    """ChatServer can also be started and stopped by hand (the integration tests do)."""
    server = ChatServer("ollama").start()
    try:
        with Verifier(settings(server.url), None) as verifier:
            assert verifier.resolve([question()], {})[question().key].status == "ok"
    finally:
        server.stop()
