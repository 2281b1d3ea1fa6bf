"""The description-source interface: what a plugin implements to feed the knowledge base.

A description source is registered like any component, through the
``unibind_description_sources`` hook::

    @hookimpl
    def unibind_description_sources(register):
        register(DescriptionSourceSpec(
            name="wordnet", factory="unibind_plugin_wordnet.source:WordNetSource",
            settings="unibind_plugin_wordnet.source:WordNetSettings",
            produces=("class_descriptions",), summary="...",
        ))

``spec.build(settings)`` returns an object with these members:

``model: str`` and ``prompt: str``
    Provenance stored with every description ("" when there is none, e.g.
    WordNet has no model). A draft may override both per item.

``describe(cls, n, *, modality=None, seed=0, start=0) -> Iterable[DescriptionDraft | Rejected]``
    Class descriptions (``produces`` contains ``"class_descriptions"``).
    ``cls`` is a :class:`~unibind.knowledge.records.ClassRef` (``cls.name``,
    ``cls.text_name`` for prompts, optional ``cls.class_id`` such as
    ``"n02084071"``). Yield up to about ``n`` usable descriptions, lazily:
    the builder stops pulling once it has kept ``n``, so an expensive
    source should generate in batches as it is iterated, not all up front.
    Yield a :class:`~unibind.knowledge.records.Rejected` for every item you
    generate and throw away (``reason`` a short code: ``empty``,
    ``repeated``, ``truncated``, ``off_class``, ``too_long``,
    ``not_english``, ``unresolved``...), so ``unibind kb build`` can report
    generated / kept / rejected-and-why. The builder rejects duplicates
    (normalised text already stored for the class) itself, as
    ``duplicate``. Set ``DescriptionDraft.modality`` when the text speaks of
    one modality ("a sound of a dog"), ``prompt``/``model`` when they differ
    per item, and ``meta`` for anything else worth keeping (JSON values,
    e.g. ``{"relation": "hypernym", "synset": "dog.n.01"}``).

    Resuming: the stream for one (class, settings, modality, seed) must be
    deterministic, and ``start`` is the number of items of that stream
    (drafts and rejections alike) that an earlier, interrupted build
    already consumed and committed: begin at item ``start``. A source that
    cannot jump ahead cheaply may wrap its stream in :func:`skip`. A
    source that calls a non-deterministic service (a hosted LLM at
    temperature > 0) cannot replay; it should still honour ``start`` by
    deriving per-item seeds from (seed, index) where the service allows,
    and otherwise simply produce fresh items: the store's deduplication
    keeps a resumed build free of duplicates either way.

``caption(samples, *, n=1, seed=0) -> Iterable[tuple[int, DescriptionDraft | Rejected]]``
    Sample captions (``produces`` contains ``"sample_captions"``;
    ``spec.modalities`` lists what it reads). ``samples`` is a batch of
    :class:`~unibind.knowledge.records.SampleRef` (path, modality, sha256,
    optional label; ``sample.load()`` reads it with the registered loader);
    yield ``(index in the batch, item)`` pairs, up to ``n`` drafts per
    sample. The builder commits each sample's captions with its job record.

``class_descriptions(class_name, modality=None) -> list[str]`` (optional)
    A plain list, used where no store is involved (the template source has
    it; ``Space.class_centres`` uses it).

Sources that call a service (``calls_service=True`` on the spec) own their
rate limiting, retries and request budget; the builder only sees items or
an exception (which it records on the job and reports; a rerun retries the
job from its last commit). :func:`check_description_source` is the contract
check a plugin's tests run against its source.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol, TypeVar, runtime_checkable

from unibind.knowledge.records import ClassRef, DescriptionDraft, Rejected, SampleRef

T = TypeVar("T")

Item = DescriptionDraft | Rejected


@runtime_checkable
class DescriptionSource(Protocol):
    """Writes descriptions of classes."""

    model: str
    prompt: str

    def describe(self, cls: ClassRef, n: int, *, modality: str | None = None, seed: int = 0,
                 start: int = 0) -> Iterable[Item]: ...


@runtime_checkable
class Captioner(Protocol):
    """Writes captions of individual samples."""

    model: str
    prompt: str

    def caption(self, samples: Sequence[SampleRef], *, n: int = 1,
                seed: int = 0) -> Iterable[tuple[int, Item]]: ...


def skip(stream: Iterable[T], start: int) -> Iterator[T]:
    """Drop the first ``start`` items: resuming for sources that cannot jump ahead."""
    return itertools.islice(stream, start, None)


def parse_source_arg(arg: str) -> tuple[str, dict[str, Any]]:
    """``"name"``, ``"name:key=value,key2=value2"`` or ``'name:{"key": ...}'`` -> (name, settings).

    Values are read as JSON where they parse (numbers, booleans, lists,
    null) and as strings otherwise.
    """
    name, sep, rest = arg.partition(":")
    name, rest = name.strip(), rest.strip()
    if not name:
        raise ValueError(f"no source name in {arg!r}")
    if not sep or not rest:
        return name, {}
    if rest.startswith("{"):
        settings = json.loads(rest)
        if not isinstance(settings, dict):
            raise ValueError(f"settings of {name!r} must be a JSON object")
        return name, settings
    settings: dict[str, Any] = {}
    for pair in rest.split(","):
        key, eq, value = pair.partition("=")
        if not eq or not key.strip():
            raise ValueError(f"expected key=value in {arg!r}, got {pair!r}")
        try:
            settings[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            settings[key.strip()] = value.strip()
    return name, settings


def read_classes(value: str | Path | Sequence[str]) -> list[ClassRef]:
    """Classes from a file (one per line, ``#`` comments, optional leading WordNet id) or a list.

    A string that names an existing file is read; any other string is a
    comma-separated list. Repeated classes are kept once, in first order.
    """
    if isinstance(value, (str, Path)):
        path = Path(value)
        if path.is_file():
            lines = path.read_text(encoding="utf-8").splitlines()
        else:
            lines = str(value).split(",")
    else:
        lines = list(value)
    seen: dict[str, ClassRef] = {}
    for line in lines:
        line = line.split(" #", 1)[0].strip()
        if line and not line.startswith("#"):
            ref = ClassRef.parse(line)
            seen.setdefault(ref.key, ref)
    if not seen:
        raise ValueError(f"no classes in {value!r}")
    return list(seen.values())


def check_description_source(source: Any, cls: ClassRef | None = None, n: int = 5,
                             **kwargs: Any) -> list[Item]:
    """The contract a source's tests run: it raises AssertionError naming what is wrong.

    Checks the provenance attributes, that ``describe`` yields only drafts
    and rejections, keeps roughly to ``n``, is deterministic for a seed,
    and that ``start`` resumes where an earlier run stopped.
    """
    cls = cls or ClassRef(name="dog", class_id="n02084071")
    for attr in ("model", "prompt"):
        assert isinstance(getattr(source, attr, None), str), f"source has no str attribute {attr!r}"
    assert callable(getattr(source, "describe", None)), "source has no describe() method"
    first = list(itertools.islice(source.describe(cls, n, seed=0, **kwargs), 4 * n + 10))
    assert first, "describe() produced nothing"
    for item in first:
        assert isinstance(item, (DescriptionDraft, Rejected)), f"describe() yielded {type(item).__name__}"
    drafts = [i for i in first if isinstance(i, DescriptionDraft)]
    assert drafts, "describe() produced only rejections"
    again = list(itertools.islice(source.describe(cls, n, seed=0, **kwargs), len(first)))
    assert again == first, "describe() is not deterministic for a fixed seed"
    if len(first) > 1:
        resumed = list(itertools.islice(source.describe(cls, n, seed=0, start=1, **kwargs), len(first) - 1))
        assert resumed == first[1:], "describe(start=1) does not resume after the first item"
    return first


def check_captioner(captioner: Any, samples: Sequence[SampleRef], n: int = 1) -> list[tuple[int, Item]]:
    """The contract a captioner's tests run: (index, item) pairs, in range, deterministic for a seed."""
    for attr in ("model", "prompt"):
        assert isinstance(getattr(captioner, attr, None), str), f"captioner has no str attribute {attr!r}"
    assert callable(getattr(captioner, "caption", None)), "captioner has no caption() method"
    first = list(captioner.caption(list(samples), n=n, seed=0))
    assert first, "caption() produced nothing"
    for pair in first:
        assert isinstance(pair, tuple) and len(pair) == 2, f"caption() yielded {pair!r}, not (index, item)"
        index, item = pair
        assert isinstance(index, int) and 0 <= index < len(samples), f"caption() yielded index {index!r}"
        assert isinstance(item, (DescriptionDraft, Rejected)), f"caption() yielded {type(item).__name__}"
    assert {i for i, item in first if isinstance(item, DescriptionDraft)}, "caption() captioned nothing"
    assert list(captioner.caption(list(samples), n=n, seed=0)) == first, "caption() is not deterministic"
    return first
