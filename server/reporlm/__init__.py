"""reporlm: ask questions about a whole repository with a Recursive Language Model."""

__version__ = "0.1.0"
