"""Shared core of advisor-stack: every service depends on this package, never on each other."""

__version__ = "0.1.0"
