"""Run the whole monitor on a labelled corpus served on loopback and score it.

    python bench/corpus_eval.py [CORPUS.jsonl ...] [--shared ../shared/corpus] [--port 8765]

Starts `newsroom.py` (feeds, listing pages and article pages of the corpus), runs
`monitor run --once` in a fresh working directory with every article fetched, dumps
`monitor items --json` and `monitor flags --json`, and prints `score.py`'s figures. It also
checks that the stored article text of each item equals the corpus body (the GB18030 and Big5
pages included), and that outlets configured as page sources give the same items as their feeds.

The `run --once` is measured: wall time, and its peak memory (target: < 350 MB), sampled every
50 ms from here with psutil: the sum of RSS over the monitor's process and its children (the
parse workers), the largest such sum, and the monitor's own peak (its `VmHWM`, read from /proc
at every sample: exact, whatever the sampling misses).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SHARED = ROOT.parent / "shared" / "corpus"
MEMORY_TARGET_MB = 350


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


@dataclass
class Peak:
    """The memory of one monitor command: MB."""

    tree: float = 0.0  # the largest sum of RSS over the process and its children, sampled
    main: float = 0.0  # the process's own peak (VmHWM)
    processes: int = 1  # the most processes seen at once
    seconds: float = 0.0  # wall time of the command
    at: float = 0.0  # seconds after the start when the tree's peak was sampled
    main_then: float = 0.0  # the process's RSS at the tree's peak (the rest: its children)
    main_rss: float = 0.0  # the process's largest RSS sampled
    main_at: float = 0.0  # and when


def vm_hwm_mb(status: Path) -> float:
    """A process's peak RSS from its /proc status (0 once it has exited)."""
    with contextlib.suppress(OSError, ValueError):
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def monitor_measured(workdir: Path, *args: str, every: float = 0.05) -> tuple[str, Peak]:
    """`monitor(...)`, its memory sampled from this process (see the module docstring)."""
    import psutil  # type: ignore[import-untyped]  # the bench extra

    peak = Peak()
    began = time.monotonic()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        child = subprocess.Popen(
            [sys.executable, "-m", "monitor", "--config", str(workdir / "config"), *args],
            cwd=workdir,
            stdout=out,
            stderr=err,
            text=True,
        )
        process = psutil.Process(child.pid)
        status = Path(f"/proc/{child.pid}/status")
        while child.poll() is None:
            total, count, main = 0, 0, 0
            with contextlib.suppress(psutil.Error):
                for p in [process, *process.children(recursive=True)]:
                    with contextlib.suppress(psutil.Error):
                        rss = p.memory_info().rss
                        total, count = total + rss, count + 1
                        main = rss if p is process else main
            peak.main = max(peak.main, vm_hwm_mb(status))
            now = time.monotonic() - began
            if total / 2**20 > peak.tree:
                peak.tree, peak.at, peak.main_then = total / 2**20, now, main / 2**20
            if main / 2**20 > peak.main_rss:
                peak.main_rss, peak.main_at = main / 2**20, now
            peak.processes = max(peak.processes, count)
            time.sleep(every)
        peak.seconds = time.monotonic() - began
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if child.returncode not in (0, 1):
        sys.exit(f"monitor {' '.join(args)} failed ({child.returncode}):\n{stderr[-3000:]}")
    return stdout, peak


def fold(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def run_workdir(base: Path, name: str, sources: str, article: str) -> tuple[Path, Peak]:
    """A fresh working directory with these sources, and `monitor run --once` in it (measured).
    The shipped claims and calibration (the stand-in while the shipped one does not fit the
    judge: `bench.judging`)."""
    sys.path.insert(0, str(ROOT))
    from bench.judging import pin_calibration

    workdir = base / name
    config = workdir / "config"
    config.mkdir(parents=True)
    (config / "sources.toml").write_text(sources, encoding="utf-8")
    judge = pin_calibration(config)
    settings = f'[poll]\narticle = "{article}"\n' + (f"\n[judge]\n{judge}" if judge else "")
    (config / "monitor.toml").write_text(settings, encoding="utf-8")
    if judge:
        print("warning: the shipped calibration does not fit the judge; a stand-in is used", file=sys.stderr)
    shutil.copy(ROOT / "config" / "claims.toml", config / "claims.toml")
    shutil.copytree(ROOT / "config" / "articles", config / "articles")  # the texts it names
    _out, peak = monitor_measured(workdir, "run", "--once")
    return workdir, peak


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
        workdir, peak = run_workdir(base, "feeds", sources, "all")
        seconds = peak.seconds
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
    met = "yes" if peak.tree < MEMORY_TARGET_MB else "NO"
    print(
        f"{'run_once_peak_rss_mb':22} {peak.tree:.0f} (target < {MEMORY_TARGET_MB}: {met}; the process and its "
        f"children, sampled every 50 ms: at {peak.at:.1f} s of {peak.seconds:.1f} s, the monitor's process "
        f"{peak.main_then:.0f} MB + children {peak.tree - peak.main_then:.0f} MB; up to {peak.processes} processes)"
    )
    print(
        f"{'run_once_main_peak_mb':22} {peak.main:.0f} (the monitor's process alone, VmHWM; sampled: "
        f"{peak.main_rss:.0f} MB at {peak.main_at:.1f} s)"
    )
    print("claim  gold flagged hit")
    for cid, c in figures["per_claim"].items():
        print(f"{cid:6} {c['gold']:4} {c['flagged']:7} {c['hit']:3}")
    if args.keep:
        print(f"kept: {base}")
    else:
        shutil.rmtree(base, ignore_errors=True)


def check_texts(corpus: list[Path], items: list[dict[str, object]], workdir: Path) -> tuple[int, int, list[str]]:
    """Each corpus body must be the stored article text, exactly (white space aside): no headline
    in front, no dateline, nothing of the page around it. An exact copy of an item stored before
    (same content) has its article never fetched: it is left out of the count."""
    import sqlite3

    gold = {}
    for path in corpus:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                g = json.loads(line)
                gold[g["id"]] = g
    with sqlite3.connect(workdir / "storage" / "monitor.db") as db:
        texts = dict(db.execute("select id, coalesce(text, '') from item").fetchall())
        unfetched = "select id from item where article_status is null and duplicate_of is not null"
        copies = {i for (i,) in db.execute(unfetched)}
    ok, wrong = 0, []
    for item in items:
        m = re.search(r"/a/([^/?#]+)\.html", str(item.get("url")))
        if not m or m[1] not in gold or item["id"] in copies:
            continue
        body = fold(str(gold[m[1]].get("body") or gold[m[1]]["summary"]))
        if body and body == fold(texts.get(item["id"], "")):
            ok += 1
        else:
            wrong.append(m[1])
    return ok, ok + len(wrong), wrong


def check_pages(base: Path, sources: str, outlets: int) -> tuple[bool, list[str]]:
    """Items of outlets read from their listing pages equal those read from their feeds."""
    pages, ids = page_sources(sources, outlets)
    workdir, _peak = run_workdir(base, "pages", pages, "never")
    page_items = json.loads(monitor(workdir, "items", "--json"))
    feed_items = [i for i in json.loads((base / "items.json").read_text(encoding="utf-8")) if i["source"] in ids]

    def key(i: dict[str, object]) -> tuple[object, ...]:
        return (i["source"], i["title"], str(i["published_at"])[:10], re.sub(r"\?.*", "", str(i["url"])))

    return sorted(map(key, page_items)) == sorted(map(key, feed_items)), ids


if __name__ == "__main__":
    main()
