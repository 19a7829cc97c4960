"""autoresearch: an autonomous research loop that keeps only real improvements."""

__version__ = "0.1.0"
