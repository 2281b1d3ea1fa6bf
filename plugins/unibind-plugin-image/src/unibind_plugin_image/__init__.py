"""UniBind image plugin. Importing this package is cheap; heavy parts load on first use."""

__version__ = "0.1.0"
