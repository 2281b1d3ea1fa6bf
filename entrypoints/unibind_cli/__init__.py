"""The ``unibind`` command line: a thin front door over the library."""
