"""The nltk layout built from Debian's WordNet files: lexnames, errors, atomic and reused builds."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from unibind_plugin_wordnet.layout import (
    LEXNAMES,
    REQUIRED_FILES,
    WordNetMissingError,
    check_wordnet_dir,
    lexnames_text,
    prepare_layout,
)
from unibind_plugin_wordnet.settings import DEBIAN_WORDNET_DIR, WordNetSettings

_POS_OF_FILE = {"noun": "noun", "verb": "verb", "adj": "adj", "adv": "adv"}


def test_generated_lexnames_fit_every_entry_of_the_database() -> None:
    """Each synset's lexicographer-file number names a file of its own part of speech."""
    lines = lexnames_text().splitlines()
    assert len(lines) == len(LEXNAMES) == 45 and lines[5] == "05\tnoun.animal\t1"
    for pos in _POS_OF_FILE:
        seen = set()
        with open(DEBIAN_WORDNET_DIR / f"data.{pos}", encoding="utf-8") as fh:
            for line in fh:
                if not line.startswith("  "):  # the licence header starts with two spaces
                    seen.add(int(line.split(" ", 2)[1]))
        names = {LEXNAMES[number].split(".")[0] for number in seen}
        assert names == {_POS_OF_FILE[pos]}, f"data.{pos} uses lexicographer files of {names}"


def test_reader_names_lexicographer_files(wn) -> None:
    assert wn.synset("dog.n.01").lexname() == "noun.animal"
    assert wn.synset("run.v.01").lexname() == "verb.motion"
    assert wn.get_version() == "3.0"


def test_missing_directory_names_it_and_the_debian_package(tmp_path: Path) -> None:
    from unibind_plugin_wordnet.source import WordNetSource

    missing = tmp_path / "no-wordnet"
    with pytest.raises(WordNetMissingError, match="wordnet-base") as info:
        WordNetSource(WordNetSettings(wordnet_dir=missing))
    assert str(missing) in str(info.value)


def test_incomplete_directory_lists_what_is_missing(tmp_path: Path) -> None:
    shutil.copyfile(DEBIAN_WORDNET_DIR / "index.noun", tmp_path / "index.noun")
    with pytest.raises(WordNetMissingError) as info:
        check_wordnet_dir(tmp_path)
    message = str(info.value)
    assert str(tmp_path) in message and "data.noun" in message and "index.noun," not in message


def test_layout_is_built_once_and_reused(tmp_path: Path) -> None:
    root = prepare_layout(DEBIAN_WORDNET_DIR, cache=tmp_path)
    corpus = root / "corpora" / "wordnet"
    assert sorted(p.name for p in corpus.iterdir()) == sorted([*REQUIRED_FILES, "lexnames", "SOURCE"])
    assert not any(p.is_symlink() or p.stat().st_nlink > 1 for p in corpus.iterdir())  # nltk refuses links
    stamp = (corpus / "lexnames").stat().st_mtime_ns
    assert prepare_layout(DEBIAN_WORDNET_DIR, cache=tmp_path) == root
    assert (corpus / "lexnames").stat().st_mtime_ns == stamp
    assert [p.name for p in (tmp_path / "wordnet").iterdir()] == [root.name], "no second copy"


def test_a_killed_build_leaves_nothing_that_counts_and_is_cleaned_up(tmp_path: Path) -> None:
    root = prepare_layout(DEBIAN_WORDNET_DIR, cache=tmp_path)
    shutil.rmtree(root)
    leftover = tmp_path / "wordnet" / f".tmp-{root.name}-killed"
    (leftover / "corpora" / "wordnet").mkdir(parents=True)
    (leftover / "corpora" / "wordnet" / "data.noun").write_text("half a file")
    old = time.time() - 3600
    os.utime(leftover, (old, old))
    assert prepare_layout(DEBIAN_WORDNET_DIR, cache=tmp_path) == root
    assert (root / "corpora" / "wordnet" / "lexnames").is_file() and not leftover.exists()


def test_another_wordnet_directory_gets_its_own_layout(tmp_path: Path) -> None:
    other = tmp_path / "my-wordnet"
    other.mkdir()
    for name in REQUIRED_FILES:
        shutil.copyfile(DEBIAN_WORDNET_DIR / name, other / name)
    debian = prepare_layout(DEBIAN_WORDNET_DIR, cache=tmp_path / "cache")
    mine = prepare_layout(other, cache=tmp_path / "cache")
    assert mine != debian
    assert (mine / "corpora" / "wordnet" / "SOURCE").read_text().strip() == str(other.resolve())
