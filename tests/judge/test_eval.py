"""`monitor eval` and `monitor judge fit` on labelled items, and the figures they print agree
with `../shared/corpus/score.py` on the same outcome."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.cli import main
from monitor.cli.judge import reviewed_items
from monitor.judge.calibration import Calibration
from monitor.judge.labels import Outcome, figures, read_labelled
from monitor.records import StoredFlag, StoredItem
from tests.conftest import Workspace
from tests.judging import SHARED, needs_encoder

DEV = SHARED / "dev" / "items.jsonl"
SCORE = SHARED / "score.py"
needs_corpus = pytest.mark.skipif(
    not DEV.exists(), reason="the labelled corpus (../shared/corpus) is not beside the repo"
)


def _workspace(workspace: Workspace) -> Workspace:
    workspace.ship_claims()
    workspace.sources({"id": "s", "url": "http://127.0.0.1:9/feed.xml", "kind": "feed"})
    return workspace


def _subset(tmp_path: Path, count: int) -> Path:
    """The first `count` items of the dev set, and the items they are copies of."""
    lines = DEV.read_text(encoding="utf-8").splitlines()
    chosen = lines[:count]
    path = tmp_path / "gold.jsonl"
    path.write_text("\n".join(chosen) + "\n", encoding="utf-8")
    return path


@needs_corpus
def test_figures_are_score_py_figures(tmp_path: Path) -> None:
    """An outcome with right and wrong flags, duplicates and stories, scored both ways."""
    items = read_labelled([DEV])
    outcome = Outcome()
    for n, item in enumerate(items):
        outcome.relevant[item.id] = not item.offtopic or n % 2 == 0
        outcome.story[item.id] = item.event or item.id if n % 5 else "lumped"
        if item.syndicate_of and n % 3:
            outcome.duplicate_of[item.id] = item.syndicate_of
        flags = dict(item.claims) if n % 4 else {}
        if n % 7 == 0:
            flags["C05"] = "contradicts"
        outcome.flags[item.id] = flags
    ours = figures(items, outcome)
    numbers = {item.id: n for n, item in enumerate(items, 1)}
    (tmp_path / "items.json").write_text(
        json.dumps(
            [
                {
                    "id": numbers[i.id],
                    "url": f"http://127.0.0.1/a/{i.id}.html",
                    "relevant": outcome.relevant[i.id],
                    "duplicate_of": numbers.get(outcome.duplicate_of.get(i.id, "")),
                    "story_id": outcome.story[i.id],
                }
                for i in items
            ]
        ),
        encoding="utf-8",
    )
    flags = [
        {"claim_id": claim, "relation": relation, "state": "new", "item": {"id": numbers[item_id]}}
        for item_id, found in outcome.flags.items()
        for claim, relation in found.items()
    ]
    (tmp_path / "flags.json").write_text(json.dumps(flags), encoding="utf-8")
    done = subprocess.run(
        [
            sys.executable,
            str(SCORE),
            str(DEV),
            "--items",
            str(tmp_path / "items.json"),
            "--flags",
            str(tmp_path / "flags.json"),
            "--json",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    theirs = json.loads(done.stdout)
    for key in theirs:
        if key not in ("flags_unmatched",):
            assert ours[key] == theirs[key], key


@needs_corpus
@needs_encoder
def test_eval_prints_fitted_and_cross_validated_figures(
    tmp_path: Path, workspace: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    _workspace(workspace)
    gold = _subset(tmp_path, 30)
    assert main(["--config", str(workspace.config), "eval", str(gold), "--folds", "3", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["items"] == 30 and 0 < doc["judged"] <= 30
    for figures_ in (doc["fitted"], doc["cross_validated"]):
        assert figures_["corpus_items"] == 30
        for key in ("flag_precision", "flag_recall", "negatives_clean", "relevant_recall"):
            assert figures_[key] is None or 0.0 <= figures_[key] <= 1.0
        assert set(figures_["per_language"]) <= {"en", "zh"}
    assert main(["--config", str(workspace.config), "eval", str(gold)]) == 0
    text = capsys.readouterr().out
    assert "flag_precision" in text and "claim  gold flagged hit" in text


def test_eval_of_a_broken_file_names_its_line(
    tmp_path: Path, workspace: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    _workspace(workspace)
    gold = tmp_path / "gold.jsonl"
    gold.write_text(
        '{"id": "a", "published": "2025-01-01", "claims": {}}\n{"id": "b", "claims": {}\n', encoding="utf-8"
    )
    assert main(["--config", str(workspace.config), "eval", str(gold)]) == 2
    assert f"{gold}:2" in capsys.readouterr().err


@needs_corpus
@needs_encoder
def test_judge_fit_writes_a_calibration_and_keeps_the_last(
    tmp_path: Path, workspace: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    _workspace(workspace)
    gold = _subset(tmp_path, 40)
    output = tmp_path / "fit.json"
    args = [
        "--config",
        str(workspace.config),
        "judge",
        "fit",
        str(gold),
        "--folds",
        "3",
        "--force",
        "--output",
        str(output),
    ]
    assert main(args) == 0
    first = Calibration.loads(output.read_text(encoding="utf-8"))
    assert first.fitted_on["labelled_items"] == 40 and first.report["folds"] == 3
    assert "cross-validated" in capsys.readouterr().out
    assert main(args) == 0
    assert output.with_suffix(".previous.json").exists()
    assert Calibration.loads(output.read_text(encoding="utf-8")).flag.features == first.flag.features


def test_judge_fit_with_nothing_to_fit_on_says_so(workspace: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    _workspace(workspace)
    assert main(["--config", str(workspace.config), "judge", "fit"]) == 1
    assert "nothing to fit on" in capsys.readouterr().err


def _flag(item: StoredItem, claim: str, state: str, relation: str = "supports") -> StoredFlag:
    at = datetime(2025, 8, 1, tzinfo=UTC)
    return StoredFlag(1, claim, relation, 0.9, "e", "w", state, None, at, at, item, ("s",))


def test_reviews_become_labelled_items() -> None:
    at = datetime(2025, 8, 1, tzinfo=UTC)
    one = StoredItem(1, "s", "g1", None, None, "one", "", "en", at, at, None, None, 7, True, None, "body")
    two = StoredItem(2, "s", "g2", None, None, "two", "", "en", at, at, None, None, None, True, None, "body")
    items = reviewed_items(
        [
            _flag(one, "C01", "confirmed", "updates"),
            _flag(one, "C02", "dismissed"),
            _flag(two, "C03", "dismissed"),
            _flag(two, "C04", "new"),
        ]
    )
    by_title = {i.title: i for i in items}
    assert dict(by_title["one"].claims) == {"C01": "updates"} and by_title["one"].event == "story-7"
    assert dict(by_title["two"].claims) == {} and by_title["two"].negative
