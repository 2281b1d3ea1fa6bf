"""UniBind depth plugin: the worked example of CONTRIBUTING.md.

Importing this package is cheap (no numpy, PIL or torch): the core imports
``unibind_plugin_depth.plugin`` just to learn what it registers.
"""

__version__ = "0.1.0"
