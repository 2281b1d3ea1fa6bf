"""Prompt templates for thermal pictures: the thermal modality's set for the ``templates`` source.

Written for this plugin, in the spirit of CLIP's 80 image templates: the
class seen by heat, in the palettes, resolutions and settings thermal cameras
give. The first is the thermal modality's canonical prompt. Each holds the
class slot ``{}`` once.
"""

from __future__ import annotations

THERMAL_TEMPLATES: tuple[str, ...] = (
    "a thermal image of a {}.", "a thermal image of the {}.", "an infrared photo of a {}.",
    "a heat map photo of the {}.", "a thermal camera picture of a {}.", "an infrared image of the {}.",
    "a long-wave infrared image of a {}.", "a thermogram of a {}.", "a thermal photo of a warm {}.",
    "a thermal photo of a cold {}.", "a thermal image of a {} at night.",
    "a night-vision thermal image of a {}.", "a false-colour thermal image of a {}.",
    "a greyscale thermal image of a {}.", "a white-hot thermal image of a {}.",
    "a black-hot thermal image of a {}.", "a low resolution thermal image of a {}.",
    "a blurry thermal image of the {}.", "a noisy thermal image of a {}.", "a close-up thermal image of a {}.",
    "a thermal image of a {} from far away.", "a thermal drone image of a {}.",
    "a thermal surveillance image of a {}.", "a thermal image showing the heat of a {}.",
    "the heat signature of a {}.", "the heat signature of the {}.", "a {} glowing in a thermal image.",
    "a {} seen through a thermal camera.", "a {} seen in infrared.", "an infrared picture of my {}.",
    "a thermal image of many {}.", "a thermal image of one {}.", "a thermal image of a small {}.",
    "a thermal image of a large {}.", "a thermal image of a {} indoors.", "a thermal image of a {} outdoors.",
    "a thermal image of a {} in the dark.", "a thermal image of a {} in the rain.",
    "a thermal video frame of a {}.", "a FLIR image of a {}.", "a temperature map of a {}.",
    "a bright thermal image of the {}.", "a dark thermal image of the {}.", "a cropped thermal image of a {}.",
    "a thermal image of a hot {}.", "an infrared scan of a {}.",
)
