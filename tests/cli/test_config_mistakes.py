"""Bad config and bad claims files, beyond tests/cli/test_config.py: every mistake gives one line
naming the file (and line), the entry and the key; the CLI exits 2 with that line and nothing
else, and writes nothing: a database that exists is left byte for byte as it was."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from monitor.cli import main
from monitor.config import load_config
from monitor.errors import ConfigError
from monitor.storage import SqlRepository, open_database
from tests.conftest import Workspace

GOOD = '[[source]]\nid = "wire"\nurl = "https://example.org/feed.xml"\nkind = "feed"\nlang = "en"\ninterval = 600\n'
PAGE = GOOD.replace('"feed"', '"page"') + "\n[source.selectors]\n"
CLAIMS = '[[article]]\nid = "a1"\npublished = "2025-07-22"\n\n[[article.claim]]\nid = "C01"\ntext = "x"\n'

# (file, text, fragments the one line must hold). The line number points at the key where the
# key is on a line of its own, else at the entry's table header.
CASES = [
    ("sources.toml", GOOD.replace('id = "wire"\n', ""), ["sources.toml:1", "[source #1]", "id:", "required"]),
    ("sources.toml", GOOD.replace('"wire"', "123"), ["sources.toml:2", "[source #1]", "id:", "valid string"]),
    ("sources.toml", GOOD.replace("https://", ""), ["sources.toml:3", "[wire]", "url:", "http:// or https://"]),
    (
        "sources.toml",
        GOOD.replace("https://example.org/feed.xml", "javascript:alert(1)"),
        ["sources.toml:3", "[wire]", "url:", "'javascript:alert(1)'"],
    ),
    ("sources.toml", GOOD.replace('kind = "feed"\n', ""), ["sources.toml:1", "[wire]", "kind:", "required"]),
    # URLs that used to pass the load and fail at every poll with a traceback or "internal error"
    ("sources.toml", GOOD.replace("example.org/feed.xml", "[::1"), ["sources.toml:3", "[wire]", "url:", "IPv6"]),
    (
        "sources.toml",
        GOOD.replace("example.org/", "example.org:99999/"),
        ["sources.toml:3", "[wire]", "url:", "out of range"],
    ),
    ("sources.toml", GOOD.replace("example.org/feed.xml", ""), ["sources.toml:3", "[wire]", "url:", "no host"]),
    (
        "sources.toml",
        GOOD.replace("example.org/", "example.org:http/"),
        ["sources.toml:3", "[wire]", "url:", "not a valid URL"],
    ),
    (
        "monitor.toml",
        '[database]\nurl = "postgresql://u@db:port/monitor"\n',
        ["monitor.toml:2", "database.url:", "port is not a number"],
    ),
    (
        "monitor.toml",
        '[database]\nurl = "postgresql://u@db:99999/monitor"\n',
        ["monitor.toml:2", "database.url:", "out of range"],
    ),
    (
        "monitor.toml",
        '[email]\nhost = "smtp://mail.example.org:587"\nsender = "a@example.org"\nrecipients = ["b@example.org"]\n',
        ["monitor.toml:2", "email.host:", "not a host name"],
    ),
    (
        "monitor.toml",
        '[email]\nhost = "mail.example.org:587"\nsender = "a@example.org"\nrecipients = ["b@example.org"]\n',
        ["monitor.toml:2", "email.host:", "no scheme, port or path"],
    ),
    ("sources.toml", GOOD.replace('"en"', '"fr"'), ["sources.toml:5", "[wire]", "lang:", "'fr'"]),
    ("sources.toml", GOOD.replace("600", "-5"), ["sources.toml:6", "[wire]", "interval:", "-5"]),
    ("sources.toml", GOOD.replace("600", "'often'"), ["sources.toml:6", "[wire]", "interval:", "'often'"]),
    ("sources.toml", GOOD + 'article = "some"\n', ["sources.toml:7", "[wire]", "article:", "'some'"]),
    ("sources.toml", GOOD + 'enabled = "sometimes"\n', ["sources.toml:7", "[wire]", "enabled:", "boolean"]),
    ("sources.toml", PAGE + 'item = "li[["\n', ["sources.toml", "[wire]", "selectors.item:", "invalid CSS"]),
    ("sources.toml", PAGE + 'items = "li"\n', ["sources.toml", "[wire]", "selectors.items:", "unknown key"]),
    (
        "sources.toml",
        PAGE + 'date_format = "YYYY-MM-DD"\n',
        ["sources.toml", "[wire]", "selectors.date_format:", "strptime"],
    ),
    ("sources.toml", GOOD + 'id = "again"\n', ["sources.toml:7", "invalid TOML"]),
    ("sources.toml", GOOD.replace('"en"', '"en'), ["sources.toml:5", "invalid TOML"]),
    ("sources.toml", "\ufeff" + GOOD, ["sources.toml:1", "invalid TOML"]),
    ("sources.toml", 'source = "x"\n', ["sources.toml", "source:", "array of tables"]),
    (
        "sources.toml",
        GOOD + "\n" + GOOD.replace('"wire"', '"wire2"').replace('"en"', '"de"'),
        ["sources.toml:12", "[wire2]", "lang:", "'de'"],
    ),
    ("monitor.toml", "[http]\ntimeout = 0\n", ["monitor.toml:2", "http.timeout:", "greater than 0"]),
    ("monitor.toml", '[http]\ntimeout = "fast"\n', ["monitor.toml:2", "http.timeout:", "'fast'"]),
    ("monitor.toml", "[http]\nmax_bytes = 10\n", ["monitor.toml:2", "http.max_bytes:", "1024"]),
    ("monitor.toml", "[http]\nmax_redirects = 50\n", ["monitor.toml:2", "http.max_redirects:", "20"]),
    ("monitor.toml", "[poll]\nfuture_tolerance = -1\n", ["monitor.toml:2", "poll.future_tolerance:", "-1"]),
    ("monitor.toml", '[poll]\narticle = "x"\n', ["monitor.toml:2", "poll.article:", "'x'"]),
    ("monitor.toml", "[database]\nurl = 5\n", ["monitor.toml:2", "database.url:", "valid string"]),
    ("monitor.toml", '[database]\npath = "x"\n', ["monitor.toml:2", "database.path:", "unknown key"]),
    ("monitor.toml", '[database]\nurl = "nonsense"\n', ["monitor.toml:2", "database.url:", "not a SQLAlchemy URL"]),
    (
        "monitor.toml",
        '[database]\nurl = "oracle+nope://u:secret@h/db"\n',
        ["monitor.toml:2", "database.url:", "unknown database kind 'oracle+nope'"],
    ),
    (
        "monitor.toml",
        '[database]\nurl = "sqlite:////tmp/elsewhere.db"\n',
        ["monitor.toml:2", "database.url:", "outside the storage directory"],
    ),
    (
        "monitor.toml",
        '[database]\nurl = "sqlite:///storage/../../x.db"\n',
        ["monitor.toml:2", "database.url:", "outside the storage directory"],
    ),
    ("monitor.toml", "[storage]\ndir = 5\n", ["monitor.toml:2", "storage.dir:", "valid string"]),
    ("monitor.toml", '[digest]\ndir = "/etc"\n', ["monitor.toml:2", "digest.dir:", "outside the storage directory"]),
    (
        "monitor.toml",
        '[digest]\ndir = "a/../../.."\n',
        ["monitor.toml:2", "digest.dir:", "outside the storage directory"],
    ),
    ("monitor.toml", "debug = true\n", ["monitor.toml:1", "debug:", "unknown key"]),
    ("monitor.toml", "[[http]]\ntimeout = 1\n", ["monitor.toml:1", "http:", "dictionary"]),
    ("monitor.toml", '[topic]\nmin_strong = "x"\n', ["monitor.toml:2", "topic.min_strong:", "'x'"]),
    ("monitor.toml", "[http]\ntimeout = 1\n[http]\ntimeout = 2\n", ["monitor.toml:3", "invalid TOML"]),
    ("claims.toml", CLAIMS.replace('id = "C01"\n', ""), ["claims.toml:5", "[a1 claim #1]", "id:", "required"]),
    ("claims.toml", CLAIMS.replace('"C01"', '"C 01"'), ["claims.toml:6", "[C 01]", "id:", "pattern"]),
    ("claims.toml", CLAIMS + 'statment = "typo"\n', ["claims.toml:8", "[C01]", "statment:", "unknown key"]),
    ("claims.toml", CLAIMS.replace('text = "x"', 'text = " "'), ["claims.toml:7", "[C01]", "text:", "blank"]),
    (
        "claims.toml",
        CLAIMS.replace("2025-07-22", "2025-13-01"),
        ["claims.toml:3", "[a1]", "published:", "'2025-13-01'"],
    ),
    (
        "claims.toml",
        CLAIMS.replace('published = "2025-07-22"', 'language = "fr"'),
        ["claims.toml:3", "[a1]", "language:", "'fr'"],
    ),
    ("claims.toml", CLAIMS.replace("published", "date"), ["claims.toml:3", "[a1]", "date:", "unknown key"]),
    (
        "claims.toml",
        CLAIMS.replace('published = "2025-07-22"', 'text = "articles/none.txt"'),
        ["claims.toml:3", "[a1]", "text:", "none.txt", "cannot be read"],
    ),
    ("claims.toml", "claims = 1\n" + CLAIMS, ["claims.toml:1", "claims:", "unknown top-level key"]),
    ("claims.toml", 'article = "x"\n', ["claims.toml", "article:", "array of tables"]),
    ("claims.toml", '[[claim]]\nid = "C01"\n', ["claims.toml:1", "claim:", "[[article.claim]]"]),
    (
        "claims.toml",
        CLAIMS + '\n[[article]]\nid = "a2"\n\n[[article.claim]]\nid = "C01"\ntext = "y"\n',
        ["claims.toml:13", "[C01]", "id:", "already a claim of article 'a1'"],
    ),
]
IDS = [f"{name}:{n}" for n, (name, _text, _f) in enumerate(CASES)]


def write_case(workspace: Workspace, name: str, text: str) -> None:
    if name != "sources.toml":
        workspace.write("sources.toml", GOOD)
    workspace.write(name, text)


def storage_state(root: Path) -> dict[str, str]:
    """Every file under storage/, by content."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted((root / "storage").rglob("*"))
        if p.is_file()
    }


@pytest.mark.parametrize(("name", "text", "fragments"), CASES, ids=IDS)
def test_each_mistake_is_one_line_naming_file_entry_and_key(
    workspace: Workspace, name: str, text: str, fragments: list[str]
) -> None:
    write_case(workspace, name, text)
    with pytest.raises(ConfigError) as caught:
        load_config(workspace.config, env={})
    message = str(caught.value)
    assert "\n" not in message and len(message) < 400, message
    for fragment in fragments:
        assert fragment in message, message
    assert "secret" not in message  # a password in a database URL is never repeated


@pytest.mark.sqlite_only
@pytest.mark.parametrize(("name", "text", "fragments"), CASES, ids=IDS)
def test_the_cli_says_it_in_one_line_and_writes_nothing(
    workspace: Workspace, capsys: pytest.CaptureFixture[str], name: str, text: str, fragments: list[str]
) -> None:
    workspace.write("sources.toml", GOOD)
    engine = open_database(f"sqlite:///{workspace.database}")
    SqlRepository(engine).sync_sources(load_config(workspace.config, env={}).sources)
    engine.dispose()
    before = storage_state(workspace.root)
    write_case(workspace, name, text)
    for argv in (["run", "--once"], ["digest"], ["sources"], ["items"]):
        capsys.readouterr()
        assert main(argv) == 2
        captured = capsys.readouterr()
        assert captured.out == ""
        lines = captured.err.splitlines()
        assert len(lines) == 1 and lines[0].startswith("config error: "), captured.err
        assert fragments[0] in lines[0]
    assert storage_state(workspace.root) == before


def test_nothing_is_created_before_the_config_is_valid(workspace: Workspace) -> None:
    workspace.write("sources.toml", GOOD.replace('"en"', '"fr"'))
    assert main(["run", "--once"]) == 2
    assert list((workspace.root / "storage").iterdir()) == []


def test_a_bad_database_url_in_the_environment_names_the_variable(
    workspace: Workspace, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    workspace.write("sources.toml", GOOD)
    monkeypatch.setenv("MONITOR_DATABASE_URL", "postgresql+nodriver://user:secret@db/monitor")
    assert main(["run", "--once"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("config error: MONITOR_DATABASE_URL: ") and err.count("\n") == 1, err
    assert "secret" not in err


@pytest.mark.skipif(os.name != "posix", reason="symbolic links")
def test_a_digest_dir_that_links_outside_the_storage_is_refused(workspace: Workspace, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (workspace.root / "storage" / "digests").symlink_to(outside)
    workspace.write("sources.toml", GOOD)
    with pytest.raises(ConfigError, match=r"digest\.dir: 'digests' is outside the storage directory"):
        load_config(workspace.config, env={})
    workspace.write("monitor.toml", '[digest]\ndir = "daily/../reports"\n')
    assert load_config(workspace.config, env={}).digest_dir == workspace.root / "storage" / "reports"
