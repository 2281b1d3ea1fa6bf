"""The prompt-template description source: the CLIP/ImageBind baseline ECL is measured against.

Image classes get the 80 prompt templates CLIP used for ImageNet (Radford et
al., 2021). Every other modality gets a set of the same order (40 to 80):
text's is here, a plugin's modality registers its own with
``ModalitySpec(templates="module:attr")`` (a tuple of strings, each with one
``{}`` for the class name). As a knowledge-base source
(:mod:`unibind.knowledge.sources`) it yields one description per template,
tagged with the modality the template speaks of. Templates are the baseline
row of an evaluation ("template mean"); ECL chooses among descriptions and
leaves them out unless they are asked for by name.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel, Field

from unibind.knowledge.records import ClassRef, DescriptionDraft

CLIP_IMAGENET_TEMPLATES: tuple[str, ...] = (
    "a bad photo of a {}.", "a photo of many {}.", "a sculpture of a {}.",
    "a photo of the hard to see {}.", "a low resolution photo of the {}.", "a rendering of a {}.",
    "graffiti of a {}.", "a bad photo of the {}.", "a cropped photo of the {}.", "a tattoo of a {}.",
    "the embroidered {}.", "a photo of a hard to see {}.", "a bright photo of a {}.",
    "a photo of a clean {}.", "a photo of a dirty {}.", "a dark photo of the {}.",
    "a drawing of a {}.", "a photo of my {}.", "the plastic {}.", "a photo of the cool {}.",
    "a close-up photo of a {}.", "a black and white photo of the {}.", "a painting of the {}.",
    "a painting of a {}.", "a pixelated photo of the {}.", "a sculpture of the {}.",
    "a bright photo of the {}.", "a cropped photo of a {}.", "a plastic {}.",
    "a photo of the dirty {}.", "a jpeg corrupted photo of a {}.", "a blurry photo of the {}.",
    "a photo of the {}.", "a good photo of the {}.", "a rendering of the {}.",
    "a {} in a video game.", "a photo of one {}.", "a doodle of a {}.", "a close-up photo of the {}.",
    "a photo of a {}.", "the origami {}.", "the {} in a video game.", "a sketch of a {}.",
    "a doodle of the {}.", "a origami {}.", "a low resolution photo of a {}.", "the toy {}.",
    "a rendition of the {}.", "a photo of the clean {}.", "a photo of a large {}.",
    "a rendition of a {}.", "a photo of a nice {}.", "a photo of a weird {}.",
    "a blurry photo of a {}.", "a cartoon {}.", "art of a {}.", "a sketch of the {}.",
    "a embroidered {}.", "a pixelated photo of a {}.", "itap of the {}.",
    "a jpeg corrupted photo of the {}.", "a good photo of a {}.", "a plushie {}.",
    "a photo of the nice {}.", "a photo of the small {}.", "a photo of the weird {}.",
    "the cartoon {}.", "art of the {}.", "a drawing of the {}.", "a photo of the large {}.",
    "a black and white photo of a {}.", "the plushie {}.", "a dark photo of a {}.", "itap of a {}.",
    "graffiti of the {}.", "a toy {}.", "itap of my {}.", "a photo of a cool {}.",
    "a photo of a small {}.", "a tattoo of the {}.",
)

#: How a text sample names a class: the text modality's own set (the anchor of the space).
TEXT_TEMPLATES: tuple[str, ...] = (
    "{}.", "a {}.", "the {}.", "a text about a {}.", "a sentence about the {}.", "a description of a {}.",
    "a short description of the {}.", "a paragraph about a {}.", "an article about the {}.",
    "a news story about a {}.", "a story about a {}.", "a poem about the {}.", "a caption of a {}.",
    "a dictionary entry for {}.", "an encyclopedia entry about a {}.", "a note about my {}.",
    "a message mentioning a {}.", "a tweet about a {}.", "a review of a {}.", "a question about the {}.",
    "a fact about a {}.", "a few words about a {}.", "a definition of the word {}.", "the word {}.",
    "a label that reads {}.", "a list of facts about the {}.", "an essay about a {}.",
    "a book chapter about the {}.", "a children's book page about a {}.", "a riddle about a {}.",
    "a product description of a {}.", "an advertisement for a {}.", "a headline about the {}.",
    "a forum post about my {}.", "an email that mentions a {}.", "a joke about a {}.",
    "a manual about the {}.", "a quote about a {}.", "a summary about a {}.", "a title: the {}.",
)

#: Templates of the core's own modalities. A plugin's modality brings its own set through
#: ``ModalitySpec(templates="module:attr")``; the templates source looks them up there.
MODALITY_TEMPLATES: dict[str, tuple[str, ...]] = {
    "image": CLIP_IMAGENET_TEMPLATES,
    "text": TEXT_TEMPLATES,
}

#: The prompt that stands for a class (the paper's "A photo of a {C}."); other modalities: their first template.
CANONICAL_PROMPTS: dict[str, str] = {"image": "a photo of a {}."}

#: Used for a modality that has no templates of its own.
GENERIC_TEMPLATES: tuple[str, ...] = ("a {}.", "a photo of a {}.", "an example of a {}.")


def check_templates(templates: object, where: str) -> tuple[str, ...]:
    """``templates`` as a tuple, or a ValueError naming ``where`` and the first bad template.

    Each template is a string with the class slot ``{}`` exactly once and no other
    format field; repeated templates would weight their prompt twice in the mean.
    """
    if isinstance(templates, str) or not isinstance(templates, (list, tuple)) or not templates:
        raise ValueError(f"{where}: expected a non-empty sequence of template strings, got {type(templates).__name__}")
    seen: set[str] = set()
    for i, template in enumerate(templates):
        if not isinstance(template, str):
            raise ValueError(f"{where}: template {i} is {type(template).__name__}, not a string")
        if template.count("{}") != 1 or template.replace("{}", "").count("{") or template.count("}") != 1:
            raise ValueError(f"{where}: template {i} {template!r} must hold the class slot '{{}}' exactly once")
        if template in seen:
            raise ValueError(f"{where}: template {i} {template!r} is repeated")
        seen.add(template)
    return tuple(templates)


def modality_templates(modality: str, registry: Any = None) -> tuple[str, ...]:
    """The built-in template set of ``modality``: its plugin's, the core's, or the generic three."""
    from unibind.errors import NotRegisteredError
    from unibind.specs import import_object

    if registry is None:
        from unibind.plugins import get_registry

        registry = get_registry()
    try:
        spec = registry.get("modality", modality)
    except NotRegisteredError:
        spec = None
    reference = getattr(spec, "templates", None)
    if reference:
        return check_templates(import_object(reference), f"templates of {spec.label} ({reference})")
    return MODALITY_TEMPLATES.get(modality, GENERIC_TEMPLATES)


class TemplateSettings(BaseModel):
    """Settings of the prompt-template source."""

    extra_templates: dict[str, list[str]] = Field(
        default_factory=dict, description="Per-modality templates added to the built-in ones."
    )


class TemplateSource:
    """Fills each template with the class name: the prompt-ensemble baseline."""

    #: Provenance: no model writes these; the prompt is recorded per item (its template).
    model = ""
    prompt = ""

    def __init__(self, settings: TemplateSettings | None = None, *, registry: Any = None):
        self.settings = settings or TemplateSettings()
        self.registry = registry

    def templates(self, modality: str | None = None) -> list[str]:
        modality = modality or "image"
        extra = self.settings.extra_templates.get(modality, [])
        if extra:
            check_templates(extra, f"extra_templates[{modality!r}]")
        return list(dict.fromkeys([*modality_templates(modality, self.registry), *extra]))

    def class_descriptions(self, class_name: str, modality: str | None = None) -> list[str]:
        name = class_name.strip().replace("_", " ")
        return [t.format(name) for t in self.templates(modality)]

    def canonical_prompt(self, class_name: str, modality: str | None = None) -> str:
        """The one prompt that stands for a class (centre localization starts here)."""
        template = CANONICAL_PROMPTS.get(modality or "image") or self.templates(modality)[0]
        return template.format(class_name.strip().replace("_", " "))

    def describe(self, cls: ClassRef, n: int, *, modality: str | None = None, seed: int = 0,
                 start: int = 0) -> Iterator[DescriptionDraft]:
        """One draft per template, in template order, from ``start`` (the seed changes nothing)."""
        speaks_of = modality or "image"
        for template in self.templates(modality)[start:]:
            yield DescriptionDraft(text=template.format(cls.text_name.strip()), prompt=template,
                                   modality=speaks_of)
