"""Drawing ON/OFF activity maps as RGB pictures an image encoder can see.

``red-blue`` (the default) is EventCLIP's rendering: a white page, ON events
in red, OFF events in blue, each pixel mixed by how active it is:
``R = 1 - off, G = 1 - on - off, B = 1 - on``. The two polarities stay apart
(an edge that fires both does not cancel out), and an ImageNet or CLIP
encoder sees something like a coloured drawing on paper, a kind of picture it
was trained on. ``grey`` is the other common convention: mid-grey background,
ON brighter and OFF darker, the same value in all three channels; it cancels
mixed pixels but suits encoders trained on intensity-like inputs.

Pure numpy and PIL: a user can look at exactly what the encoder sees.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from unibind_plugin_event.events import EventStream
from unibind_plugin_event.representations import OFF, ON, event_maps
from unibind_plugin_event.settings import EventRenderSettings


def colourise(maps: np.ndarray, colour: str = "red-blue") -> np.ndarray:
    """``[2, H, W]`` ON/OFF activity in [0, 1] -> ``[H, W, 3]`` RGB in [0, 1]."""
    on, off = maps[ON], maps[OFF]
    if colour == "red-blue":
        rgb = np.stack([1.0 - off, 1.0 - on - off, 1.0 - on], axis=-1)
    elif colour == "grey":
        rgb = np.repeat((0.5 + 0.5 * (on - off))[..., None], 3, axis=-1)
    else:
        raise ValueError(f"unknown colour {colour!r}")
    return np.clip(rgb, 0.0, 1.0)


def to_images(maps: np.ndarray, colour: str = "red-blue") -> list[Image.Image]:
    """``[n, 2, H, W]`` activity maps -> ``n`` 8-bit RGB pictures of the sensor's size."""
    return [Image.fromarray(np.round(colourise(m, colour) * 255).astype(np.uint8)) for m in maps]


def render(stream: EventStream, settings: EventRenderSettings | None = None) -> list[Image.Image]:
    """The pictures the event-render encoder shows its image encoder, one per time slice."""
    settings = settings or EventRenderSettings()
    return to_images(event_maps(stream, settings), settings.colour)


def contact_sheet(images: list[Image.Image], scale: int = 4) -> Image.Image:
    """The slices side by side, enlarged ``scale`` times (nearest neighbour), for looking at."""
    width, height = images[0].size
    sheet = Image.new("RGB", (width * scale * len(images) + 2 * (len(images) - 1), height * scale), "black")
    for i, image in enumerate(images):
        sheet.paste(image.resize((width * scale, height * scale), Image.NEAREST), (i * (width * scale + 2), 0))
    return sheet
