"""JSON schemas for KEDA's ScaledObject and TriggerAuthentication (keda.sh/v1alpha1).

kubernetes-validate bundles only the built-in kinds, so KEDA's CRDs are checked here instead.
The schemas follow the openAPIV3Schema of KEDA 2.x's CRDs for the fields KEDA defines
(required `scaleTargetRef.name` and `triggers[].type`/`metadata`, trigger metadata as a map of
strings), and refuse any other field so that a misspelling fails like it would with
`kubectl apply --validate=strict`. Status and rarely used fields (fallback, advanced, vault
and cloud secret providers) are left out: a manifest using them fails here on purpose.
"""

from __future__ import annotations

from typing import Any

_METADATA = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": {"type": "string"},
        "namespace": {"type": "string"},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
    },
    "additionalProperties": False,
}


def _object(kind: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "apiVersion": {"const": "keda.sh/v1alpha1"},
            "kind": {"const": kind},
            "metadata": _METADATA,
            "spec": spec,
        },
        "additionalProperties": False,
    }


_INT32 = {"type": "integer", "minimum": 0, "maximum": 2**31 - 1}

SCALED_OBJECT = _object(
    "ScaledObject",
    {
        "type": "object",
        "required": ["scaleTargetRef", "triggers"],
        "properties": {
            "scaleTargetRef": {
                "type": "object",
                "required": ["name"],
                "properties": {
                    "apiVersion": {"type": "string"},
                    "kind": {"type": "string"},
                    "name": {"type": "string"},
                    "envSourceContainerName": {"type": "string"},
                },
                "additionalProperties": False,
            },
            "pollingInterval": _INT32,
            "initialCooldownPeriod": _INT32,
            "cooldownPeriod": _INT32,
            "idleReplicaCount": _INT32,
            "minReplicaCount": _INT32,
            "maxReplicaCount": _INT32,
            "triggers": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "required": ["type", "metadata"],
                    "properties": {
                        "type": {"type": "string"},
                        "name": {"type": "string"},
                        "metricType": {"enum": ["AverageValue", "Value", "Utilization"]},
                        "useCachedMetrics": {"type": "boolean"},
                        "metadata": {
                            "type": "object",
                            "additionalProperties": {"type": "string"},
                        },
                        "authenticationRef": {
                            "type": "object",
                            "required": ["name"],
                            "properties": {
                                "name": {"type": "string"},
                                "kind": {
                                    "enum": [
                                        "TriggerAuthentication",
                                        "ClusterTriggerAuthentication",
                                    ]
                                },
                            },
                            "additionalProperties": False,
                        },
                    },
                    "additionalProperties": False,
                },
            },
        },
        "additionalProperties": False,
    },
)

TRIGGER_AUTHENTICATION = _object(
    "TriggerAuthentication",
    {
        "type": "object",
        "properties": {
            "secretTargetRef": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["parameter", "name", "key"],
                    "properties": {
                        "parameter": {"type": "string"},
                        "name": {"type": "string"},
                        "key": {"type": "string"},
                    },
                    "additionalProperties": False,
                },
            },
            "env": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["parameter", "name"],
                    "properties": {
                        "parameter": {"type": "string"},
                        "name": {"type": "string"},
                        "containerName": {"type": "string"},
                    },
                    "additionalProperties": False,
                },
            },
        },
        "additionalProperties": False,
    },
)

KEDA_SCHEMAS = {"ScaledObject": SCALED_OBJECT, "TriggerAuthentication": TRIGGER_AUTHENTICATION}
