"""The verifier's calls: an OpenAI-compatible chat-completions server (Ollama, llama.cpp's
server, vLLM, a hosted API), asked `concurrency` questions at a time within a budget of calls.

The edge of `monitor.judge.verifier` (which says what to ask and how to read the answer). What a
call can end in, and what follows:
- a valid answer: `ok`;
- an unusable answer (not JSON, an unknown relation, a quote not in the item, an empty one): asked
  once more; twice unusable is `invalid`, cached: never a flag, never asked again;
- a 429: its Retry-After is waited out once if it is shorter than the call's timeout, else the
  rest of the cycle's questions wait for the next cycle;
- a timeout, a refused connection, a 5xx, another HTTP error: retried once after a pause; a second
  failure is `error` and the cycle stops calling (the server is down or misconfigured: the other
  questions would fail alike). An `error` is asked again in a later cycle; a question on which a
  reachable server failed `MAX_ERROR_CYCLES` cycles running is given up as `invalid`, so that one
  request the server cannot take does not hold back the others for ever.
The API key (read from the environment by the caller) is sent as a bearer token and never logged:
errors quote the status and the body's first characters, never the request's headers.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx

from monitor.backoff import parse_retry_after
from monitor.judge.verifier import InvalidAnswerError, Question, parse_answer, request_body, response_content
from monitor.records import VerifierAnswer, VerifierOutcome, VerifierReport
from monitor.settings import VerifierSettings

log = logging.getLogger(__name__)

RETRY_PAUSE = 1.0  # seconds before the one retry of a failed call
MAX_ERROR_CYCLES = 3
MAX_ERROR_BODY = 200


def utcnow() -> datetime:
    return datetime.now(UTC)


class ServerError(Exception):
    """The server failed the call (not the model's answer): `retry_after` when it said when to
        come back, `this_request` when the failure may be this request's (a 5xx, a 400, a 413, a 422),
    not the server's or the config's (no answer, a 429, a 401, a 404)."""

    def __init__(self, message: str, *, retry_after: float | None = None, this_request: bool = False) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.this_request = this_request  # the server took the call and failed on it (a 5xx, a 400)


@dataclass
class Usage:
    """What a cycle's verification cost: calls made, tokens, seconds, and what went wrong."""

    calls: int = 0
    tokens: int = 0
    seconds: float = 0.0
    invalid: int = 0
    errors: int = 0
    left: int = 0  # questions not asked: the budget was spent or the server stopped answering
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)


class Verifier:
    """One server and model, and one cycle's budget of calls (`start_cycle` renews it). Thread
    use: `resolve` runs its questions on its own pool; one `Verifier` serves one cycle at a time."""

    def __init__(
        self,
        settings: VerifierSettings,
        api_key: str | None,
        *,
        clock: Callable[[], datetime] = utcnow,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.settings = settings
        self.model = settings.model
        self._clock = clock
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.Client(
            base_url=settings.base_url,
            headers=headers,
            timeout=settings.timeout,
            follow_redirects=False,
            transport=transport,
            limits=httpx.Limits(max_connections=settings.concurrency),
        )
        self.usage = Usage()
        self._budget: int | None = settings.max_calls_per_cycle
        self._stopped = threading.Event()
        self._why_stopped = ""

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Verifier:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start_cycle(self, *, unlimited: bool = False) -> None:
        """A new budget: the cycle's calls start from zero, a server that failed is tried again.
        `unlimited`: no budget of calls (`eval`, which asks every question)."""
        self._budget = None if unlimited else self.settings.max_calls_per_cycle
        self.usage = Usage()
        self._stopped.clear()
        self._why_stopped = ""

    def report(self) -> VerifierReport:
        """What this cycle's verification did and cost."""
        u = self.usage
        return VerifierReport(u.calls, u.tokens, round(u.seconds, 3), u.invalid, u.errors, u.left, self.stopped)

    @property
    def stopped(self) -> str:
        """Why the cycle stopped calling ("" while it may call)."""
        return self._why_stopped if self._stopped.is_set() else ""

    def resolve(
        self, questions: Sequence[Question], previous: Mapping[str, VerifierOutcome]
    ) -> dict[str, VerifierOutcome]:
        """Ask each question (at most `concurrency` at once); the outcomes of those asked. A
        question left unasked (budget spent, server down) is absent and counted in `usage.left`.
        `previous` holds earlier `error` outcomes, whose attempts carry over."""
        if not questions:
            return {}
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=self.settings.concurrency, thread_name_prefix="verifier") as pool:
            results = list(pool.map(lambda q: self._ask(q, previous.get(q.key)), questions))
        self.usage.seconds += time.perf_counter() - started
        found = {}
        for question, outcome in zip(questions, results, strict=True):
            if outcome is None:
                self.usage.left += 1
            else:
                found[question.key] = outcome
        return found

    def _take_call(self) -> bool:
        with self.usage.lock:
            if self._stopped.is_set() or (self._budget is not None and self.usage.calls >= self._budget):
                return False
            self.usage.calls += 1
            return True

    def _stop(self, why: str) -> None:
        if not self._stopped.is_set():
            self._why_stopped = why
            self._stopped.set()
            log.warning("verifier: no more calls this cycle (%s); the questions left wait for the next one", why)

    def _ask(self, question: Question, previous: VerifierOutcome | None) -> VerifierOutcome | None:
        """At most two calls: the second after an unusable answer or a failed call."""
        error = ""
        tokens = calls = 0
        invalid = blamed = False
        for attempt in (1, 2):
            if not self._take_call():
                if calls == 0 or invalid:  # not asked, or not asked twice: the next cycle asks afresh
                    return None
                break
            calls += 1
            try:
                answer, used = self._call(question)
            except InvalidAnswerError as e:
                invalid, error = True, str(e)
                log.warning("verifier: item %s, claim %s: unusable answer (%s)", question.item_id, question.claim_id, e)
                continue
            except ServerError as e:
                invalid, error, blamed = False, str(e), e.this_request
                log.warning("verifier: item %s, claim %s: %s", question.item_id, question.claim_id, e)
                if e.retry_after is not None and e.retry_after > self.settings.timeout:
                    break  # come back later than a call may take: the next cycle
                wait = RETRY_PAUSE if e.retry_after is None else e.retry_after
                if attempt == 2 or self._stopped.wait(wait):
                    break
                continue
            tokens += used
            self._count(tokens=used)
            return VerifierOutcome(question.key, "ok", self.model, self._clock(), answer, None, 1, calls, tokens)
        if invalid:
            self._count(invalid=1)
            return VerifierOutcome(question.key, "invalid", self.model, self._clock(), None, error, 1, calls, tokens)
        self._count(errors=1)
        self._stop(error)
        attempts = previous.attempts if previous is not None and previous.status == "error" else 0
        attempts += blamed
        status = "invalid" if attempts >= MAX_ERROR_CYCLES else "error"
        return VerifierOutcome(question.key, status, self.model, self._clock(), None, error, attempts, calls, tokens)

    def _count(self, *, tokens: int = 0, invalid: int = 0, errors: int = 0) -> None:
        with self.usage.lock:
            self.usage.tokens += tokens
            self.usage.invalid += invalid
            self.usage.errors += errors

    def _call(self, question: Question) -> tuple[VerifierAnswer, int]:
        body = request_body(
            question, model=self.model, max_tokens=self.settings.max_tokens, structured=self.settings.structured
        )
        try:
            response = self._http.post("/chat/completions", json=body)
        except httpx.TimeoutException as e:
            raise ServerError(f"unreachable: no answer within {self.settings.timeout:g} s") from e
        except httpx.HTTPError as e:
            raise ServerError(f"unreachable: {type(e).__name__}: {e}") from e
        if response.status_code == 429:
            wait = parse_retry_after(response.headers.get("retry-after"))
            shown = "none" if wait is None else f"{wait:g} s"
            raise ServerError(f"429 too many requests (Retry-After: {shown})", retry_after=wait)
        if response.status_code != 200:
            blame = response.status_code >= 500 or response.status_code in (400, 413, 422)
            raise ServerError(f"HTTP {response.status_code}: {response.text[:MAX_ERROR_BODY]!r}", this_request=blame)
        try:
            document = response.json()
        except ValueError as e:
            raise InvalidAnswerError(f"the response is not JSON: {response.text[:MAX_ERROR_BODY]!r}") from e
        content, tokens = response_content(document)
        return parse_answer(content, question.item_text), tokens
