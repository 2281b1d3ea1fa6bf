"""Sample captioners: texts that describe individual pictures, for the knowledge base.

Two sources, both behind the ``caption(samples, *, n, seed)`` interface of
:mod:`unibind.knowledge.sources`:

``hf-captioner``
    Any Hugging Face image-to-text model (BLIP, GIT, VisionEncoderDecoder,
    ...) by hub name (needs a network) or local directory, through
    ``AutoModelForImageTextToText`` and the model's own processor.
``imagenet-captioner``
    Works offline with the embedded default: what the frozen encoder's
    ImageNet head recognises, said as a sentence ("a photo of a daisy,
    perhaps a bee"). It knows only the 1000 ImageNet classes, so it is a
    weak captioner, but it needs no download and says how sure it was.

A file that cannot be read becomes a ``Rejected(reason="unreadable")`` whose
detail names the file; the rest of the batch is captioned. Module-level
imports stay light (the specs point at the settings models here); torch,
PIL and transformers are imported when a captioner is built.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from unibind.errors import InputError, UniBindError
from unibind.knowledge.records import DescriptionDraft, Rejected, SampleRef, normalise_text

__all__ = [
    "HFCaptioner",
    "HFCaptionerSettings",
    "ImageNetCaptioner",
    "ImageNetCaptionerSettings",
    "build_hf_captioner",
    "build_imagenet_captioner",
    "load_pictures",
    "name_classes",
]

Pair = tuple[int, DescriptionDraft | Rejected]


# -- settings -----------------------------------------------------------------------------------

class HFCaptionerSettings(BaseModel):
    """A Hugging Face image-to-text model and how it generates."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(description="Hub name (e.g. 'Salesforce/blip-image-captioning-base', needs a "
                                   "network) or local directory saved with save_pretrained.")
    local_files_only: bool = Field(
        default=False, description="Never touch the network (automatic for local paths and HF_HUB_OFFLINE=1)."
    )
    prompt: str = Field(
        default="", description="Text the caption continues (BLIP/GIT conditional captioning, or the "
                                "decoder prefix of a VisionEncoderDecoder); '' for none.",
    )
    max_new_tokens: int = Field(default=30, ge=1, le=512, description="Longest caption, in tokens.")
    num_beams: int = Field(
        default=3, ge=1,
        description="Beam width without sampling (raised to n when n captions are asked for).",
    )
    do_sample: bool = Field(
        default=False, description="Sample instead of beam search; each sample gets its own seed derived "
                                   "from (seed, file hash), so results do not depend on batching.",
    )
    temperature: float = Field(default=1.0, gt=0, description="Sampling temperature.")
    top_p: float = Field(default=0.9, gt=0, le=1, description="Nucleus sampling mass.")
    top_k: int = Field(default=50, ge=0, description="Sample among the k likeliest tokens (0: all).")
    batch_size: int = Field(default=8, ge=1, description="Pictures per generate() call.")
    reject_truncated: bool = Field(
        default=False, description="Reject captions that hit max_new_tokens before the end token "
                                   "(reason 'truncated'); kept by default, marked in meta.",
    )
    device: str = Field(default="cpu", description="torch device, e.g. 'cpu' or 'cuda'.")


class ImageNetCaptionerSettings(BaseModel):
    """What the ImageNet head recognises, turned into sentences."""

    model_config = ConfigDict(extra="forbid")

    encoder: str = Field(
        default="efficientnet-lite0",
        description="Registered image encoder with a 1000-way ImageNet head (imagenet_head()).",
    )
    encoder_settings: dict[str, Any] = Field(default_factory=dict, description="Settings of that encoder.")
    top_k: int = Field(default=3, ge=1, le=10, description="Most classes one caption names.")
    min_probability: float = Field(
        default=0.1, ge=0, le=1,
        description="The likeliest class must reach this, else the picture is rejected as low_confidence.",
    )
    alternative_min_probability: float = Field(
        default=0.05, ge=0, le=1, description="Further classes are named only from this probability up.",
    )
    hedge: str = Field(default="perhaps", description="Word introducing the alternatives.")
    templates: list[str] = Field(
        default=["a photo of {classes}.", "a picture of {classes}.", "an image showing {classes}."],
        min_length=1,
        description="Caption j of a picture uses templates[(seed + j) % len]; at most len(templates) "
                    "captions per picture. '{classes}' becomes e.g. 'a daisy, perhaps a bee'.",
    )
    batch_size: int = Field(default=16, ge=1, description="Pictures per encoder batch.")

    @field_validator("templates")
    @classmethod
    def _has_slot(cls, value: list[str]) -> list[str]:
        for template in value:
            if "{classes}" not in template:
                raise ValueError(f"template {template!r} has no '{{classes}}'")
        return value

    @model_validator(mode="after")
    def _ordered(self) -> ImageNetCaptionerSettings:
        if self.alternative_min_probability > self.min_probability:
            raise ValueError("alternative_min_probability must not exceed min_probability")
        return self


# -- reading the pictures -----------------------------------------------------------------------

def load_pictures(samples: Sequence[SampleRef], registry: Any = None) -> list[Any]:
    """Each sample as an RGB ``PIL.Image``, or a :class:`Rejected` naming the file and the problem."""
    from PIL import Image

    out: list[Any] = []
    for sample in samples:
        try:
            picture = sample.load(registry)
        except InputError as exc:
            out.append(Rejected(reason="unreadable", detail=str(exc)))
            continue
        except Exception as exc:  # noqa: BLE001 - one bad file must not stop the batch
            out.append(Rejected(reason="unreadable", detail=f"{sample.path}: {type(exc).__name__}: {exc}"))
            continue
        if not isinstance(picture, Image.Image):
            out.append(Rejected(reason="unsupported_modality",
                                detail=f"{sample.path}: the {sample.modality} loader gives "
                                       f"{type(picture).__name__}, not a picture"))
            continue
        out.append(picture if picture.mode == "RGB" else picture.convert("RGB"))
    return out


def _offline(model: str, local_files_only: bool) -> bool:
    import os

    return local_files_only or Path(model).exists() or os.environ.get("HF_HUB_OFFLINE") == "1"


def _sample_seed(seed: int, sample: SampleRef) -> int:
    """A per-sample seed: the same picture gets the same captions in any batch."""
    digest = hashlib.sha256(f"{seed}:{sample.sha256}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)


# -- Hugging Face image-to-text -----------------------------------------------------------------

class HFCaptioner:
    """Any ``AutoModelForImageTextToText`` captioning model, with its processor.

    Models with a combined processor (BLIP, GIT) get the prompt through it;
    a VisionEncoderDecoder directory holds an image processor and a tokenizer
    only, and its prompt becomes the decoder's prefix.
    """

    def __init__(self, settings: HFCaptionerSettings):
        from transformers import AutoModelForImageTextToText

        self.settings = settings
        self.model = settings.model
        self.prompt = settings.prompt
        offline = _offline(settings.model, settings.local_files_only)
        try:
            self.network = AutoModelForImageTextToText.from_pretrained(settings.model,
                                                                       local_files_only=offline)
        except (OSError, ValueError) as exc:
            path = Path(settings.model)
            if (path.is_absolute() or settings.model.startswith(".")) and not path.exists():
                raise UniBindError(f"hf-captioner cannot load {settings.model!r}: no such directory") from exc
            hint = " (hub models need a network; give a local directory)" if offline else ""
            raise UniBindError(f"hf-captioner cannot load {settings.model!r}{hint}: "
                               f"{type(exc).__name__}: {exc}") from exc
        self.network = self.network.float().to(settings.device).eval()
        self.processor, self.image_processor, self.tokenizer = _processors(settings.model, offline)

    def _inputs(self, pictures: list[Any]) -> dict[str, Any]:
        import torch

        prompt = self.settings.prompt
        if self.processor is not None:
            texts = [prompt] * len(pictures) if prompt else None
            inputs = dict(self.processor(images=pictures, text=texts, return_tensors="pt"))
        else:
            pixels = self.image_processor(images=pictures, return_tensors="pt")["pixel_values"]
            inputs = {"pixel_values": pixels}
            if prompt:
                start = self.network.generation_config.decoder_start_token_id
                ids = [start, *self.tokenizer(prompt, add_special_tokens=False)["input_ids"]]
                inputs["decoder_input_ids"] = torch.tensor([ids] * len(pictures))
                inputs["decoder_attention_mask"] = torch.ones_like(inputs["decoder_input_ids"])
        return {k: v.to(self.settings.device) for k, v in inputs.items() if isinstance(v, torch.Tensor)}

    def _generate(self, pictures: list[Any], n: int, seed: int | None) -> list[list[tuple[str, bool]]]:
        """``n`` (text, truncated) pairs per picture."""
        import torch

        s = self.settings
        kwargs: dict[str, Any] = {"max_new_tokens": s.max_new_tokens, "num_return_sequences": n}
        if s.do_sample:
            kwargs.update(do_sample=True, temperature=s.temperature, top_p=s.top_p, top_k=s.top_k,
                          num_beams=1)
        else:
            kwargs.update(do_sample=False, num_beams=max(s.num_beams, n))
        inputs = self._inputs(pictures)
        with torch.random.fork_rng(devices=[]), torch.inference_mode():
            if seed is not None:
                torch.manual_seed(seed)
            out = self.network.generate(**inputs, **kwargs)
        sequences = out if isinstance(out, torch.Tensor) else out.sequences
        eos = self.network.generation_config.eos_token_id
        eos_ids = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
        texts = self.tokenizer.batch_decode(sequences, skip_special_tokens=True)
        pairs = [(" ".join(text.split()), not eos_ids.intersection(seq.tolist()))
                 for text, seq in zip(texts, sequences)]
        return [pairs[i * n:(i + 1) * n] for i in range(len(pictures))]

    def caption(self, samples: Sequence[SampleRef], *, n: int = 1, seed: int = 0) -> Iterator[Pair]:
        samples = list(samples)
        pictures = load_pictures(samples)
        good = [i for i, p in enumerate(pictures) if not isinstance(p, Rejected)]
        results: dict[int, list[tuple[str, bool]]] = {}
        if self.settings.do_sample:  # one call per picture: its own seed
            for i in good:
                results[i] = self._generate([pictures[i]], n, _sample_seed(seed, samples[i]))[0]
        else:
            step = self.settings.batch_size
            for at in range(0, len(good), step):
                chunk = good[at:at + step]
                results.update(zip(chunk, self._generate([pictures[i] for i in chunk], n, None)))
        for index, picture in enumerate(pictures):
            if isinstance(picture, Rejected):
                yield index, picture
                continue
            seen: set[str] = set()
            for text, truncated in results[index]:
                norm = normalise_text(text)
                if not norm:
                    yield index, Rejected(reason="empty", detail=samples[index].path)
                elif norm in seen:
                    yield index, Rejected(reason="repeated", text=text)
                elif truncated and self.settings.reject_truncated:
                    yield index, Rejected(reason="truncated", text=text)
                else:
                    seen.add(norm)
                    yield index, DescriptionDraft(text=text, modality=samples[index].modality,
                                                  meta={"truncated": truncated} if truncated else {})


def _processors(model: str, offline: bool) -> tuple[Any, Any, Any]:
    """(combined processor or None, image processor, tokenizer) of a model directory or hub name."""
    from transformers import AutoImageProcessor, AutoProcessor, AutoTokenizer

    try:
        processor = AutoProcessor.from_pretrained(model, local_files_only=offline)
    except (OSError, ValueError) as exc:
        raise UniBindError(f"hf-captioner: {model!r} has no usable processor: {exc}") from exc
    if hasattr(processor, "image_processor") and hasattr(processor, "tokenizer"):
        return processor, processor.image_processor, processor.tokenizer
    try:  # VisionEncoderDecoder: AutoProcessor finds only one half
        image_processor = AutoImageProcessor.from_pretrained(model, local_files_only=offline)
        tokenizer = AutoTokenizer.from_pretrained(model, local_files_only=offline)
    except (OSError, ValueError) as exc:
        raise UniBindError(f"hf-captioner: {model!r} needs an image processor and a tokenizer: "
                           f"{exc}") from exc
    return None, image_processor, tokenizer


def build_hf_captioner(settings: HFCaptionerSettings, **_: Any) -> HFCaptioner:
    return HFCaptioner(settings)


# -- what the ImageNet head sees, as a sentence ---------------------------------------------------

def _with_article(name: str) -> str:
    return f"{'an' if name[:1].lower() in 'aeiou' else 'a'} {name}"


def name_classes(names: Sequence[str], hedge: str = "perhaps") -> str:
    """``["daisy"]`` -> "a daisy"; ``["daisy", "bee", "moth"]`` -> "a daisy, perhaps a bee or a moth"."""
    first, *rest = [_with_article(n) for n in names]
    if not rest:
        return first
    alternatives = rest[0] if len(rest) == 1 else ", ".join(rest[:-1]) + f" or {rest[-1]}"
    return f"{first}, {hedge} {alternatives}"


class ImageNetCaptioner:
    """Captions from the top ImageNet classes of a frozen encoder's own classifier head."""

    def __init__(self, settings: ImageNetCaptionerSettings, *, registry: Any = None):
        from unibind_plugin_image.bridge import imagenet_class_texts
        from unibind_plugin_image.settings import ImageNetBridgeSettings

        if registry is None:
            from unibind.plugins import get_registry

            registry = get_registry()
        self.settings = settings
        self.registry = registry
        spec = registry.encoder_for("image", settings.encoder, needed_by="imagenet-captioner")
        self.encoder = spec.build(settings.encoder_settings)
        head = getattr(self.encoder, "imagenet_head", lambda: None)()
        if head is None:
            raise UniBindError(f"imagenet-captioner needs an encoder with a 1000-way ImageNet head; "
                               f"{spec.name!r} has none")
        self.head = head
        plain = ImageNetBridgeSettings(prompt="{name}", use_descriptions=False)
        self.class_names = [texts[0] for texts in imagenet_class_texts(plain)]
        self.model = f"{spec.name}+imagenet-head"
        self.prompt = settings.templates[0]

    def probabilities(self, pictures: list[Any]) -> Any:
        """``[N, 1000]`` softmax of the ImageNet head over the encoder's features."""
        import torch

        with torch.inference_mode():
            features = self.encoder.encode(pictures, batch_size=self.settings.batch_size)
            return self.head(features.float()).softmax(dim=-1)

    def caption(self, samples: Sequence[SampleRef], *, n: int = 1, seed: int = 0) -> Iterator[Pair]:
        s = self.settings
        samples = list(samples)
        pictures = load_pictures(samples, self.registry)
        good = [i for i, p in enumerate(pictures) if not isinstance(p, Rejected)]
        probs = dict(zip(good, self.probabilities([pictures[i] for i in good]))) if good else {}
        for index, picture in enumerate(pictures):
            if isinstance(picture, Rejected):
                yield index, picture
                continue
            values, classes = probs[index].topk(s.top_k)
            top = [(int(c), float(v)) for c, v in zip(classes, values)]
            best, p_best = top[0]
            if p_best < s.min_probability:
                yield index, Rejected(reason="low_confidence", text=self.class_names[best],
                                      detail=f"{samples[index].path}: likeliest class "
                                             f"{self.class_names[best]!r} at {p_best:.3f} "
                                             f"< {s.min_probability}")
                continue
            named = [top[0]] + [(c, p) for c, p in top[1:] if p >= s.alternative_min_probability]
            phrase = name_classes([self.class_names[c] for c, _ in named], s.hedge)
            meta = {"classes": [{"imagenet_index": c, "name": self.class_names[c], "probability": round(p, 4)}
                                for c, p in named]}
            for j in range(min(n, len(s.templates))):
                template = s.templates[(seed + j) % len(s.templates)]
                yield index, DescriptionDraft(text=template.replace("{classes}", phrase), prompt=template,
                                              modality=samples[index].modality, meta=meta)


def build_imagenet_captioner(settings: ImageNetCaptionerSettings | None = None,
                             **context: Any) -> ImageNetCaptioner:
    return ImageNetCaptioner(settings or ImageNetCaptionerSettings(), registry=context.get("registry"))
