"""Inference engines behind one interface (`Engine`): the HF engine in-process, or vLLM."""

from .base import (
    Engine,
    EngineHealth,
    EngineInfo,
    GenerationRequest,
    GenerationResult,
    SamplingParams,
    StreamDelta,
)

__all__ = [
    "Engine",
    "EngineHealth",
    "EngineInfo",
    "GenerationRequest",
    "GenerationResult",
    "SamplingParams",
    "StreamDelta",
]
