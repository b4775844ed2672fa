"""Prometheus metrics of the gateway, in a registry per app (tests build many apps)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 60, 120)


class GatewayMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "advisor_inference_requests",
            "Chat completion requests by model and outcome.",
            ["model", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "advisor_inference_request_seconds",
            "Chat completion latency (to the last token).",
            ["model", "stream"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.tokens = Counter(
            "advisor_inference_tokens",
            "Tokens processed, by model and kind (prompt/completion).",
            ["model", "kind"],
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "advisor_inference_in_flight",
            "Chat completions being generated now.",
            registry=self.registry,
        )
        self.rejections = Counter(
            "advisor_inference_rejections",
            "Requests refused before generation, by reason.",
            ["reason"],
            registry=self.registry,
        )
        self.adapter_loads = Counter(
            "advisor_inference_adapter_loads",
            "Adapter load attempts by outcome.",
            ["outcome"],
            registry=self.registry,
        )

    def count_tokens(self, model: str, prompt: int, completion: int) -> None:
        self.tokens.labels(model, "prompt").inc(prompt)
        self.tokens.labels(model, "completion").inc(completion)
