"""The in-process transformers engine (CPU or GPU): `HFEngine`. Imports torch: load lazily."""

from .engine import HFEngine

__all__ = ["HFEngine"]
