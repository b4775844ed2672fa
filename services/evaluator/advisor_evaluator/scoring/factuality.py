"""Factuality through the auditor service (issue 5): every answer of a candidate goes to
`POST /v1/audits` as a JSONL of single-turn conversations; the finished audit's confident-error
count and each answer's claim counts (supported, contradicted, unverifiable, confident errors)
go into the report. Without a configured auditor the stage is skipped with that reason
(decided when the plan is made)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import httpx

from ..errors import EndpointRejected, EndpointUnavailable, JobCancelled


def answers_jsonl(items: list[dict[str, Any]], answers: list[str]) -> str:
    """The answers to the plan's `items` (same order) in the dataset contract, one
    conversation per line."""
    lines = []
    for item, answer in zip(items, answers, strict=True):
        record: dict[str, Any] = {
            "id": item["id"],
            "messages": [
                {"role": "user", "content": item["prompt"]},
                {"role": "assistant", "content": answer or "(empty answer)"},
            ],
        }
        if item.get("topic"):
            record["topic"] = item["topic"]
        lines.append(json.dumps(record, ensure_ascii=False))
    return "\n".join(lines) + "\n"


def _confident_errors(payload: Any) -> int | None:
    """The confident-error count wherever the auditor's summary puts it."""
    if isinstance(payload, dict):
        for key in ("confident_errors", "confident_error_count"):
            value = payload.get(key)
            if isinstance(value, int):
                return value
            if isinstance(value, list):
                return len(value)
        for value in payload.values():
            found = _confident_errors(value)
            if found is not None:
                return found
    return None


def _per_answer(
    job: dict[str, Any], items: list[dict[str, Any]]
) -> dict[str, dict[str, int]] | None:
    """The auditor's per-answer counts, re-keyed from the item id sent to the plan's item key;
    None from an auditor that reports only totals."""
    summary = job.get("summary") or (job.get("result") or {}).get("summary") or {}
    per_answer = (summary.get("answers") or {}).get("per_answer")
    if not isinstance(per_answer, dict):
        return None
    keys = {item["id"]: item["key"] for item in items}
    return {keys[item_id]: counts for item_id, counts in per_answer.items() if item_id in keys}


class AuditorClient:
    """Submit an answers audit, wait for it, return its summary."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        timeout_s: float,
        transport: httpx.BaseTransport | None = None,
    ):
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.http = httpx.Client(
            base_url=base_url.rstrip("/"), headers=headers, timeout=60.0, transport=transport
        )
        self.timeout_s = timeout_s

    def _call(self, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = self.http.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            raise EndpointUnavailable(f"auditor {method} {url}: {type(exc).__name__}") from exc
        if response.status_code == 429 or response.status_code >= 500:
            raise EndpointUnavailable(f"auditor {method} {url}: HTTP {response.status_code}")
        if response.status_code >= 400:
            raise EndpointRejected(
                f"auditor {method} {url}: HTTP {response.status_code} ({response.text[:300]})"
            )
        return dict(response.json())

    def audit(
        self,
        answers: str,
        idempotency_key: str,
        poll_interval_s: float,
        should_stop: Callable[[], bool] = lambda: False,
    ) -> dict[str, Any]:
        """Submit, then wait for the audit; `should_stop` (the evaluation was cancelled) stops
        the wait and asks the auditor to cancel its job too."""
        job = self._call(
            "POST",
            "/v1/audits",
            json={"answers": answers},
            headers={"Idempotency-Key": idempotency_key},
        )
        deadline = time.monotonic() + self.timeout_s
        while job.get("status") not in ("succeeded", "failed", "cancelled"):
            if should_stop():
                self._cancel_quietly(str(job.get("id")))
                raise JobCancelled(f"evaluation cancelled while auditor job {job.get('id')} ran")
            if time.monotonic() > deadline:
                raise EndpointUnavailable(f"auditor job {job.get('id')} did not finish in time")
            time.sleep(poll_interval_s)
            job = self._call("GET", f"/v1/audits/{job['id']}")
        if job["status"] == "cancelled":
            raise EndpointRejected(f"auditor job {job.get('id')} was cancelled")
        if job["status"] == "failed":
            raise EndpointRejected(f"auditor job {job.get('id')} failed: {job.get('error')}")
        return job

    def _cancel_quietly(self, job_id: str) -> None:
        """Best effort: the auditor's job is only a part of ours, and an auditor that does not
        answer must not keep the evaluation from being cancelled."""
        try:
            self.http.post(f"/v1/audits/{job_id}/cancel")
        except httpx.HTTPError:
            pass


def audit_outcome(job: dict[str, Any], items: list[dict[str, Any]]) -> dict[str, Any]:
    """What the report keeps of a finished audit of the answers to `items`."""
    return {
        "audit_id": job.get("id"),
        "confident_errors": _confident_errors(job.get("result") or job.get("summary") or job),
        "answers": _per_answer(job, items),
        "links": job.get("links") or job.get("result"),
    }
