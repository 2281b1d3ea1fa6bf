"""The core's version, in a leaf module every layer may import (the package root is a facade)."""

__version__ = "0.1.0"
