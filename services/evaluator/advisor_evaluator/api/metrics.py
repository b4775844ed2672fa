"""Prometheus metrics of the evaluator API (one registry per app, so tests do not collide)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, generate_latest


class EvaluatorMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.submissions = Counter(
            "evaluator_submissions",
            "Evaluation submissions by outcome",
            ["outcome"],
            registry=self.registry,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
