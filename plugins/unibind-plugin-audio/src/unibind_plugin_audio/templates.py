"""Prompt templates for sounds: the audio modality's set for the ``templates`` description source.

Written for this plugin, in the spirit of CLIP's 80 image templates: the same
class heard loud and faint, near and far, clean and degraded, recorded in
different ways. The first is the audio modality's canonical prompt (where ECL
starts). Each holds the class slot ``{}`` once.
"""

from __future__ import annotations

AUDIO_TEMPLATES: tuple[str, ...] = (
    "the sound of a {}.", "a sound of a {}.", "the sound of the {}.", "a recording of a {}.",
    "a recording of the {}.", "an audio clip of a {}.", "an audio recording of the {}.",
    "the noise a {} makes.", "the noise of a {}.", "the sound a {} makes.", "a loud {} sound.",
    "a quiet sound of a {}.", "a faint sound of a {}.", "a {} heard from far away.",
    "a {} heard up close.", "a close-up recording of a {}.", "a field recording of a {}.",
    "a studio recording of a {}.", "a noisy recording of a {}.", "a clean recording of the {}.",
    "a low quality recording of a {}.", "a muffled recording of a {}.", "a distorted recording of a {}.",
    "a short clip of a {} sound.", "a long recording of a {}.", "a sound effect of a {}.",
    "the {} sound effect.", "a {} heard in the background.", "you can hear a {}.", "listening to a {}.",
    "a {} making noise.", "a sample of a {}.", "a one-shot sample of a {}.", "a loop of a {} sound.",
    "an echoing sound of a {}.", "a {} recorded indoors.", "a {} recorded outdoors.",
    "a {} recorded with a phone.", "a {} recorded with a good microphone.", "a mono recording of a {}.",
    "a stereo recording of the {}.", "a crackly old recording of a {}.", "a {} from a sound library.",
    "a sound clip with a {} in it.", "the audio of a {}.", "the sound of many {}.",
    "the sound of one {}.", "a sudden {} sound.", "a repeated {} sound.", "a brief {} sound.",
    "the sound of my {}.", "a recording of my {}.", "the sound of a small {}.", "the sound of a large {}.",
    "a soft sound of the {}.", "a sharp sound of a {}.", "a {} in a noisy room.", "a {} in a quiet room.",
    "a podcast clip with a {} in it.", "a film soundtrack with a {}.", "a {} sound in a video game.",
    "a synthesized {} sound.", "a cartoon {} sound.", "a reverberant recording of a {}.",
)
