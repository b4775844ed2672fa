"""The console's pages under /ui: sign-in, jobs, an evaluation, an audit, a training run and
the adapters. Thin handlers: the job services' APIs give the data (`backends`), the store gives
the bundles (`bundles`), the view modules shape it and the templates draw it."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs, quote, urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from advisor_shared.bundle import BundleRef
from advisor_shared.errors import InvalidNameError

from ..errors import InferenceError
from . import charts
from .backends import KINDS, BackendError, Kind
from .bundles import (
    adapter_catalog,
    handoff_markers,
    loss_series,
    lr_series,
    read_bundle_view,
    session_label,
)
from .evaluation_view import (
    answer_cells,
    candidate_intervals,
    headline_cards,
    percent,
    verdict_text,
)
from .jobs import FINISHED, ago, job_row, list_jobs
from .session import COOKIE, COOKIE_PATH, Session
from .state import ConsoleState

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
TEMPLATES.env.globals.update(percent=percent, verdict_text=verdict_text, ago=ago)
router = APIRouter(prefix="/ui", include_in_schema=False)
STATUSES = ("queued", "running", "succeeded", "failed", "cancelled")


class LoginRequired(Exception):
    """No valid session: a page is sent to the sign-in form, anything else gets 401."""


def state_of(request: Request) -> ConsoleState:
    return request.app.state.console


def current_session(request: Request) -> Session:
    session = state_of(request).codec.open(request.cookies.get(COOKIE))
    if session is None:
        raise LoginRequired()
    return session


SessionDep = Annotated[Session, Depends(current_session)]
StateDep = Annotated[ConsoleState, Depends(state_of)]


def page(
    request: Request, name: str, session: Session | None, status_code: int = 200, **context: Any
) -> HTMLResponse:
    state = state_of(request)
    return TEMPLATES.TemplateResponse(
        request,
        name,
        {
            "session": session,
            "flower_url": state.flower_url,
            "nav": context.pop("nav", ""),
            **context,
        },
        status_code=status_code,
    )


def safe_next(target: str | None) -> str:
    """Only a console path may follow sign-in (no open redirect to another site)."""
    if target and target.startswith("/ui/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/ui/jobs"


async def form_fields(request: Request) -> dict[str, str]:
    """An urlencoded form body (the only kind the console's forms send)."""
    body = (await request.body()).decode("utf-8", errors="replace")
    return {name: values[0] for name, values in parse_qs(body, keep_blank_values=True).items()}


async def checked_form(request: Request, session: Session) -> dict[str, str]:
    """The form of a state-changing request, after its CSRF token is checked."""
    fields = await form_fields(request)
    token = request.headers.get("x-csrf-token") or fields.get("csrf")
    if not state_of(request).codec.csrf_ok(session, token):
        raise BackendError("the form expired; reload the page and try again", status=403)
    return fields


def wants_json(request: Request) -> bool:
    return request.headers.get("x-requested-with") == "console"


def back(target: str, **notice: str) -> RedirectResponse:
    query = urlencode({k: v for k, v in notice.items() if v})
    return RedirectResponse(target + ("?" + query if query else ""), status_code=303)


# Sign-in.


@router.get("")
def root(session: SessionDep) -> RedirectResponse:
    return RedirectResponse("/ui/jobs", status_code=303)


@router.get("/login")
def login_form(request: Request, next: str | None = None) -> Response:
    if state_of(request).codec.open(request.cookies.get(COOKIE)) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return page(request, "login.html", None, next=safe_next(next), login_error=None)


@router.post("/login")
async def login(request: Request) -> Response:
    """Check the key, then keep it in the session cookie (never in a URL)."""
    fields = await form_fields(request)
    codec = state_of(request).codec
    key = fields.get("key", "")
    target = safe_next(fields.get("next"))
    if codec.scope_of(key) is None:
        return page(
            request,
            "login.html",
            None,
            401,
            next=target,
            login_error="That key is not accepted here.",
        )
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        COOKIE,
        codec.seal(key),
        max_age=codec.ttl_s,
        path=COOKIE_PATH,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


@router.post("/logout")
async def logout(request: Request, session: SessionDep) -> Response:
    await checked_form(request, session)
    response = RedirectResponse("/ui/login", status_code=303)
    response.delete_cookie(COOKIE, path=COOKIE_PATH)
    return response


# Jobs.


def _job_filters(kind: str | None, status: str | None) -> tuple[list[Kind], str | None]:
    kinds: list[Kind] = [kind] if kind in KINDS else list(KINDS)
    return kinds, status if status in STATUSES else None


@router.get("/jobs")
async def jobs_page(
    request: Request,
    session: SessionDep,
    state: StateDep,
    kind: str | None = None,
    status: str | None = None,
    notice: str | None = None,
    error: str | None = None,
) -> HTMLResponse:
    kinds, chosen = _job_filters(kind, status)
    listing = await list_jobs(
        state.backends, session.key, admin=session.admin, kinds=kinds, status=chosen
    )
    query = urlencode({k: v for k, v in (("kind", kind), ("status", chosen)) if v})
    return page(
        request,
        "jobs.html",
        session,
        nav="jobs",
        listing=listing,
        kind=kind or "",
        status=chosen or "",
        statuses=STATUSES,
        kinds=KINDS,
        query=query,
        notice=notice,
        error=error,
    )


@router.get("/jobs/rows")
async def jobs_rows(
    request: Request,
    session: SessionDep,
    state: StateDep,
    kind: str | None = None,
    status: str | None = None,
) -> HTMLResponse:
    """The table body alone, which the page's script fetches every few seconds."""
    kinds, chosen = _job_filters(kind, status)
    listing = await list_jobs(
        state.backends, session.key, admin=session.admin, kinds=kinds, status=chosen
    )
    return page(request, "_job_rows.html", session, listing=listing)


@router.post("/jobs/{kind}/{job_id}/cancel")
async def cancel_job(
    request: Request, kind: str, job_id: str, session: SessionDep, state: StateDep
) -> Response:
    fields = await checked_form(request, session)
    if kind not in KINDS:
        raise BackendError(f"no job kind {kind[:20]!r}", status=404)
    path = f"{KINDS[kind].path}/{quote(job_id, safe='')}/cancel"
    try:
        job = await state.backends.call(kind, "POST", path, session.key)
    except BackendError as exc:
        if wants_json(request):
            return JSONResponse({"error": exc.message}, status_code=exc.status)
        return back(safe_next(fields.get("next")), error=exc.message)
    if wants_json(request):
        return JSONResponse(
            {
                "id": job["id"],
                "status": job["status"],
                "cancel_requested_at": job.get("cancel_requested_at"),
            }
        )
    return back(safe_next(fields.get("next")), notice=f"cancel requested for {job_id}")


@router.get("/jobs/{kind}/{job_id}/status")
async def job_status(
    request: Request, kind: str, job_id: str, session: SessionDep, state: StateDep
) -> HTMLResponse:
    """One job's status, progress and cancel button: the live block of a detail page."""
    if kind not in KINDS:
        raise BackendError(f"no job kind {kind[:20]!r}", status=404)
    path = f"{KINDS[kind].path}/{quote(job_id, safe='')}"
    job = await state.backends.call(kind, "GET", path, session.key)
    return page(request, "_job_status.html", session, row=job_row(kind, job, admin=session.admin))


# An evaluation.


@router.get("/evaluations/{job_id}")
async def evaluation_page(
    request: Request,
    job_id: str,
    session: SessionDep,
    state: StateDep,
    topic: Annotated[str | None, Query(max_length=100)] = None,
    disagreement: bool = False,
    confident_error: bool = False,
    cursor: Annotated[str | None, Query(max_length=12, pattern=r"^[0-9]+$")] = None,
) -> HTMLResponse:
    backends, key = state.backends, session.key
    base = f"/v1/evaluations/{quote(job_id, safe='')}"
    job = await backends.call("evaluation", "GET", base, key)
    report: dict[str, Any] | None = None
    if job["status"] == "succeeded":
        report = await backends.call("evaluation", "GET", f"{base}/report", key)
    params: dict[str, Any] = {
        "limit": 10,
        "disagreement": disagreement,
        "confident_error": confident_error,
    }
    if topic:
        params["topic"] = topic
    if cursor:
        params["cursor"] = cursor
    samples, samples_problem = None, None
    try:
        samples = await backends.call("evaluation", "GET", f"{base}/samples", key, params=params)
    except BackendError as exc:
        samples_problem = exc.message
    filters = {
        "topic": topic or "",
        "disagreement": disagreement,
        "confident_error": confident_error,
    }
    rows = [(row, answer_cells(row)) for row in (samples or {}).get("data", [])]
    offset = int(cursor or 0)
    filter_query = urlencode({k: ("true" if v is True else v) for k, v in filters.items() if v})
    return page(
        request,
        "evaluation.html",
        session,
        nav="jobs",
        job=job,
        report=report,
        row=job_row("evaluation", job, admin=session.admin),
        cards=headline_cards(report) if report else [],
        samples=samples,
        rows=rows,
        samples_problem=samples_problem,
        filters=filters,
        offset=offset,
        filter_query=filter_query,
        finished=job["status"] in FINISHED,
        bertscore_chart=(
            charts.interval_chart(
                candidate_intervals(report, "bertscore_f1"),
                title="BERTScore F1 by candidate",
                domain=_domain(candidate_intervals(report, "bertscore_f1")),
                percent=False,
            )
            if report
            else None
        ),
        baseline=_baseline(job, report),
    )


def _baseline(job: dict[str, Any], report: dict[str, Any] | None) -> str | None:
    """The candidate the others are compared with (the request's first when it names none)."""
    request = job.get("request") or {}
    candidates = request.get("candidates") or [None]
    return (report or {}).get("baseline") or request.get("baseline") or candidates[0]


def _domain(rows: list[charts.Interval]) -> tuple[float, float]:
    values = [v for r in rows for v in (r.value, r.low, r.high) if v is not None]
    if not values:
        return (0.0, 1.0)
    low, high = min(values + [0.0]), max(values)
    return (low, high + (high - low) * 0.05 or 1.0)


@router.get("/evaluations/{job_id}/plots/{name}")
async def evaluation_plot(job_id: str, name: str, session: SessionDep, state: StateDep) -> Response:
    path = f"/v1/evaluations/{quote(job_id, safe='')}/artifacts/{quote(name, safe='')}"
    data = await state.backends.call("evaluation", "GET", path, session.key, raw=True)
    return Response(data, media_type="image/png", headers={"Cache-Control": "private, max-age=300"})


# An audit.


@router.get("/audits/{job_id}")
async def audit_page(
    request: Request,
    job_id: str,
    session: SessionDep,
    state: StateDep,
    cursor: Annotated[str | None, Query(max_length=12, pattern=r"^[0-9]+$")] = None,
) -> HTMLResponse:
    backends, key = state.backends, session.key
    base = f"/v1/audits/{quote(job_id, safe='')}"
    job = await backends.call("audit", "GET", base, key)
    parts: list[dict[str, Any]] = []
    quarantine: list[dict[str, Any]] = []
    if job["status"] == "succeeded":
        summary = job.get("summary") or {}
        for part, title in (("answers", "Model answers"), ("data", "Training data")):
            if part not in summary:
                continue
            findings = await backends.call(
                "audit",
                "GET",
                f"{base}/findings",
                key,
                params={
                    "part": part,
                    "verdict": "contradicted",
                    "limit": 25,
                    "cursor": cursor or "0",
                },
            )
            rates = summary[part]
            classes = [
                charts.Interval(
                    name.replace("_", " "),
                    r.get("rate"),
                    low=r["wilson_ci"][0],
                    high=r["wilson_ci"][1],
                    note=f"({r['count']}/{r['n']})",
                )
                for name, r in rates.get("by_error_class", {}).items()
            ]
            parts.append(
                {
                    "name": part,
                    "title": title,
                    "summary": rates,
                    "findings": findings,
                    "class_chart": charts.interval_chart(
                        classes,
                        title=f"{title}: error rate by class",
                        domain=charts.share_domain(classes),
                    ),
                }
            )
        if "quarantine.jsonl" in job.get("files", {}):
            raw = await backends.call(
                "audit", "GET", f"{base}/files/quarantine.jsonl", key, raw=True
            )
            quarantine = [json.loads(line) for line in raw.decode().splitlines() if line.strip()]
    return page(
        request,
        "audit.html",
        session,
        nav="jobs",
        job=job,
        parts=parts,
        row=job_row("audit", job, admin=session.admin),
        quarantine=quarantine,
        offset=int(cursor or 0),
        finished=job["status"] in FINISHED,
    )


@router.get("/audits/{job_id}/source")
async def source_page(
    request: Request,
    job_id: str,
    session: SessionDep,
    state: StateDep,
    doc: Annotated[str, Query(max_length=500)],
    start: Annotated[int, Query(ge=0)],
    end: Annotated[int, Query(ge=0)],
    claim: Annotated[str | None, Query(max_length=2000)] = None,
    reason: Annotated[str | None, Query(max_length=2000)] = None,
) -> HTMLResponse:
    """The cited source document with the evidence span marked."""
    path = f"/v1/audits/{quote(job_id, safe='')}/sources/{quote(doc, safe='/')}"
    document = await state.backends.call("audit", "GET", path, session.key)
    text: str = document["text"]
    inside = 0 <= start <= end <= len(text)
    return page(
        request,
        "source.html",
        session,
        nav="jobs",
        job_id=job_id,
        document=document,
        before=text[:start] if inside else text,
        span=text[start:end] if inside else "",
        after=text[end:] if inside else "",
        claim=claim,
        reason=reason,
        span_found=inside and end > start,
    )


# Training runs.


@router.get("/training-jobs/{job_id}")
async def training_job_page(
    request: Request, job_id: str, session: SessionDep, state: StateDep
) -> HTMLResponse:
    job = await state.backends.call(
        "training", "GET", f"/v1/training-jobs/{quote(job_id, safe='')}", session.key
    )
    bundle = (job.get("result") or {}).get("bundle")
    run_name = ((job.get("request") or {}).get("config") or {}).get("run_name")
    ref = None
    try:
        ref = BundleRef.parse(bundle) if bundle else BundleRef.parse(run_name) if run_name else None
    except InvalidNameError:
        ref = None
    view = await asyncio.to_thread(read_bundle_view, state.store, ref) if ref else None
    if view is not None and view.manifest is None:
        view = None  # no bundle committed yet
    return _training(request, session, view, job)


@router.get("/training/{name}/{version}")
async def training_page(
    request: Request, name: str, version: str, session: SessionDep, state: StateDep
) -> HTMLResponse:
    try:
        ref = BundleRef.parse(f"{name}@{version}")
    except InvalidNameError as exc:
        raise BackendError(str(exc), status=404) from None
    view = await asyncio.to_thread(read_bundle_view, state.store, ref)
    return _training(request, session, view, None)


def _training(
    request: Request, session: Session, view: Any, job: dict[str, Any] | None
) -> HTMLResponse:
    ledger = view.ledger if view is not None else {}
    markers = handoff_markers(ledger)
    return page(
        request,
        "training.html",
        session,
        nav="adapters",
        job=job,
        view=view,
        ledger=ledger,
        loss_chart=charts.line_chart(
            loss_series(ledger),
            title="Loss across sessions",
            x_label="optimizer step",
            y_label="loss",
            markers=markers,
        ),
        lr_chart=charts.line_chart(
            lr_series(ledger),
            title="Learning rate across sessions",
            x_label="optimizer step",
            y_label="learning rate",
            markers=markers,
            height=200,
        ),
        session_label=session_label,
        finished=job is None or job["status"] in FINISHED,
        row=job_row("training", job, admin=session.admin) if job else None,
    )


# Adapters.


@router.get("/adapters")
async def adapters_page(
    request: Request,
    session: SessionDep,
    state: StateDep,
    notice: str | None = None,
    error: str | None = None,
) -> HTMLResponse:
    catalog = await asyncio.to_thread(adapter_catalog, state.store)
    loaded: dict[str, list[Any]] = {}
    for adapter in state.adapters.list():  # several versions of one name may be served
        loaded.setdefault(adapter.ref.name, []).append(adapter)
    return page(
        request,
        "adapters.html",
        session,
        nav="adapters",
        catalog=catalog,
        loaded=loaded,
        notice=notice,
        error=error,
        base=state.base,
        ready=bool(getattr(request.app.state, "started", False)),
    )


@router.post("/adapters/load")
async def load_adapter(request: Request, session: SessionDep, state: StateDep) -> Response:
    fields = await checked_form(request, session)
    if not session.admin:
        return back("/ui/adapters", error="loading an adapter needs an admin key")
    try:
        # Recorded like a load through the API: the gateway loads it again when it restarts.
        loaded = await state.adapters.load(fields.get("adapter", ""), record=True)
    except InferenceError as exc:
        return back("/ui/adapters", error=exc.message)
    return back("/ui/adapters", notice=f"loaded {loaded.ref}")


@router.post("/adapters/unload")
async def unload_adapter(request: Request, session: SessionDep, state: StateDep) -> Response:
    fields = await checked_form(request, session)
    if not session.admin:
        return back("/ui/adapters", error="unloading an adapter needs an admin key")
    try:
        unloaded = await state.adapters.unload(fields.get("adapter", ""))
    except InferenceError as exc:
        return back("/ui/adapters", error=exc.message)
    return back("/ui/adapters", notice="unloaded " + ", ".join(str(a.ref) for a in unloaded))
