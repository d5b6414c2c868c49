"""Flags through the whole run: stored once per (claim, item), copies add outlets, review state
survives re-runs and re-matching, claim standing and timelines, registry checks."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from monitor.cli import main
from tests.conftest import FeedServer, Workspace

SHIPPED = Path(__file__).parents[1] / "config" / "claims.toml"
RESUME = ("US lets Nvidia resume H20 chip sales to China", "The Commerce Department granted Nvidia export licences for the H20 chip, the company said on Tuesday.")
SUMMONS = ("網信辦約談輝達 要求說明H20晶片後門安全風險", "國家互聯網信息辦公室約談輝達公司，要求其說明H20晶片漏洞後門安全風險問題。")
SPORT = ("Local club wins the regional football cup", "The match went to penalties after extra time.")


def feed(*entries: tuple[str, str], prefix: str = "a") -> str:
    items = "".join(
        f"<item><title>{t}</title><link>http://HOST/{prefix}/{n}</link><guid>{prefix}-{n}</guid>"
        f"<description>{d}</description><pubDate>Tue, 15 Jul 2025 0{n}:00:00 GMT</pubDate></item>"
        for n, (t, d) in enumerate(entries)
    )
    return f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>W</title>{items}</channel></rss>'


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    capsys.readouterr()
    assert main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


@pytest.fixture
def flagged(feeds: FeedServer, workspace: Workspace) -> Workspace:
    shutil.copy(SHIPPED, workspace.config / "claims.toml")
    workspace.write("monitor.toml", '[poll]\narticle = "never"\n')
    workspace.sources(
        {"id": "wire", "url": feeds.put("/wire.xml", feed(RESUME, SUMMONS, SPORT)), "kind": "feed"},
        {"id": "reprint", "name": "Reprint Daily", "url": feeds.put("/reprint.xml", feed(RESUME, prefix="r")), "kind": "feed"},
    )
    assert main(["run", "--once"]) == 0
    return workspace


def test_flags_json_has_the_documented_fields(flagged: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    flags = run_json(capsys, "flags", "--json")
    by_claim = {(f["claim_id"], f["item"]["title"]): f for f in flags}
    resume = by_claim[("C23", RESUME[0])]
    assert resume["relation"] == "supports" and resume["state"] == "new"
    assert resume["evidence"] and resume["score"] >= 1.0
    assert {"id", "claim_id", "relation", "score", "evidence", "state", "story_id", "item"} <= set(resume)
    assert {"id", "url", "canonical_url", "title", "published_at", "source"} <= set(resume["item"])
    assert by_claim[("C23", SUMMONS[0])]["relation"] == "updates"
    assert not any(f["item"]["title"] == SPORT[0] for f in flags)


def test_a_copy_adds_its_outlet_not_a_flag(flagged: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    flags = [f for f in run_json(capsys, "flags", "--json") if f["item"]["title"] == RESUME[0] and f["claim_id"] == "C23"]
    assert len(flags) == 1
    assert sorted(flags[0]["sources"]) == ["reprint", "wire"]  # whichever came first holds the flag


def test_review_state_survives_reruns_and_rematching(flagged: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    flags = run_json(capsys, "flags", "--json")
    target = next(f for f in flags if f["claim_id"] == "C23" and f["relation"] == "updates")
    assert main(["flags", "dismiss", str(target["id"]), "--note", "a summons is not a sales change"]) == 0
    assert main(["run", "--once"]) == 0
    assert main(["rematch"]) == 0
    after = {f["id"]: f for f in run_json(capsys, "flags", "--json")}
    assert after[target["id"]]["state"] == "dismissed"
    assert after[target["id"]]["note"] == "a summons is not a sales change"
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
    assert RESUME[0] in out and SUMMONS[0] in out
    assert out.index(RESUME[0]) < out.index(SUMMONS[0])  # oldest first
    assert "/a/1" in out and "“" in out  # the summons item: only the wire source has it
    assert main(["claims", "show", "C99"]) == 1
    assert main(["claims"]) == 0


def test_claims_check(workspace: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    workspace.sources({"id": "x", "url": "http://127.0.0.1/x", "kind": "feed"})
    shutil.copy(SHIPPED, workspace.config / "claims.toml")
    assert main(["claims", "check"]) == 0
    assert "24 claims" in capsys.readouterr().out
    bad = workspace.root / "bad.toml"
    bad.write_text(
        '[[entity]]\nid = "h20"\naliases = ["H20"]\n\n[[claim]]\nid = "C01"\nanchors = ["@h20"]\n\n'
        '[[claim.signal]]\nrelation = "supports"\nwhen = [["@h2o"], ["resume"]]\n',
        encoding="utf-8",
    )
    assert main(["claims", "check", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "bad.toml:11" in err and "[C01]" in err and "signal.0.when" in err and "'@h2o'" in err
    bad.write_text('[[claim]]\nid = "C01"\n\n[[claim.signal]]\nrelation = "refutes"\nwhen = [["x"]]\n', encoding="utf-8")
    assert main(["claims", "check", str(bad)]) == 2
    assert "relation" in capsys.readouterr().err
