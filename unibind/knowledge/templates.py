"""The prompt-template description source: the CLIP/ImageBind baseline.

Image classes get the 80 prompt templates CLIP used for ImageNet (Radford et
al., 2021); other modalities get short templates of their own. As a
knowledge-base source (:mod:`unibind.knowledge.sources`) it yields one
description per template, tagged with the modality the template speaks of.
"""

from __future__ import annotations

from collections.abc import Iterator

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

MODALITY_TEMPLATES: dict[str, tuple[str, ...]] = {
    "image": CLIP_IMAGENET_TEMPLATES,
    "text": ("{}.", "a {}.", "the {}."),
    "audio": ("a sound of a {}.", "the sound of a {}.", "a recording of a {}.",
              "the noise a {} makes.", "an audio clip of a {}."),
    "video": ("a video of a {}.", "a video clip of the {}.", "footage of a {}.",
              "a short video showing a {}."),
    "pointcloud": ("a point cloud of a {}.", "a 3D model of a {}.", "a depth scan of a {}.",
                   "a 3D point cloud of the {}."),
    "thermal": ("a thermal image of a {}.", "an infrared photo of a {}.",
                "a heat map photo of the {}."),
    "event": ("an event-camera recording of a {}.", "a neuromorphic recording of a {}.",
              "event camera data showing a {}."),
    "depth": ("a depth map of a {}.", "a depth image of the {}."),
}

#: The prompt that stands for a class in each modality (the paper's "A photo of a {C}.").
CANONICAL_PROMPTS: dict[str, str] = {"image": "a photo of a {}."}

#: Used for a modality that has no templates of its own.
GENERIC_TEMPLATES: tuple[str, ...] = ("a {}.", "a photo of a {}.", "an example of a {}.")


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

    def __init__(self, settings: TemplateSettings | None = None):
        self.settings = settings or TemplateSettings()

    def templates(self, modality: str | None = None) -> list[str]:
        base = MODALITY_TEMPLATES.get(modality or "image", GENERIC_TEMPLATES)
        return list(base) + list(self.settings.extra_templates.get(modality or "image", []))

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
