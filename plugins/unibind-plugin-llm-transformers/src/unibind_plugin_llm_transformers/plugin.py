"""Hook implementations (filled in as the plugin grows)."""

from unibind.hookspecs import hookimpl  # noqa: F401
