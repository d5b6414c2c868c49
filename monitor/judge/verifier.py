"""A second opinion from a language model: what to ask it, how to read its answer, and what its
verdict does to the judge's flags. Pure: the calls are made by `monitor.judge.llm`.

The local judge finds candidates cheaply (a claim the item may bear on, with a probability);
similarity cannot reason, so a claim supported only by implication, or a later report that
*updates* a claim rather than repeating it, is a judgement. For each candidate the model gets the
claim, the article's date, the item's title, date and text (the lead and the sentences around the
local evidence, trimmed to a budget) and answers a JSON object: relation, a verbatim quote from
the item, a one-sentence reason, a confidence.

An answer is used only if it holds up: valid JSON of that shape, a known relation, and a quote
that is in the item's text (whitespace and width folded). Anything else is an invalid answer,
never a flag: the judge's own flag, if it gave one, stands, marked `failed`.

Answers are cached by `question_key` (the item's content, the claim's text, the model, the prompt's
version): a rematch or a restart never pays twice; a new prompt version asks again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from monitor.judge.encoder import Vectors
from monitor.judge.judge import Candidate, Judge
from monitor.judge.reading import ItemReading
from monitor.records import Decision, Verification, VerifierAnswer, VerifierOutcome
from monitor.settings import StructuredMode, VerifierSettings

PROMPT_VERSION = "1"
RELATIONS = ("supports", "contradicts", "updates", "none")
FLAG_RELATIONS = RELATIONS[:-1]
MIN_QUOTE_CHARS = 6  # a quote shorter than this ("the", "H20") proves nothing
MAX_REASON_CHARS = 600

SYSTEM = (
    "You check news against factual claims made earlier by an article. You are given one claim, "
    "the article's date, and a news item. Decide what the item does to the claim:\n"
    '- "supports": the item reports facts that confirm the claim, or restates it as still true;\n'
    '- "contradicts": the item reports facts that show the claim false or no longer true;\n'
    '- "updates": the item reports a later development of what the claim is about (a new figure, '
    "a new decision, a change of status) without simply confirming or denying it;\n"
    '- "none": the item does not bear on this claim (another subject, or only the same names).\n'
    'Answer with one JSON object and nothing else: {"relation": one of the four words, "quote": '
    "the one sentence of the item that shows it, copied exactly, character for character, in the "
    'item\'s language ("" when the relation is "none"), "reason": one short sentence in English, '
    '"confidence": a number from 0 to 1}.'
)

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "relation": {"type": "string", "enum": list(RELATIONS)},
        "quote": {"type": "string"},
        "reason": {"type": "string"},
        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
    },
    "required": ["relation", "quote", "reason", "confidence"],
    "additionalProperties": False,
}


@dataclass(frozen=True, slots=True)
class Question:
    """One (item, claim) candidate as the model will read it. `item_text` is the whole text the
    quote is checked against (the excerpt is what is sent)."""

    key: str
    item_id: int | str
    claim_id: str
    claim_text: str
    article_published: dt.date | None
    title: str
    published: dt.date | None
    excerpt: str
    item_text: str


class InvalidAnswerError(ValueError):
    """The model's answer cannot be used: not JSON of the asked shape, an unknown relation, a
    quote not in the item."""


def question_key(item_content: str, claim_text: str, model: str) -> str:
    """What identifies an answer: the same item text, claim text, model and prompt get it."""
    parts = (PROMPT_VERSION, model, claim_text, item_content)
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()


def item_content(title: str, text: str) -> str:
    return f"{title}\n{text}"


def excerpt(sentences: Sequence[str], evidence: int, budget: int) -> str:
    """The item's text as sent: the first two sentences after the title (what the news is), then
    the evidence sentence and its neighbours outward, as many as fit in `budget` characters, in
    the item's order; a gap is marked "…". The title is sent apart, so sentence 0 is skipped."""
    body = list(range(1, len(sentences)))
    if not body:
        return ""
    wanted = [i for i in (1, 2) if i < len(sentences)]
    anchor = min(max(evidence, 1), len(sentences) - 1)
    wanted.append(anchor)
    for step in range(1, len(sentences)):
        wanted += [i for i in (anchor - step, anchor + step) if 1 <= i < len(sentences)]
    chosen: set[int] = set()
    used = 0
    for i in wanted:
        if i in chosen:
            continue
        cost = len(sentences[i]) + 1
        if chosen and used + cost > budget:
            continue
        chosen.add(i)
        used += cost
    parts: list[str] = []
    last = 0
    for i in sorted(chosen):
        if i != last + 1:
            parts.append("…")
        parts.append(sentences[i][:budget])
        last = i
    if last != len(sentences) - 1:
        parts.append("…")
    return " ".join(parts)


def messages(question: Question) -> list[dict[str, str]]:
    article = f"{question.article_published:%Y-%m-%d}" if question.article_published else "unknown"
    published = f"{question.published:%Y-%m-%d}" if question.published else "unknown"
    user = (
        f"Claim (from an article dated {article}):\n{question.claim_text}\n\n"
        f"News item, dated {published}:\nTitle: {question.title}\nText: {question.excerpt}\n\n"
        "What does the item do to the claim? Answer with the JSON object only."
    )
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


def request_body(question: Question, *, model: str, max_tokens: int, structured: StructuredMode) -> dict[str, Any]:
    """The chat-completions request: the shape Ollama, llama.cpp's server, vLLM and OpenAI share.
    `json_schema` is the structured-output mode all four accept (`response_format` with a
    schema); `json_object` asks for JSON without a schema; `none` relies on the prompt."""
    body: dict[str, Any] = {
        "model": model,
        "messages": messages(question),
        "temperature": 0,
        "max_tokens": max_tokens,
        "stream": False,
    }
    if structured == "json_schema":
        body["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": "claim_verdict", "strict": True, "schema": SCHEMA},
        }
    elif structured == "json_object":
        body["response_format"] = {"type": "json_object"}
    return body


def response_content(document: Any) -> tuple[str, int]:
    """The answer's text and the tokens the call used (0 where the server does not say)."""
    try:
        message = document["choices"][0]["message"]
        content = message["content"]
    except (KeyError, IndexError, TypeError) as e:
        raise InvalidAnswerError(f"not a chat-completions response: no choices[0].message.content ({e!r})") from e
    if not isinstance(content, str) or not content.strip():
        refusal = message.get("refusal")
        raise InvalidAnswerError(f"an empty answer{f' (refusal: {refusal})' if refusal else ''}")
    usage = document.get("usage") if isinstance(document, dict) else None
    tokens = usage.get("total_tokens", 0) if isinstance(usage, dict) else 0
    return content, tokens if isinstance(tokens, int) else 0


_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.DOTALL)


def parse_answer(content: str, item_text: str) -> VerifierAnswer:
    """The verdict in the model's answer, checked: JSON of the asked shape (a fenced block is
    unwrapped: models without a JSON mode add one), a known relation, a confidence in [0, 1], and
    a quote found in the item. Raise InvalidAnswerError otherwise."""
    fenced = _FENCE.match(content)
    text = fenced.group(1) if fenced else content.strip()
    try:
        data = json.loads(text)
    except ValueError as e:
        raise InvalidAnswerError(f"not JSON: {_clip(content)!r}") from e
    if not isinstance(data, dict):
        raise InvalidAnswerError(f"not a JSON object: {_clip(content)!r}")
    relation = data.get("relation")
    if not isinstance(relation, str) or relation.strip().lower() not in RELATIONS:
        raise InvalidAnswerError(f"unknown relation {relation!r}")
    relation = relation.strip().lower()
    quote, reason, confidence = data.get("quote", ""), data.get("reason", ""), data.get("confidence")
    if not isinstance(quote, str) or not isinstance(reason, str):
        raise InvalidAnswerError("quote and reason must be strings")
    if isinstance(confidence, bool) or not isinstance(confidence, int | float) or not 0 <= confidence <= 1:
        raise InvalidAnswerError(f"confidence must be a number from 0 to 1, not {confidence!r}")
    quote = quote.strip().strip("\"'“”「」『』").strip()
    if relation != "none":
        if len(_fold(quote)) < MIN_QUOTE_CHARS:
            raise InvalidAnswerError(f"the quote is too short to show anything: {quote!r}")
        if _fold(quote) not in _fold(item_text):
            raise InvalidAnswerError(f"the quote is not in the item: {_clip(quote)!r}")
    return VerifierAnswer(relation, quote, " ".join(reason.split())[:MAX_REASON_CHARS], float(confidence))


_QUOTE_MARKS = str.maketrans("“”‘’", "\"\"''")


def _fold(text: str) -> str:
    """Compare quotes as a reader would: width (NFKC), case, quote marks and runs of space folded.
    Not `normalize.fold_text`: that also folds traditional into simplified script, and a quote
    must be the item's own words, in its script."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    folded = folded.translate(_QUOTE_MARKS)
    return " ".join(folded.split())


def _clip(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def settle(
    local: Decision | None, question: Question, outcome: VerifierOutcome | None, score: float, model: str
) -> Decision | None:
    """The flag for one candidate once the model was asked (or not). A valid verdict decides:
    `none` is no flag, any other relation is a flag with the model's relation, quote and reason.
    Without one, the judge's own flag (`local`, None where the judge gave none) stands, marked
    `unverified` (not asked yet: asked again next cycle) or `failed` (two unusable answers)."""
    if outcome is not None and outcome.status == "ok" and outcome.answer is not None:
        answer = outcome.answer
        if answer.relation == "none":
            return None
        verification = Verification("verified", model, outcome.at, answer.reason, answer.confidence)
        why = f"verified by {model}: {answer.relation} (confidence {answer.confidence:.2f}); judge p={score:.2f}"
        return Decision(question.claim_id, answer.relation, round(score, 3), answer.quote, why, verification)
    if local is None:
        return None
    status = "failed" if outcome is not None and outcome.status == "invalid" else "unverified"
    reason = outcome.error if outcome is not None else None
    at = outcome.at if outcome is not None else None
    return Decision(
        local.claim_id, local.relation, local.score, local.evidence, local.why, Verification(status, model, at, reason)
    )


def questions_for(
    item_id: int | str,
    title: str,
    text: str,
    reading: ItemReading,
    candidates: Sequence[Candidate],
    *,
    model: str,
    text_chars: int,
) -> list[tuple[Question, float]]:
    """The question on each candidate claim of one item, with the judge's probability for it.
    `text` is the item's text as the judge read it (after the title), the quote's reference."""
    content = item_content(title, text)
    sentences = [s.text for s in reading.sentences]
    return [
        (
            Question(
                question_key(content, c.claim.text, model),
                item_id,
                c.claim.id,
                c.claim.text,
                c.claim.article_published,
                title,
                reading.published,
                excerpt(sentences, c.evidence, text_chars),
                content,
            ),
            c.probability,
        )
        for c in candidates
    ]


def settle_item(
    decisions: Sequence[Decision],
    questions: Sequence[tuple[Question, float]],
    outcomes: Mapping[str, VerifierOutcome],
    model: str,
) -> tuple[list[Decision], bool]:
    """An item's flags from the judge's `decisions` and the verifier's `outcomes`, and whether
    questions on it are left for a later cycle (unasked, or the server failed)."""
    local = {d.claim_id: d for d in decisions}
    settled = [settle(local.get(q.claim_id), q, outcomes.get(q.key), p, model) for q, p in questions]
    left = any(q.key not in outcomes or not outcomes[q.key].settled for q, _ in questions)
    return [d for d in settled if d is not None], left


def unsettled(questions: Iterable[Question], known: Mapping[str, VerifierOutcome]) -> list[Question]:
    """The questions to ask: once each, none with a settled answer stored."""
    found: dict[str, Question] = {}
    for q in questions:
        if q.key not in found and (q.key not in known or not known[q.key].settled):
            found[q.key] = q
    return list(found.values())


@dataclass(frozen=True, slots=True)
class ToVerify:
    """An item as the judge read it: `text` is what it read after the title (the quote's
    reference), `vectors` its sentence vectors (None without an encoder)."""

    item_id: int | str
    title: str
    text: str
    reading: ItemReading
    vectors: Vectors | None


Lookup = Callable[[Iterable[str]], Mapping[str, VerifierOutcome]]
Resolve = Callable[[Sequence[Question], Mapping[str, VerifierOutcome]], Mapping[str, VerifierOutcome]]


def verify_items(
    judge: Judge, settings: VerifierSettings, items: Sequence[ToVerify], lookup: Lookup, resolve: Resolve
) -> tuple[list[tuple[int | str, list[Decision], bool]], Mapping[str, VerifierOutcome]]:
    """Each item's flags once the verifier has had its say on the judge's candidates, whether
    questions on it are left (unasked, or the server failed), and the outcomes got now (for the
    caller to keep). `lookup` gives the answers known already (a poll cycle's cache; none in an
    evaluation), `resolve` asks the rest: one way for the monitor and for `eval`."""
    asked = []
    for item in items:
        decisions, candidates = judge.candidates(
            item.reading, item.vectors, floor=settings.min_score, limit=settings.max_candidates
        )
        questions = questions_for(
            item.item_id,
            item.title,
            item.text,
            item.reading,
            candidates,
            model=settings.model,
            text_chars=settings.text_chars,
        )
        asked.append((item.item_id, decisions, questions))
    known = lookup(q.key for _, _, questions in asked for q, _ in questions)
    fresh = resolve(unsettled((q for _, _, questions in asked for q, _ in questions), known), known)
    outcomes = {**known, **fresh}
    settled = []
    for item_id, decisions, questions in asked:
        flags, left = settle_item(decisions, questions, outcomes, settings.model)
        settled.append((item_id, flags, left))
    return settled, fresh
