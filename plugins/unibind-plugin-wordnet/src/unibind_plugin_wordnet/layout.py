"""WordNet on disk: check a database directory and give nltk the layout it reads.

nltk's ``WordNetCorpusReader`` wants a directory holding the database files
plus a ``lexnames`` file, which Debian's ``wordnet-base`` does not ship. This
module copies the database (~29 MB) into
``<cache>/wordnet/<digest>/corpora/wordnet`` with a generated ``lexnames``.
Copies, not links: nltk >= 3.9 resolves symlinks and refuses files outside
the corpus root, and refuses hard-linked files too. The layout is built in a temporary
directory and renamed into place, so a kill leaves either no layout or a
complete one; the digest covers the source directory and its files' sizes
and times, so an updated database gets a fresh layout.
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

from unibind.errors import UniBindError
from unibind.paths import cache_dir

#: Files nltk opens when it loads WordNet, and ``cntlist.rev`` for sense frequencies.
REQUIRED_FILES = (
    "data.noun", "data.verb", "data.adj", "data.adv",
    "index.noun", "index.verb", "index.adj", "index.adv",
    "noun.exc", "verb.exc", "adj.exc", "adv.exc", "cntlist.rev",
)

#: The 45 lexicographer files of WordNet 3.0 in file-number order (WordNet's lexnames(5WN)).
LEXNAMES = (
    "adj.all", "adj.pert", "adv.all", "noun.Tops", "noun.act", "noun.animal", "noun.artifact",
    "noun.attribute", "noun.body", "noun.cognition", "noun.communication", "noun.event", "noun.feeling",
    "noun.food", "noun.group", "noun.location", "noun.motive", "noun.object", "noun.person",
    "noun.phenomenon", "noun.plant", "noun.possession", "noun.process", "noun.quantity", "noun.relation",
    "noun.shape", "noun.state", "noun.substance", "noun.time", "verb.body", "verb.change",
    "verb.cognition", "verb.communication", "verb.competition", "verb.consumption", "verb.contact",
    "verb.creation", "verb.emotion", "verb.motion", "verb.perception", "verb.possession", "verb.social",
    "verb.stative", "verb.weather", "adj.ppl",
)
_POS_NUMBER = {"noun": 1, "verb": 2, "adj": 3, "adv": 4}

#: A temporary layout older than this was left by a killed process and is removed.
_STALE_SECONDS = 600


class WordNetMissingError(UniBindError, FileNotFoundError):
    """The WordNet database directory is missing or incomplete."""


def lexnames_text() -> str:
    """The ``lexnames`` file: ``NN<tab>name<tab>pos-number`` per lexicographer file."""
    return "".join(f"{i:02d}\t{name}\t{_POS_NUMBER[name.split('.')[0]]}\n" for i, name in enumerate(LEXNAMES))


def check_wordnet_dir(path: str | Path) -> Path:
    """The directory, resolved, if it holds a WordNet database; else a clear error naming it."""
    folder = Path(path).expanduser()
    hint = ("install the Debian package wordnet-base (apt-get install wordnet-base), or set the "
            "wordnet source's wordnet_dir to a directory holding a WordNet 3.0 database")
    if not folder.is_dir():
        raise WordNetMissingError(f"WordNet directory {folder} not found: {hint}")
    missing = [name for name in REQUIRED_FILES if not (folder / name).is_file()]
    if missing:
        raise WordNetMissingError(f"WordNet directory {folder} lacks {', '.join(missing)}: {hint}")
    return folder.resolve()


def _digest(folder: Path) -> str:
    h = hashlib.sha256(str(folder).encode())
    for name in REQUIRED_FILES:
        st = (folder / name).stat()
        h.update(f"{name}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()[:16]


def _remove_stale(parent: Path, digest: str) -> None:
    for leftover in parent.glob(f".tmp-{digest}-*"):
        try:
            if time.time() - leftover.stat().st_mtime > _STALE_SECONDS:
                shutil.rmtree(leftover, ignore_errors=True)
        except OSError:
            continue


def prepare_layout(wordnet_dir: str | Path, cache: Path | None = None) -> Path:
    """The nltk data root (``.../corpora/wordnet`` inside it) for ``wordnet_dir``, built once."""
    folder = check_wordnet_dir(wordnet_dir)
    parent = (cache or cache_dir()) / "wordnet"
    digest = _digest(folder)
    root = parent / digest
    if (root / "corpora" / "wordnet" / "lexnames").is_file():
        return root
    parent.mkdir(parents=True, exist_ok=True)
    _remove_stale(parent, digest)
    tmp = Path(tempfile.mkdtemp(dir=parent, prefix=f".tmp-{digest}-"))
    try:
        corpus = tmp / "corpora" / "wordnet"
        corpus.mkdir(parents=True)
        for name in REQUIRED_FILES:
            shutil.copyfile(folder / name, corpus / name)
        (corpus / "lexnames").write_text(lexnames_text(), encoding="ascii")
        (corpus / "SOURCE").write_text(f"{folder}\n", encoding="utf-8")
        try:
            os.rename(tmp, root)
        except OSError:  # another process finished the same layout first: use theirs
            if not (root / "corpora" / "wordnet" / "lexnames").is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return root


@functools.lru_cache(maxsize=4)
def _load(root: str) -> Any:
    import nltk
    from nltk.corpus.reader.wordnet import WordNetCorpusReader

    class _Reader(WordNetCorpusReader):
        def map_wn(self, version: str = "wordnet") -> None:
            """No Open Multilingual Wordnet here, so skip nltk's sense-key self-mapping (half the load time)."""
            return None

    if root not in nltk.data.path:
        nltk.data.path.append(root)  # nltk >= 3.9 reads only below its data path
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The multilingual functions are not available")
        return _Reader(str(Path(root) / "corpora" / "wordnet"), None)


def load_wordnet(wordnet_dir: str | Path) -> Any:
    """An nltk ``WordNetCorpusReader`` on ``wordnet_dir`` (loaded once per process and directory)."""
    return _load(str(prepare_layout(wordnet_dir)))
