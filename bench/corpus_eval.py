"""Run the whole monitor on a labelled corpus served on loopback and score it.

    python bench/corpus_eval.py [CORPUS.jsonl ...] [--shared ../shared/corpus] [--port 8765]

Starts `newsroom.py` (feeds, listing pages and article pages of the corpus), runs
`monitor run --once` in a fresh working directory with every article fetched, dumps
`monitor items --json` and `monitor flags --json`, and prints `score.py`'s figures. It also
checks that the stored article text of each item equals the corpus body (the GB18030 and Big5
pages included), and that outlets configured as page sources give the same items as their feeds.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SHARED = ROOT.parent / "shared" / "corpus"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(port: int, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    sys.exit(f"newsroom did not start on port {port}")


def monitor(workdir: Path, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "monitor", "--config", str(workdir / "config"), *args],
        cwd=workdir,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode not in (0, 1):
        sys.exit(f"monitor {' '.join(args)} failed ({done.returncode}):\n{done.stderr}")
    return done.stdout


def fold(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def run_workdir(base: Path, name: str, sources: str, article: str) -> Path:
    workdir = base / name
    (workdir / "config").mkdir(parents=True)
    (workdir / "config" / "sources.toml").write_text(sources, encoding="utf-8")
    (workdir / "config" / "monitor.toml").write_text(f'[poll]\narticle = "{article}"\n', encoding="utf-8")
    shutil.copy(ROOT / "config" / "claims.toml", workdir / "config" / "claims.toml")
    monitor(workdir, "run", "--once")
    return workdir


def page_sources(sources_toml: str, outlets: int) -> tuple[str, list[str]]:
    """The first `outlets` feed sources again, as page sources on their listing pages."""
    blocks = [b for b in sources_toml.split("[[source]]") if "url" in b][:outlets]
    ids = [re.search(r'id = "([^"]+)"', b)[1] for b in blocks]  # type: ignore[index]
    pages = [
        "[[source]]"
        + b.replace("/feeds/", "/pages/").replace(".xml", ".html").replace('kind = "feed"', 'kind = "page"')
        for b in blocks
    ]
    return "\n".join(pages), ids


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("corpus", nargs="*", type=Path)
    ap.add_argument("--shared", type=Path, default=DEFAULT_SHARED, help="folder of newsroom.py and score.py")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--pages", type=int, default=3, help="outlets to check as page sources")
    ap.add_argument("--keep", action="store_true", help="keep the working directory")
    args = ap.parse_args()
    corpus = args.corpus or [args.shared / "dev" / "items.jsonl"]
    port = args.port or free_port()
    base = Path(tempfile.mkdtemp(prefix="monitor-eval-"))
    sources_file = base / "sources.toml"
    server = subprocess.Popen(
        [
            sys.executable,
            str(args.shared / "newsroom.py"),
            *map(str, corpus),
            "--port",
            str(port),
            "--write-sources",
            str(sources_file),
            "--serve",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(port)
        sources = sources_file.read_text(encoding="utf-8")
        began = time.monotonic()
        workdir = run_workdir(base, "feeds", sources, "all")
        seconds = time.monotonic() - began
        (base / "items.json").write_text(monitor(workdir, "items", "--json"), encoding="utf-8")
        flags = monitor(workdir, "flags", "--json") if "flags" in monitor(workdir, "--help") else "[]"
        (base / "flags.json").write_text(flags or "[]", encoding="utf-8")
        score = subprocess.run(
            [
                sys.executable,
                str(args.shared / "score.py"),
                *map(str, corpus),
                "--items",
                str(base / "items.json"),
                "--flags",
                str(base / "flags.json"),
                "--json",
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        figures = json.loads(score.stdout)
        text_ok, text_total, wrong = check_texts(
            corpus, json.loads((base / "items.json").read_text(encoding="utf-8")), workdir
        )
        pages_same, page_ids = check_pages(base, sources, args.pages)
    finally:
        server.terminate()
        server.wait()
    print(f"corpus: {', '.join(map(str, corpus))}  ({figures['corpus_items']} items, run {seconds:.1f}s)")
    print(f"{'figure':22} value")
    for key, value in figures.items():
        if key not in ("per_claim", "corpus_items"):
            print(f"{key:22} {value}")
    print(f"{'article_text_exact':22} {text_ok}/{text_total}" + (f"  wrong: {', '.join(wrong[:8])}" if wrong else ""))
    print(f"{'pages_same_as_feeds':22} {pages_same} ({', '.join(page_ids)})")
    print("claim  gold flagged hit")
    for cid, c in figures["per_claim"].items():
        print(f"{cid:6} {c['gold']:4} {c['flagged']:7} {c['hit']:3}")
    if args.keep:
        print(f"kept: {base}")


def check_texts(corpus: list[Path], items: list[dict[str, object]], workdir: Path) -> tuple[int, int, list[str]]:
    """Each corpus body must be the stored article text, exactly (white space aside)."""
    import sqlite3

    gold = {}
    for path in corpus:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                g = json.loads(line)
                gold[g["id"]] = g
    with sqlite3.connect(workdir / "storage" / "monitor.db") as db:
        texts = dict(db.execute("select id, coalesce(text, '') from item").fetchall())
    ok, wrong = 0, []
    for item in items:
        m = re.search(r"/a/([^/?#]+)\.html", str(item.get("url")))
        if not m or m[1] not in gold:
            continue
        body = fold(str(gold[m[1]].get("body") or gold[m[1]]["summary"]))
        if body and body in fold(texts.get(item["id"], "")):
            ok += 1
        else:
            wrong.append(m[1])
    return ok, ok + len(wrong), wrong


def check_pages(base: Path, sources: str, outlets: int) -> tuple[bool, list[str]]:
    """Items of outlets read from their listing pages equal those read from their feeds."""
    pages, ids = page_sources(sources, outlets)
    workdir = run_workdir(base, "pages", pages, "never")
    page_items = json.loads(monitor(workdir, "items", "--json"))
    feed_items = [i for i in json.loads((base / "items.json").read_text(encoding="utf-8")) if i["source"] in ids]

    def key(i: dict[str, object]) -> tuple[object, ...]:
        return (i["source"], i["title"], str(i["published_at"])[:10], re.sub(r"\?.*", "", str(i["url"])))

    return sorted(map(key, page_items)) == sorted(map(key, feed_items)), ids


if __name__ == "__main__":
    main()
