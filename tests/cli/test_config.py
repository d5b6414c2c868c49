"""Config loading: typed models, and one clear line per mistake naming file, line, entry and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.config import load_config, resolve_config_dir
from monitor.errors import ConfigError
from tests.conftest import Workspace

GOOD = '[[source]]\nid = "wire"\nurl = "https://example.org/feed.xml"\nkind = "feed"\nlang = "en"\ninterval = 600\n'


def test_shipped_config_is_valid() -> None:
    config = load_config(Path(__file__).parents[2] / "config", env={})
    assert len(config.sources) >= 10
    assert {s.lang for s in config.sources} >= {"en", "zh-Hans", "zh-Hant"}
    assert [c.id for c in config.registry.claims] == [f"C{n:02d}" for n in range(1, 25)]


@pytest.mark.sqlite_only
def test_defaults_and_overrides(workspace: Workspace) -> None:
    workspace.write("sources.toml", GOOD)
    config = load_config(workspace.config, env={})
    assert config.sources[0].interval == 600
    assert config.database_url == f"sqlite:///{workspace.root / 'storage' / 'monitor.db'}"
    assert config.digest_dir == workspace.root / "storage" / "digests"
    override = load_config(workspace.config, env={"MONITOR_DATABASE_URL": "sqlite:////tmp/x.db"})
    assert override.database_url == "sqlite:////tmp/x.db"


def test_config_dir_from_argument_environment_or_default() -> None:
    assert resolve_config_dir("a", {"MONITOR_CONFIG": "b"}) == Path("a")
    assert resolve_config_dir(None, {"MONITOR_CONFIG": "b"}) == Path("b")
    assert resolve_config_dir(None, {}) == Path("config")


CASES = [
    # (file, text, expected fragments of the one-line message)
    ("sources.toml", GOOD + "colour = 'red'\n", ["sources.toml:7", "[wire]", "colour", "unknown key"]),
    ("sources.toml", GOOD + "\n" + GOOD, ["sources.toml:9", "[wire]", "id:", "duplicate id"]),
    (
        "sources.toml",
        '[[source]]\nid = "x"\nkind = "feed"\n',
        ["sources.toml:1", "[x]", "url:", "required key is missing"],
    ),
    ("sources.toml", GOOD.replace('"feed"', '"podcast"'), ["sources.toml:4", "[wire]", "kind:", "'podcast'"]),
    ("sources.toml", GOOD.replace("https://", "ftp://"), ["sources.toml:3", "url:", "http:// or https://"]),
    ("sources.toml", GOOD.replace("interval = 600", "interval = 0"), ["sources.toml:6", "interval:", "equal to 1"]),
    ("sources.toml", GOOD.replace('id = "wire"', 'id = "Wire Feed"'), ["sources.toml:2", "id:"]),
    ("sources.toml", GOOD.replace('kind = "feed"', 'kind = "feed'), ["sources.toml:4", "invalid TOML"]),
    ("sources.toml", "[source]\nid = 'x'\n", ["sources.toml", "must be an array of tables"]),
    ("sources.toml", "title = 'x'\n" + GOOD, ["sources.toml:1", "title:", "unknown top-level key"]),
    ("monitor.toml", "[http]\ntimeout = 10\nretries = 3\n", ["monitor.toml:3", "http.retries", "unknown key"]),
    ("monitor.toml", "[htp]\ntimeout = 10\n", ["monitor.toml:1", "htp", "unknown key"]),
    ("monitor.toml", "[http]\nper_host = 0\n", ["monitor.toml:2", "http.per_host", "greater than or equal to 1"]),
    (
        "monitor.toml",
        "[digest]\ndir = '../../etc'\n",
        ["monitor.toml:2", "digest.dir", "outside the storage directory"],
    ),
    (
        "claims.toml",
        '[[article]]\nid = "a"\n[[article.claim]]\nid = "C01"\ntext = "x"\n\n'
        '[[article.claim]]\nid = "C01"\ntext = "y"\n',
        ["claims.toml:8", "[C01]", "duplicate claim id"],
    ),
    (
        "claims.toml",
        '[[article]]\nid = "a"\n[[article.claim]]\nid = "C01"\ntext = "x"\nstatment = "typo"\n',
        ["claims.toml:6", "[C01]", "statment", "unknown key"],
    ),
]


@pytest.mark.parametrize(("name", "text", "fragments"), CASES)
def test_mistakes_give_one_clear_line(workspace: Workspace, name: str, text: str, fragments: list[str]) -> None:
    if name != "sources.toml":
        workspace.write("sources.toml", GOOD)
    workspace.write(name, text)
    with pytest.raises(ConfigError) as caught:
        load_config(workspace.config, env={})
    message = str(caught.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, message


def test_missing_sources_file_and_directory(workspace: Workspace, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"sources.toml: file not found"):
        load_config(workspace.config, env={})
    with pytest.raises(ConfigError, match="config directory not found"):
        load_config(tmp_path / "nope", env={})


def test_non_utf8_file_is_a_config_error(workspace: Workspace) -> None:
    (workspace.config / "sources.toml").write_bytes("# 來源\n".encode("big5"))
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(workspace.config, env={})


def test_topic_mistakes_name_the_line(workspace: Workspace) -> None:
    workspace.write("sources.toml", GOOD)
    group = '[[topic.group]]\nname = "{}"\nkind = "{}"\nterms = ["{}"]\n'
    text = "[topic]\nmin_strong = 1\n\n" + group.format("x", "strong", "a") + "\n" + group.format("y", "loud", "b")
    workspace.write("monitor.toml", text)
    with pytest.raises(ConfigError) as caught:
        load_config(workspace.config, env={})
    assert "monitor.toml:11" in str(caught.value) and "topic.group.1.kind" in str(caught.value)


def test_topic_defaults_to_the_built_in_one(workspace: Workspace) -> None:
    from monitor.keep.default_topic import DEFAULT_TOPIC

    workspace.write("sources.toml", GOOD)
    assert load_config(workspace.config, env={}).topic == DEFAULT_TOPIC
