"""The judge's commands: `judge fit` (refit the calibration) and `eval` (figures on labelled items)."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from monitor.cli.base import EXIT_FAILED, EXIT_OK, root, run_command
from monitor.cli.output import open_repository, print_json, topic_matcher
from monitor.config import Config, load_registry
from monitor.judge.judge import Judge
from monitor.judge.labels import LabelledItem, read_labelled
from monitor.pipeline.build import FITTED_FILE, build_judge, build_verifier, calibration_path
from monitor.pipeline.evaluate import DEFAULT_FOLDS, evaluate, fit
from monitor.records import StoredFlag

_SHOWN = (
    "relevant_recall",
    "offtopic_excluded",
    "dup_precision",
    "dup_recall",
    "story_precision",
    "story_recall",
    "flag_precision",
    "flag_recall",
    "relation_accuracy",
    "stance_accuracy",
    "negatives_clean",
)


@root.group("judge", help="the judge's calibration")
def judge_() -> None:
    pass


@judge_.command("fit", help="refit the calibration from reviews and labelled files")
@click.argument("gold", nargs=-1, type=click.Path(path_type=Path), metavar="GOLD.jsonl")
@click.option("--no-reviews", is_flag=True, help="leave the reviewed flags out")
@click.option("--folds", type=int, default=DEFAULT_FOLDS, show_default=True, help="cross-validation folds (by event)")
@click.option(
    "--output", type=click.Path(path_type=Path), help=f"where to write it (default: {FITTED_FILE} in the storage dir)"
)
@click.option("--force", is_flag=True, help="keep the new fit even if it scores worse")
@click.pass_context
def fit_(
    ctx: click.Context, gold: tuple[Path, ...], no_reviews: bool, folds: int, output: Path | None, force: bool
) -> None:
    """GOLD.jsonl: labelled items (corpus format)."""
    run_command(ctx, cmd_judge_fit, gold=list(gold), no_reviews=no_reviews, folds=folds, output=output, force=force)


@root.command("eval", help="relevance, dedupe and judge figures on labelled items")
@click.argument("gold", nargs=-1, required=True, type=click.Path(path_type=Path), metavar="GOLD.jsonl")
@click.option(
    "--claims",
    type=click.Path(path_type=Path),
    metavar="FILE",
    help="a claims.toml to judge with (default: the config's)",
)
@click.option("--folds", type=int, help="also report figures cross-validated over N folds (by event)")
@click.option("--cross-language", is_flag=True, help="score story pairs across languages too")
@click.option(
    "--verifier",
    is_flag=True,
    help="also ask the verifier of [judge.verifier] about the judge's candidates (every one: no budget)",
)
@click.option("--json", "json_", is_flag=True)
@click.pass_context
def eval_(
    ctx: click.Context,
    gold: tuple[Path, ...],
    claims: Path | None,
    folds: int | None,
    cross_language: bool,
    verifier: bool,
    json_: bool,
) -> None:
    params = {"gold": list(gold), "claims": claims, "folds": folds, "cross_language": cross_language}
    run_command(ctx, cmd_eval, **params, verifier=verifier, json=json_)


def _judge_for(config: Config, claims: Path | None) -> Judge:
    judge = build_judge(config)
    if claims is not None:
        judge = Judge(load_registry(claims), judge.encoder, judge.calibration, embed_budget=judge.embed_budget)
    return judge


def cmd_eval(args: argparse.Namespace, config: Config) -> int:
    judge = _judge_for(config, args.claims)
    items = read_labelled(args.gold)
    topic = topic_matcher(config, judge.registry)
    verifier = None
    if args.verifier:
        verifier = build_verifier(config)
        if verifier is None:
            print('error: --verifier: no verifier is configured ([judge.verifier] kind = "openai")', file=sys.stderr)
            return EXIT_FAILED
    with verifier or contextlib.nullcontext():
        result = evaluate(items, judge, topic, folds=args.folds, cross_language=args.cross_language, verifier=verifier)
    doc = {
        "items": len(items),
        "judged": result.judged,
        "encoder": judge.encoder_name,
        "calibration": str(calibration_path(config) or "shipped"),
        "fitted": result.fitted,
        "cross_validated": result.cross_validated,
    }
    if result.verified is not None and verifier is not None:
        doc["verified"] = result.verified
        doc["verifier"] = {"model": verifier.model, **dataclasses.asdict(result.verifier or verifier.report())}
    if args.json:
        print_json(doc)
        return EXIT_OK
    print(f"{len(items)} labelled items, {result.judged} judged (relevant originals); encoder {judge.encoder_name}")
    print(f"calibration: {doc['calibration']}")
    columns = ["with this calibration"] + (["cross-validated"] if result.cross_validated else [])
    columns += ["verified"] if result.verified is not None else []
    print(f"{'figure':20} " + " ".join(f"{c:>22}" for c in columns))
    for key in _SHOWN:
        values = [result.fitted.get(key)] + ([result.cross_validated.get(key)] if result.cross_validated else [])
        values += [result.verified.get(key)] if result.verified is not None else []
        print(f"{key:20} " + " ".join(f"{_show(v):>22}" for v in values))
    if result.verifier is not None and verifier is not None:
        v = result.verifier
        print(
            f"verifier {verifier.model}: {v.calls} calls, {v.tokens} tokens, {v.seconds:.1f}s; "
            f"{v.invalid} unusable answers, {v.errors} failed calls, {v.left} questions not asked"
            + (f" (stopped: {v.stopped})" if v.stopped else "")
        )
    for family, scores in result.fitted["per_language"].items():
        print(f"  {family}: P {_show(scores['flag_precision'])} R {_show(scores['flag_recall'])}")
    print("claim  gold flagged hit")
    for claim_id, c in result.fitted["per_claim"].items():
        print(f"{claim_id:6} {c['gold']:4} {c['flagged']:7} {c['hit']:3}")
    return EXIT_OK


def _show(value: object) -> str:
    return "-" if value is None else str(value)


def cmd_judge_fit(args: argparse.Namespace, config: Config) -> int:
    judge = build_judge(config, calibrated=False)
    if judge.encoder is None:  # the full model needs the sentence vectors
        print("error: fitting needs the encoder ([judge] encoder): the calibration serves both", file=sys.stderr)
        return EXIT_FAILED
    items = read_labelled(args.gold) if args.gold else []
    reviewed = [] if args.no_reviews else reviewed_items(open_repository(config).list_flags())
    if not items and not reviewed:
        print("error: nothing to fit on: no labelled file given and no reviewed flag", file=sys.stderr)
        return EXIT_FAILED
    described = {
        "files": [str(p) for p in args.gold],
        "reviewed_items": len(reviewed),
        "labelled_items": len(items),
        "encoder": judge.encoder_name,
        "fitted_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    result = fit(
        judge, [*items, *reviewed], topic_matcher(config, judge.registry), folds=args.folds, described=described
    )
    print(f"fitted on {len(items)} labelled and {len(reviewed)} reviewed items ({args.folds}-fold, by event):")
    print(f"  new fit, cross-validated: {_line(result.new_score)}")
    print(f"  calibration in force:     {_line(result.previous_score) if judge.calibrated else 'none usable'}")
    if result.worse and not args.force:
        print("the new fit scores worse than the calibration in force: kept the calibration in force")
        return EXIT_OK
    output = args.output or config.storage_dir / FITTED_FILE
    write_calibration(output, result.calibration.dumps())
    print(f"wrote {output}")
    return EXIT_OK


def _line(score: dict[str, Any]) -> str:
    return (
        f"P {_show(score['flag_precision'])} R {_show(score['flag_recall'])} "
        f"stance {_show(score['stance_accuracy'])} negatives clean {_show(score['negatives_clean'])}"
    )


def write_calibration(path: Path, text: str) -> None:
    """Write atomically; the file it replaces stays beside it as `*.previous.json` (a rollback)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        path.replace(path.with_suffix(".previous.json"))
    temporary = path.with_suffix(".tmp")
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(path)


def reviewed_items(flags: Sequence[StoredFlag]) -> list[LabelledItem]:
    """The reviewed flags as labelled items: confirmed ones are the item's claims (with their
    relation); an item whose flags were all dismissed bears on none."""
    by_item: dict[int, list[StoredFlag]] = {}
    for flag in flags:
        if flag.state in ("confirmed", "dismissed"):
            by_item.setdefault(flag.item.id, []).append(flag)
    items = []
    for reviewed in by_item.values():
        item = reviewed[0].item
        claims = {f.claim_id: f.relation for f in reviewed if f.state == "confirmed"}
        items.append(
            LabelledItem(
                id=f"item-{item.id}",
                title=item.title,
                summary=item.summary,
                body=item.text or "",
                published=item.published_at.date(),
                lang=item.lang,
                claims=claims,
                event=f"story-{item.story_id}" if item.story_id is not None else None,
                negative=not claims,
            )
        )
    return items
