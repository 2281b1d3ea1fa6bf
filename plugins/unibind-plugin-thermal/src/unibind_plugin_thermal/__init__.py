"""UniBind thermal plugin: radiometric and rendered thermal images, embedded by an image encoder.

Importing this package is cheap (no numpy, PIL or torch): the core imports
``unibind_plugin_thermal.plugin`` just to learn what it registers.
"""

__version__ = "0.1.0"
