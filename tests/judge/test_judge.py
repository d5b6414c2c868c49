"""The judge reads claims as text: any language against any language, numbers that agree or
differ, no encoder at all, and a calibration that is saved, read back and checked."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from monitor.config import Config, load_config
from monitor.errors import ConfigError
from monitor.judge.calibration import Calibration, Model
from monitor.judge.encoder import EncoderUnavailableError, Vectors, load_encoder
from monitor.judge.features import pair_features
from monitor.judge.fitting import Example, folds_by_group
from monitor.judge.judge import CalibrationMismatchError, Judge, check_calibration
from monitor.judge.lexicon import word_units, words
from monitor.judge.reading import read_claims, read_item
from monitor.judge.registry import Article, ClaimText, Registry
from monitor.pipeline.build import build_judge, shipped_calibration
from tests.conftest import Workspace
from tests.judging import judge_for, needs_encoder

# Claims on unrelated subjects, in both languages: a judge that matches by subject finds each.
CLAIMS = Registry(
    articles=(
        Article(
            id="test-article",
            published=dt.date(2025, 6, 15),
            language="en",
            claim=(
                ClaimText(id="E1", text="On 3 December 2024 China banned exports of gallium and germanium to the US."),
                ClaimText(
                    id="E2", text="Nvidia wrote off US$5.5 billion of H20 inventory because of the licence rule."
                ),
                ClaimText(id="E3", text="Singapore charged three men with fraud over servers shipped to Malaysia."),
                ClaimText(id="Z1", text="台积电已停止为中国大陆客户生产7纳米及以下的人工智能芯片。"),
                ClaimText(id="Z2", text="华为昇腾910C的推理性能约为英伟达H100的60%。"),
            ),
        ),
    )
)


def flagged(judge: Judge, title: str, text: str, when: dt.date = dt.date(2025, 3, 1)) -> dict[str, str]:
    return {d.claim_id: d.relation for d in judge.match(title, text, when)}


def test_chinese_words_are_glossed_into_the_english_vocabulary() -> None:
    english = set(words("China bans gallium exports to the United States"))
    for chinese in ("中国禁止向美国出口镓", "中國禁止向美國出口鎵"):  # both scripts
        shared = english & set(words(chinese))
        assert {"gallium", "export"} <= shared, shared


@pytest.mark.parametrize(
    ("text", "count"),
    [
        ("China bans gallium exports", 4),  # an English word is one unit
        ("中国禁止出口镓", 3),  # a Chinese word is one unit however many glosses it has; 镓 alone: none
    ],
)
def test_a_chinese_word_counts_once_in_a_share_of_words(text: str, count: int) -> None:
    assert len(word_units(text)) == count


def test_the_lead_cover_is_the_share_of_the_lead_the_claim_accounts_for() -> None:
    claims = read_claims(CLAIMS.claims)
    on_gallium = read_item("China bans gallium and germanium exports to the US", "")
    on_something_else = read_item("China bans gallium exports, and antimony, graphite and superhard materials", "")
    covers = [pair_features(item, claims, None).column("lead_cover")[0] for item in (on_gallium, on_something_else)]
    assert covers[0] > 0.5 > covers[1]


@needs_encoder
def test_an_english_claim_is_found_by_a_chinese_item() -> None:
    judge = judge_for(CLAIMS)
    found = flagged(
        judge,
        "商务部宣布禁止镓、锗对美出口",
        "商务部12月3日发布公告，禁止镓、锗、锑等两用物项对美国出口，即日起实施。",
        dt.date(2024, 12, 3),
    )
    assert list(found) == ["E1"]


@needs_encoder
def test_a_chinese_claim_is_found_by_an_english_item() -> None:
    judge = judge_for(CLAIMS)
    found = flagged(
        judge,
        "Huawei's Ascend 910C reaches 60% of Nvidia H100 inference performance",
        "DeepSeek researchers found Huawei's Ascend 910C delivers about 60% of the H100's performance in inference.",
        dt.date(2025, 2, 1),
    )
    assert list(found) == ["Z2"]
    item = judge.read(
        "TSMC halts shipments of 7nm AI chips to Chinese customers",
        "TSMC told Chinese clients it will stop making AI chips at 7 nanometres and below for them from Monday.",
        dt.date(2024, 11, 8),
    )
    scored = judge.score(item, judge.embed(item))
    assert judge.claims[int(scored.probability.argmax())].id == "Z1"


@needs_encoder
def test_the_same_number_supports_and_another_value_challenges() -> None:
    judge = judge_for(CLAIMS)
    same = flagged(
        judge,
        "Nvidia writes off $5.5 billion of H20 chips",
        "Nvidia said it wrote off US$5.5 billion of H20 inventory and purchase commitments after the licence rule.",
    )
    other = flagged(
        judge,
        "Nvidia's H20 write-off was $4.5 billion",
        "Nvidia said the H20 inventory write-off came to US$4.5 billion, less than the $5.5 billion it had expected.",
    )
    other_only = flagged(
        judge,
        "Nvidia's H20 write-off was $4.5 billion",
        "Nvidia said the charge for H20 inventory and purchase commitments came to US$4.5 billion.",
    )
    assert same == {"E2": "supports"}
    assert "E2" in other  # names both values: the stance is the model's to decide
    assert other_only.get("E2") in ("contradicts", "updates")


@needs_encoder
def test_news_on_another_subject_raises_no_flag() -> None:
    judge = judge_for(CLAIMS)
    assert flagged(judge, "Eagles beat Chiefs to win the Super Bowl", "Philadelphia won 40-22 in New Orleans.") == {}


def test_without_an_encoder_the_judge_runs_on_words_and_says_so() -> None:
    judge = judge_for(CLAIMS, with_encoder=False)
    decisions = judge.match(
        "Singapore charges three men with fraud over servers",
        "Singapore prosecutors charged three men with fraud over servers that were shipped on to Malaysia.",
        dt.date(2025, 2, 28),
    )
    assert [d.claim_id for d in decisions] == ["E3"]
    assert "encoder none" in decisions[0].why
    assert decisions[0].evidence.startswith("Singapore")


def test_the_evidence_is_a_sentence_of_the_item() -> None:
    judge = judge_for(CLAIMS, with_encoder=False)
    text = "The weather was fine. Singapore charged three men with fraud over servers sent to Malaysia. Nothing else."
    (decision,) = judge.match("Court news", text, dt.date(2025, 2, 28))
    assert decision.evidence == "Singapore charged three men with fraud over servers sent to Malaysia."


def test_a_calibration_reads_back_as_it_was_written() -> None:
    calibration = shipped_calibration()
    again = Calibration.loads(calibration.dumps())
    x = np.random.default_rng(1).normal(size=(5, len(calibration.flag.features)))
    assert np.allclose(again.flag.predict_proba(x), calibration.flag.predict_proba(x))
    assert (again.threshold, again.keep_ratio, again.max_claims) == (
        calibration.threshold,
        calibration.keep_ratio,
        calibration.max_claims,
    )
    check_calibration(again)


def _config_with_calibration(workspace: Workspace, path: Path) -> Config:
    workspace.sources({"id": "s", "url": "http://127.0.0.1:9/feed.xml", "kind": "feed"})
    workspace.write("monitor.toml", f'[judge]\nencoder = "none"\ncalibration = "{path}"\n')
    return load_config(workspace.config)


def test_a_calibration_of_other_features_is_refused(tmp_path: Path, workspace: Workspace) -> None:
    calibration = shipped_calibration()
    calibration.flag = Model(("sim", "something_else"), ("yes", "no")).fit(
        np.array([[0.0, 1.0], [1.0, 0.0]]), ["no", "yes"]
    )
    with pytest.raises(CalibrationMismatchError, match="refit"):
        check_calibration(calibration)
    path = tmp_path / "old.json"
    path.write_text(calibration.dumps(), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"judge\.calibration"):
        build_judge(_config_with_calibration(workspace, path))


def test_a_broken_calibration_file_is_a_config_error(tmp_path: Path, workspace: Workspace) -> None:
    path = tmp_path / "broken.json"
    path.write_text(json.dumps({"format": 1, "flag": {}}), encoding="utf-8")
    with pytest.raises(ConfigError, match="cannot read the calibration"):
        build_judge(_config_with_calibration(workspace, path))


def test_logistic_regression_finds_a_signal_and_ignores_noise() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(800, 2))
    y = ["yes" if v else "no" for v in rng.random(800) < 1 / (1 + np.exp(-3 * x[:, 0]))]
    model = Model(("signal", "noise"), ("yes", "no"), l2=0.1).fit(x, y)
    weights = model.weights[:2, 0] / model.scale
    assert 2.0 < weights[0] < 4.5 and abs(weights[1]) < 0.5


def test_folds_keep_each_event_whole() -> None:
    reading = read_item("t", "", None)
    groups = ["a", "a", "a", "b", "b", "c", "d", "d", "e", "f"]
    examples = [Example(str(n), reading, None, {}, g) for n, g in enumerate(groups)]
    folds = folds_by_group(examples, 3)
    assert sorted(i for fold in folds for i in fold) == list(range(len(groups)))
    for group in set(groups):
        assert sum(any(examples[i].group == group for i in fold) for fold in folds) == 1
    assert max(map(len, folds)) - min(map(len, folds)) <= 2


class WordCountEncoder:
    """A stand-in encoder a user might plug in: one dimension per letter count bucket."""

    name = "word-count"
    dim = 8

    def embed(self, texts: Sequence[str]) -> Vectors:
        rows = np.zeros((len(texts), self.dim), dtype=np.float32)
        for n, text in enumerate(texts):
            for word in text.split():
                rows[n, min(len(word), self.dim - 1)] += 1
        norms = np.linalg.norm(rows, axis=1, keepdims=True)
        return np.asarray(rows / np.where(norms > 0, norms, 1), dtype=np.float32)


WORD_COUNT_ENCODER = WordCountEncoder()


@pytest.mark.parametrize(
    "spec", ["tests.judge.test_judge:WordCountEncoder", "tests.judge.test_judge:WORD_COUNT_ENCODER"]
)
def test_a_plugged_encoder_is_a_class_or_an_instance(spec: str) -> None:
    encoder = load_encoder(spec)
    assert isinstance(encoder, WordCountEncoder)
    assert encoder.embed(["a bc"]).shape == (1, 8)


@pytest.mark.parametrize("spec", ["tests.nowhere:Encoder", "tests.judge.test_judge:CLAIMS", "none"])
def test_an_encoder_that_is_not_one_is_refused(spec: str) -> None:
    if spec == "none":
        assert load_encoder(spec) is None
        return
    with pytest.raises(EncoderUnavailableError):
        load_encoder(spec)
