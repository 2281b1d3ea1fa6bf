"""Prompt templates for video clips: the video modality's set for the ``templates`` description source.

Written for this plugin, in the spirit of CLIP's 80 image templates: the
class filmed in different ways, qualities and settings. The first is the
video modality's canonical prompt. Each holds the class slot ``{}`` once.
"""

from __future__ import annotations

VIDEO_TEMPLATES: tuple[str, ...] = (
    "a video of a {}.", "a video of the {}.", "a video clip of the {}.", "footage of a {}.",
    "a short video showing a {}.", "a blurry video of a {}.", "a shaky video of a {}.",
    "a low resolution video of a {}.", "a high definition video of a {}.", "a slow motion video of a {}.",
    "a time-lapse video of a {}.", "a home video of a {}.", "a phone video of a {}.",
    "a close-up video of a {}.", "a wide shot of a {}.", "a dark video of the {}.",
    "a bright video of the {}.", "security camera footage of a {}.", "dashcam footage of a {}.",
    "drone footage of a {}.", "a news clip about a {}.", "a documentary clip of a {}.",
    "a video game clip with a {}.", "an animated video of a {}.", "a cartoon clip of a {}.",
    "a black and white video of a {}.", "a grainy video of a {}.", "a compressed video of a {}.",
    "a looping clip of a {}.", "an animated GIF of a {}.", "a short clip of the {}.",
    "a long video of a {}.", "a video of a {} moving.", "a video of a {} in motion.",
    "a video of many {}.", "a video of one {}.", "a video of my {}.", "a video of a small {}.",
    "a video of a large {}.", "a tracking shot of a {}.", "a handheld video of a {}.",
    "a webcam video of a {}.", "a vlog with a {} in it.", "a scene with a {}.",
    "a frame from a video of a {}.", "a movie scene with a {}.", "a video of a {} filmed outdoors.",
    "a video of a {} filmed indoors.", "a clip of the {} filmed from above.", "a tutorial video about a {}.",
)
