"""UniBind video plugin: PyAV decoding, frame sampling, per-frame and X-CLIP encoders.

Importing this package is cheap (no torch, numpy, PIL or av): the core imports
``unibind_plugin_video.plugin`` only to learn what the plugin registers.
"""

__version__ = "0.1.0"
