"""Unigate: a self-hosted AI gateway."""

__version__ = "0.1.0"
