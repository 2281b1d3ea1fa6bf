"""Prompt templates for event-camera recordings: the event modality's set for the ``templates`` source.

Written for this plugin, in the spirit of CLIP's 80 image templates: the
class as a neuromorphic sensor sees it (brightness changes, edges in motion),
in the representations event data is shown as. The first is the event
modality's canonical prompt. Each holds the class slot ``{}`` once.
"""

from __future__ import annotations

EVENT_TEMPLATES: tuple[str, ...] = (
    "an event-camera recording of a {}.", "a neuromorphic recording of a {}.",
    "event camera data showing a {}.", "an event stream of a {}.", "an event stream of the {}.",
    "a dynamic vision sensor recording of a {}.", "a DVS recording of the {}.", "events from a moving {}.",
    "an event frame of a {}.", "a spiking camera recording of a {}.",
    "the edges of a {} seen by an event camera.", "an event-based image of a {}.",
    "an event histogram of a {}.", "a sparse event recording of a {}.", "a noisy event recording of a {}.",
    "a short event recording of a {}.", "a long event recording of a {}.",
    "an event camera recording of a {} moving fast.", "an event camera recording of a {} in the dark.",
    "an event camera recording of a {} in bright light.", "a neuromorphic dataset sample of a {}.",
    "a neuromorphic sample of the {}.", "an event camera view of a {}.", "brightness changes caused by a {}.",
    "polarity events of a {}.", "on and off events of a {}.",
    "an event recording of a {} seen by a moving sensor.", "an event recording of a {} from a saccading camera.",
    "an event camera recording of a small {}.", "an event camera recording of a large {}.",
    "an event camera recording of many {}.", "an event camera recording of one {}.",
    "an event camera recording of my {}.", "an accumulated event image of a {}.", "a time surface of a {}.",
    "a voxel grid of events from a {}.", "an event camera clip of the {}.", "a low latency recording of a {}.",
    "a silhouette of a {} from an event camera.", "the outline of a {} in an event stream.",
    "a blurry event image of a {}.", "a sharp event image of the {}.", "a neuromorphic vision recording of a {}.",
)
