"""UniBind point-cloud plugin.

Importing this package is cheap (no numpy or torch): the core imports
``unibind_plugin_pointcloud.plugin`` just to learn what it registers.
"""

__version__ = "0.1.0"
