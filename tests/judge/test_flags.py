"""Flags through the whole run: stored once per (claim, item), copies add outlets, review state
survives re-runs and re-matching, claim standing and timelines, registry checks."""

from __future__ import annotations

import json
from typing import Any

import pytest

from monitor.cli import main
from tests.conftest import FeedServer, Workspace

RESUME = (
    "US lets Nvidia resume H20 chip sales to China",
    "The Commerce Department granted Nvidia export licences for the H20 chip, the company said on Tuesday.",
    "Tue, 15 Jul 2025 00:00:00 GMT",
)
# months after the article: a later development of the H20 licences (C23 updated)
H200 = (
    "Trump says US will allow sale of Nvidia H200 AI chips to China",
    "President Trump said the US will let Nvidia sell its H200 chips to approved customers in China, "
    "with a 25% cut for the government.",
    "Tue, 09 Dec 2025 01:00:00 GMT",
)
SPORT = (
    "Local club wins the regional football cup",
    "The match went to penalties after extra time.",
    "Tue, 15 Jul 2025 02:00:00 GMT",
)


def feed(*entries: tuple[str, str, str], prefix: str = "a") -> str:
    items = "".join(
        f"<item><title>{t}</title><link>http://HOST/{prefix}/{n}</link><guid>{prefix}-{n}</guid>"
        f"<description>{d}</description><pubDate>{when}</pubDate></item>"
        for n, (t, d, when) in enumerate(entries)
    )
    return f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>W</title>{items}</channel></rss>'


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    capsys.readouterr()
    assert main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


@pytest.fixture
def flagged(feeds: FeedServer, workspace: Workspace) -> Workspace:
    workspace.ship_claims()
    workspace.write("monitor.toml", '[poll]\narticle = "never"\n')
    workspace.sources(
        {"id": "wire", "url": feeds.put("/wire.xml", feed(RESUME, H200, SPORT)), "kind": "feed"},
        {
            "id": "reprint",
            "name": "Reprint Daily",
            "url": feeds.put("/reprint.xml", feed(RESUME, prefix="r")),
            "kind": "feed",
        },
    )
    assert main(["run", "--once"]) == 0
    return workspace


def test_flags_json_has_the_documented_fields(flagged: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    flags = run_json(capsys, "flags", "--json")
    by_claim = {(f["claim_id"], f["item"]["title"]): f for f in flags}
    resume = by_claim[("C23", RESUME[0])]
    assert resume["relation"] == "supports" and resume["state"] == "new"
    assert resume["evidence"] and 0.0 < resume["score"] <= 1.0
    assert {"id", "claim_id", "relation", "score", "evidence", "state", "story_id", "item"} <= set(resume)
    assert {"id", "url", "canonical_url", "title", "published_at", "source"} <= set(resume["item"])
    assert by_claim[("C23", H200[0])]["relation"] == "updates"
    assert not any(f["item"]["title"] == SPORT[0] for f in flags)


def test_a_copy_adds_its_outlet_not_a_flag(flagged: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    flags = [
        f for f in run_json(capsys, "flags", "--json") if f["item"]["title"] == RESUME[0] and f["claim_id"] == "C23"
    ]
    assert len(flags) == 1
    assert sorted(flags[0]["sources"]) == ["reprint", "wire"]  # whichever came first holds the flag


def test_review_state_survives_reruns_and_rematching(flagged: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    flags = run_json(capsys, "flags", "--json")
    target = next(f for f in flags if f["claim_id"] == "C23" and f["relation"] == "updates")
    assert main(["flags", "dismiss", str(target["id"]), "--note", "the H200 is not the H20"]) == 0
    assert main(["run", "--once"]) == 0
    assert main(["rematch"]) == 0
    after = {f["id"]: f for f in run_json(capsys, "flags", "--json")}
    assert after[target["id"]]["state"] == "dismissed"
    assert after[target["id"]]["note"] == "the H200 is not the H20"
    assert len(after) == len(flags)
    assert [f["id"] for f in run_json(capsys, "flags", "--json", "--state", "dismissed")] == [target["id"]]
    assert main(["flags", "confirm", "99999"]) == 1


def test_claim_standing_follows_non_dismissed_flags(flagged: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    claims = {c["id"]: c for c in run_json(capsys, "claims", "--json")}
    assert len(claims) == 24
    assert claims["C23"]["status"] == "updated"
    assert claims["C01"]["status"] == "unchallenged"
    updates = [f for f in run_json(capsys, "flags", "--json", "--claim", "C23") if f["relation"] == "updates"]
    for f in updates:
        main(["flags", "dismiss", str(f["id"])])
    claims = {c["id"]: c for c in run_json(capsys, "claims", "--json")}
    assert claims["C23"]["status"] == "supported"


def test_claims_show_prints_the_timeline(flagged: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["claims", "show", "C23"]) == 0
    out = capsys.readouterr().out
    assert "C23 · updated" in out
    assert RESUME[0] in out and H200[0] in out
    assert out.index(RESUME[0]) < out.index(H200[0])  # oldest first
    assert "/a/1" in out and "“" in out  # the H200 item: only the wire source has it
    assert main(["claims", "show", "C99"]) == 1
    assert main(["claims"]) == 0


def test_claims_check(workspace: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    workspace.sources({"id": "x", "url": "http://127.0.0.1/x", "kind": "feed"})
    workspace.ship_claims()
    assert main(["claims", "check"]) == 0
    captured = capsys.readouterr()
    assert "1 articles, 24 claims, 0 warnings" in captured.out and not captured.err
    bad = workspace.root / "bad.toml"
    bad.write_text(
        '[[article]]\nid = "a"\n\n[[article.claim]]\nid = "C01"\ntext = "x"\n\n'
        '[[article.claim]]\nid = "C02"\nquote = "y"\n',
        encoding="utf-8",
    )
    assert main(["claims", "check", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "bad.toml:8" in err and "[C02]" in err and "text:" in err and "required" in err
    bad.write_text('[[article]]\nid = "a"\n\n[[article.claim]]\nid = "C01"\ntext = "x"\nquote = "y"\n')
    assert main(["claims", "check", str(bad)]) == 0
    captured = capsys.readouterr()
    assert "1 articles, 1 claims, 1 warnings" in captured.out and "[a] no published date" in captured.err
