"""The console's pure parts: the sealed session cookie, the SVG charts, the cutting of answers
at contradicted claims, the headline cards and the job rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from advisor_inference.console.charts import (
    Interval,
    Marker,
    Series,
    interval_chart,
    line_chart,
    nice_ticks,
)
from advisor_inference.console.evaluation_view import answer_pieces, headline_cards
from advisor_inference.console.jobs import ago, job_row
from advisor_inference.console.session import SessionCodec

pytestmark = pytest.mark.unit


def codec(keys=("app-key-1",), admins=("admin-key-1",), ttl=3600) -> SessionCodec:
    return SessionCodec(list(keys), list(admins), ttl)


def test_a_cookie_opens_to_its_key_and_scope_and_hides_the_key() -> None:
    app, admin = codec().seal("app-key-1"), codec().seal("admin-key-1")
    assert "app-key-1" not in app
    opened = codec().open(app)
    assert opened is not None and (opened.key, opened.admin) == ("app-key-1", False)
    assert codec().open(admin).admin is True  # type: ignore[union-attr]
    assert codec().scope_of("nope") is None and codec().scope_of("") is None


def test_a_cookie_is_refused_when_forged_expired_or_its_key_is_gone() -> None:
    cookie = codec().seal("app-key-1")
    assert codec().open(cookie[:-4] + "AAAA") is None
    assert codec().open("x" * 5000) is None and codec().open(None) is None
    # Another deployment's keys seal with another secret.
    assert codec(keys=("other",)).open(codec(keys=("other",)).seal("other")) is not None
    assert codec().open(codec(keys=("app-key-1", "x")).seal("app-key-1")) is None
    # The key was removed from the configuration: its session ends.
    assert codec(keys=("app-key-2",)).open(codec(keys=("app-key-2",)).seal("app-key-1")) is None
    two_hours_ago = int(datetime.now(UTC).timestamp()) - 7200
    stale = codec()._fernet.encrypt_at_time(b'{"k": "app-key-1"}', two_hours_ago)  # noqa: SLF001
    assert codec(ttl=3600).open(stale.decode()) is None
    assert codec(ttl=3 * 3600).open(stale.decode()) is not None


def test_the_csrf_token_belongs_to_its_session() -> None:
    one, two = codec().seal("app-key-1"), codec().seal("app-key-1")
    session = codec().open(one)
    assert session is not None
    assert codec().csrf_ok(session, session.csrf)
    assert not codec().csrf_ok(session, codec().csrf_token(two))
    assert not codec().csrf_ok(session, None)


def test_ticks_cover_the_data() -> None:
    assert nice_ticks(2.5, 3.4) == [2.4, 2.6, 2.8, 3.0, 3.2, 3.4]
    assert nice_ticks(1, 12, 6) == [0, 2, 4, 6, 8, 10, 12]
    ticks = nice_ticks(0.0, 0.000183, 4)
    assert ticks[0] == 0.0 and ticks[-1] >= 0.000183


def test_charts_escape_labels_and_mark_the_handoff() -> None:
    svg = line_chart(
        [Series("loss <b>", [(1, 2.0), (2, 1.5), (3, 1.2)])],
        title="t&t",
        x_label="step",
        y_label="loss",
        markers=[Marker(2.5, "handoff → T4")],
    )
    assert "<b>" not in svg and "loss &lt;b&gt;" in svg and "t&amp;t" in svg
    assert svg.count('class="marker"') == 1 and "handoff → T4" in svg
    assert 'class="chart-empty"' in line_chart([Series("x", [])], title="e", x_label="", y_label="")
    bars = interval_chart(
        [Interval("number", 0.25, 0.1, 0.4, note="(3/12)"), Interval("date", None)], title="rates"
    )
    assert "25.0% [10–40%] (3/12)" in bars and "not measured" in bars
    assert bars.count('class="whisker"') == 3


def test_answers_are_cut_at_the_contradicted_claims_only_where_the_spans_fit() -> None:
    text = "The fee is EUR 90. Apply by March."
    pieces = answer_pieces(
        text, [{"start": 11, "end": 17}, {"start": 30, "end": 99}, {"start": 12, "end": 14}]
    )
    assert [(p.text, p.finding) for p in pieces] == [
        ("The fee is ", None),
        ("EUR 90", 0),
        (". Apply by March.", None),
    ]
    assert "".join(p.text for p in pieces) == text
    assert answer_pieces(None, []) == []


def test_headline_cards_read_the_report_with_its_intervals() -> None:
    report = {
        "baseline": "base",
        "candidates": [
            {"name": "base", "confident_errors": 0, "generations": 12},
            {"name": "tuned", "confident_errors": 3, "generations": 12},
        ],
        "judge_bias": {"reliable": False},
        "comparisons": [
            {
                "challenger": "tuned",
                "bertscore_f1_delta": {"value": 0.063, "low": 0.047, "high": 0.079, "n": 12},
                "judge": {
                    "pairs": 12,
                    "win": 2,
                    "tie": 6,
                    "loss": 4,
                    "net_preference": {"value": -0.17, "low": -0.5, "high": 0.17},
                },
            }
        ],
    }
    groups = headline_cards(report)
    assert [(g.candidate, g.role) for g in groups] == [
        ("tuned", "challenger"),
        ("base", "baseline"),
    ]
    fidelity, preference, correctness = groups[0].cards
    assert (fidelity.title, fidelity.value, fidelity.tone) == ("Fidelity", "+0.063", "good")
    assert fidelity.interval == "95% CI [+0.047, +0.079]" and "vs base" in fidelity.subject
    assert preference.tone == "muted" and "no evidence" in preference.reading
    assert (correctness.value, correctness.unit, correctness.tone) == ("3", "errors", "bad")
    assert [(c.title, c.tone) for c in groups[1].cards] == [("Correctness", "good")]


def test_job_rows_say_who_may_cancel_and_how_old_they_are() -> None:
    created = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    job = {
        "id": "train-1",
        "status": "running",
        "created_at": created,
        "progress": {"train": {"done": 3, "total": 12}},
        "request": {"config": {"run_name": "advisor"}},
    }
    assert job_row("training", job, admin=False).can_cancel is False
    row = job_row("training", job, admin=True)
    assert (row.can_cancel, row.title, row.age, row.url) == (
        True,
        "advisor",
        "5 min ago",
        "/ui/training-jobs/train-1",
    )
    assert row.stages[0].percent == 25
    cancelling = job_row("audit", {**job, "id": "a", "cancel_requested_at": created}, admin=True)
    assert cancelling.cancelling and not cancelling.can_cancel
    assert job_row("audit", {**job, "status": "cancelled"}, admin=True).can_cancel is False
    assert ago("not a time") == "" and ago(None) == ""
