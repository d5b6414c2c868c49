"""The verifier through whole runs: a feed on loopback, a SQLite file, a chat server on loopback.
Its verdicts make the flags (shown with their reason in `flags`, `claims show` and the digest);
its answers are cached (a rematch or a restart pays nothing); a server that is down leaves the
judge's flags, marked unverified, and the items wait (shown in `status`) for a cycle that can
ask; a budget spreads the questions over cycles; the key stays out of files and output."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from monitor.cli import main
from monitor.config import load_registry
from monitor.judge.labels import read_labelled
from tests.conftest import FeedServer, Workspace
from tests.judge.test_flags import H200, RESUME, SPORT, feed, run_json
from tests.judging import SHARED
from tests.llmserver import ChatServer, chat_server, claim_of, first_sentence, verdict

KEY = "sk-verifier-secret-4242"


def h20_oracle(body: dict[str, Any]) -> str:
    """A stand-in model: the H20 licence claim is updated by anything it is asked about, with
    the item's first sentence as the quote; every other claim is borne on by nothing."""
    if "resume selling the H20" in claim_of(body):
        return verdict("updates", first_sentence(body), "A later report on the H20 licences.", 0.8)
    return verdict("none", "", "Another matter.", 0.9)


def configure(workspace: Workspace, url: str, **extra: Any) -> None:
    lines = [f"{k} = {json.dumps(v)}" for k, v in ({"base_url": url} | extra).items()]
    workspace.write(
        "monitor.toml",
        '[poll]\narticle = "never"\n\n[judge.verifier]\nkind = "openai"\nmodel = "tiny"\n' + "\n".join(lines) + "\n",
    )


@pytest.fixture
def news(feeds: FeedServer, workspace: Workspace) -> Workspace:
    workspace.ship_claims()
    workspace.sources({"id": "wire", "url": feeds.put("/wire.xml", feed(RESUME, H200, SPORT)), "kind": "feed"})
    return workspace


@pytest.fixture
def server() -> Iterator[ChatServer]:
    with chat_server("ollama", model="tiny") as s:
        s.reply = h20_oracle
        yield s


def test_the_verdicts_make_the_flags_and_show_their_reason(
    news: Workspace, server: ChatServer, capsys: pytest.CaptureFixture[str]
) -> None:
    configure(news, server.url)
    assert main(["run", "--once"]) == 0
    asked = server.calls
    assert asked > 0 and server.refused == []
    flags = run_json(capsys, "flags", "--json")
    assert flags and {f["claim_id"] for f in flags} == {"C23"}  # the model said none to every other candidate
    for f in flags:
        assert f["relation"] == "updates" and f["verification"]["status"] == "verified"
        assert f["verification"]["model"] == "tiny" and f["verification"]["reason"].startswith("A later report")
        assert f["evidence"] in f"{f['item']['title']}\n" + " ".join(t[1] for t in (RESUME, H200))
    assert not any(f["item"]["title"] == SPORT[0] for f in flags)  # not relevant: never asked
    capsys.readouterr()
    assert main(["claims", "show", "C23"]) == 0
    assert "verified by tiny, confidence 0.80: A later report on the H20 licences." in capsys.readouterr().out
    assert main(["digest", "--since", "2025-01-01"]) == 0
    digest = next((news.root / "storage").glob("digests/*.md")).read_text(encoding="utf-8")
    assert "verified by tiny" in digest
    feed = (news.root / "storage" / "digests" / "feed.atom").read_text(encoding="utf-8")
    assert "verified by tiny, confidence 0.80" in feed
    status = run_json(capsys, "status", "--json")
    assert status["verifier"]["pending_items"] == 0 and status["verifier"]["model"] == "tiny"
    assert status["last_cycle"]["verifier"]["calls"] == asked


def test_answers_are_paid_once_across_rematch_and_restart(
    news: Workspace, server: ChatServer, capsys: pytest.CaptureFixture[str]
) -> None:
    configure(news, server.url)
    assert main(["run", "--once"]) == 0
    asked, before = server.calls, run_json(capsys, "flags", "--json")
    assert main(["rematch"]) == 0
    assert main(["run", "--once"]) == 0
    assert server.calls == asked
    after = run_json(capsys, "flags", "--json")
    assert [(f["id"], f["relation"], f["evidence"]) for f in after] == [
        (f["id"], f["relation"], f["evidence"]) for f in before
    ]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_server_that_is_down_leaves_the_judges_flags_and_the_items_wait(
    news: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    port = closed_port()
    configure(news, f"http://127.0.0.1:{port}/v1")
    assert main(["run", "--once"]) == 0  # the run goes on
    judged = run_json(capsys, "flags", "--json")
    assert judged and all(f["verification"]["status"] == "unverified" for f in judged)
    status = run_json(capsys, "status", "--json")
    waiting = status["verifier"]["pending_items"]
    assert waiting > 0 and "unreachable" in status["last_cycle"]["verifier"]["stopped"]
    capsys.readouterr()
    assert main(["status"]) == 0
    assert f"{waiting} items wait for it" in capsys.readouterr().out
    with chat_server("ollama", model="tiny", port=port) as server:
        server.reply = h20_oracle
        assert main(["run", "--once"]) == 0  # nothing new in the feed: the waiting items are asked
        assert server.calls > 0
    flags = run_json(capsys, "flags", "--json")
    assert flags and all(f["verification"]["status"] == "verified" for f in flags)
    assert run_json(capsys, "status", "--json")["verifier"]["pending_items"] == 0


def test_a_budget_spreads_the_questions_over_cycles_and_drops_none(
    news: Workspace, server: ChatServer, capsys: pytest.CaptureFixture[str]
) -> None:
    configure(news, server.url, max_calls_per_cycle=1)
    cycles = 0
    while True:
        assert main(["run", "--once"]) == 0
        cycles += 1
        report = run_json(capsys, "status", "--json")
        assert report["last_cycle"]["verifier"]["calls"] <= 1
        if report["verifier"]["pending_items"] == 0:
            break
        assert cycles < 20
    assert cycles > 1 and server.calls <= cycles  # one call a cycle at most
    keys = {json.dumps(r.body["messages"], sort_keys=True) for r in server.requests}
    assert len(keys) == server.calls  # no question asked twice
    flags = run_json(capsys, "flags", "--json")
    assert flags and all(f["verification"]["status"] == "verified" for f in flags)


def test_the_key_comes_from_the_environment_and_is_never_shown(
    news: Workspace, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with chat_server("openai", key=KEY, model="tiny") as server:
        server.reply = h20_oracle
        configure(news, server.url, api_key_env="MONITOR_LLM_KEY")
        monkeypatch.delenv("MONITOR_LLM_KEY", raising=False)
        capsys.readouterr()
        assert main(["run", "--once"]) != 0
        err = capsys.readouterr().err
        assert "MONITOR_LLM_KEY" in err and "not set" in err and "monitor.toml" in err
        monkeypatch.setenv("MONITOR_LLM_KEY", KEY)
        assert main(["run", "--once"]) == 0
        assert server.calls > 0 and server.refused == []
        assert all(r.headers["authorization"] == f"Bearer {KEY}" for r in server.requests)
    for command in (["status"], ["status", "--json"], ["flags", "--json"], ["sources", "--json"]):
        capsys.readouterr()
        main(command)
        shown = capsys.readouterr()
        assert KEY not in shown.out + shown.err


@pytest.mark.parametrize(
    ("block", "message"),
    [
        ('kind = "openai"\nmodel = "tiny"\napi_key = "sk-123"', "never read from a config file"),
        ('kind = "openai"', "needs the model"),
        ('kind = "openai"\nmodel = "m"\nbase_url = "localhost:11434"', "not an http(s) URL"),
        ('kind = "openai"\nmodel = "m"\nbase_url = "http://user:pw@127.0.0.1/v1"', "no credentials in the URL"),
        ('kind = "gpt"\nmodel = "m"', "kind"),
        ('kind = "openai"\nmodel = "m"\nconcurrency = 0', "concurrency"),
    ],
)
def test_verifier_config_mistakes_are_named_with_their_line(
    news: Workspace, block: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    news.write("monitor.toml", f'[poll]\narticle = "never"\n\n[judge.verifier]\n{block}\n')
    capsys.readouterr()
    assert main(["run", "--once"]) != 0
    err = capsys.readouterr().err
    assert "monitor.toml" in err and message in err
    assert "sk-123" not in err


DEV = SHARED / "dev" / "items.jsonl"


@pytest.mark.skipif(not DEV.exists(), reason="the labelled corpus (../shared/corpus) is not beside the repo")
def test_eval_measures_the_verifier_with_its_calls(
    workspace: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`eval --verifier` with a stand-in model that knows the labels (it answers each question
    with the gold relation, quoting the item's first sentence): the verified flags are exactly
    the gold pairs among the judge's candidates, so their precision is 1.0 where the judge's
    is not, and the calls it took are reported."""
    gold = tmp_path / "gold.jsonl"
    gold.write_text("\n".join(DEV.read_text(encoding="utf-8").splitlines()[:25]) + "\n", encoding="utf-8")
    items = read_labelled([gold])
    by_title = {i.title: i for i in items}
    workspace.ship_claims()
    texts = {c.text: c.id for c in load_registry(workspace.config / "claims.toml").claims}
    workspace.sources({"id": "s", "url": "http://127.0.0.1:9/feed.xml", "kind": "feed"})

    def knows_the_labels(body: dict[str, Any]) -> str:
        user = body["messages"][-1]["content"]
        title = user.split("\nTitle: ", 1)[1].split("\nText: ", 1)[0]
        relation = by_title[title].claims.get(texts[claim_of(body)], "none")
        return verdict(relation, first_sentence(body) if relation != "none" else "", "From the labels.", 1.0)

    with chat_server("llamacpp", model="tiny") as server:
        server.reply = knows_the_labels
        configure(workspace, server.url)
        doc = run_json(capsys, "eval", str(gold), "--verifier", "--json")
        assert server.refused == []
        calls = server.calls
        capsys.readouterr()
        assert main(["eval", str(gold), "--verifier"]) == 0
        out = capsys.readouterr().out
    assert "verified" in out and f"verifier tiny: {calls} calls" in out
    used = doc["verifier"]
    assert used["calls"] == calls > 0 and used["tokens"] > 0 and used["left"] == 0
    assert doc["verified"]["flag_precision"] == 1.0
    assert doc["fitted"]["flag_precision"] < 1.0  # the judge alone: some wrong flags the model removed
