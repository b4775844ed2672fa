"""The console driven in headless Chromium (Debian's `chromium`, through Playwright's
`executable_path`; no browser is downloaded) against real service processes on a copy of a
real demo run's store: sign-in with a key, a finished evaluation's table and a click through
to the source span that contradicts a claim, a running job cancelled from the jobs list, and
the refusal of every page without a session.

Each view is screenshotted on the way. `ADVISOR_SCREENSHOTS_DIR=docs/img` writes them where
the README shows them (see docs/console.md); otherwise they go to the test's temporary folder.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.console.stack import ADMIN_KEY, APP_KEY, ConsoleStack, start_stack

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]
CHROMIUM = os.environ.get("ADVISOR_CHROMIUM", "/usr/bin/chromium")
VIEWPORT = {"width": 1440, "height": 900}


def _browser_or_skip() -> str:
    """Chromium's path; a loud skip where it is not installed (make test installs it)."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.skip(
            "BROWSER TESTS SKIPPED: the `playwright` package is missing "
            "(pip install -r requirements-dev.txt)"
        )
    path = shutil.which(CHROMIUM) or (CHROMIUM if Path(CHROMIUM).is_file() else None)
    if path is None:
        pytest.skip(
            f"BROWSER TESTS SKIPPED: no Chromium at {CHROMIUM}; install Debian's "
            "`chromium` (make test does: apt-get install -y chromium)"
        )
    return path


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleStack]:
    _browser_or_skip()
    running = start_stack(tmp_path_factory.mktemp("console"))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def browser(stack: ConsoleStack) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=_browser_or_skip(), args=["--no-sandbox"]
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, stack: ConsoleStack) -> Iterator[object]:  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport=VIEWPORT, base_url=stack.gateway)
    tab = context.new_page()
    tab.set_default_timeout(20_000)
    yield tab
    context.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = os.environ.get("ADVISOR_SCREENSHOTS_DIR")
    return Path(folder) if folder else tmp_path_factory.mktemp("screenshots")


def shoot(page, path: Path, max_height: int = 1700, top: float = 0) -> None:  # type: ignore[no-untyped-def]
    """The page from `top`, at most `max_height` pixels of it (a view, not a scroll)."""
    height = min(max_height, page.evaluate("document.documentElement.scrollHeight") - top)
    page.screenshot(
        path=str(path),
        full_page=True,
        clip={"x": 0, "y": top, "width": VIEWPORT["width"], "height": height},
    )


def sign_in(page, key: str = ADMIN_KEY) -> None:  # type: ignore[no-untyped-def]
    page.goto("/ui/login")
    page.fill("#key", key)
    page.click("button[type=submit]")
    page.wait_for_url("**/ui/jobs")


def test_without_a_session_pages_send_to_sign_in_and_the_rest_is_401(page, stack) -> None:
    page.goto("/ui/jobs?kind=evaluation")
    assert page.url.startswith(f"{stack.gateway}/ui/login?next=")
    fragment = page.request.get("/ui/jobs/rows")
    cancel = page.request.post("/ui/jobs/evaluation/eval-x/cancel")
    assert (fragment.status, cancel.status) == (401, 401)
    page.fill("#key", "not-a-key")
    page.click("button[type=submit]")
    assert page.locator(".login .flash-error").inner_text() == "That key is not accepted here."
    # The key goes in the form body only: it is in no URL the browser visited.
    page.fill("#key", APP_KEY)
    page.click("button[type=submit]")
    page.wait_for_url("**/ui/jobs?kind=evaluation")
    assert APP_KEY not in page.url
    assert page.locator(".scope").inner_text() == "app key"


def test_a_finished_evaluation_and_a_contradicted_claim_down_to_its_source(
    page, stack, shots: Path
) -> None:
    sign_in(page)
    page.locator("tr", has=page.locator(".pill-succeeded")).locator(
        "a.job-link[href^='/ui/evaluations/']"
    ).first.click()
    page.wait_for_selector("table.matrix tbody tr")
    page.wait_for_load_state("networkidle")  # the report's plots
    assert page.locator(".card").count() >= 2
    rows = page.locator("table.matrix tbody tr")
    assert rows.count() >= 2
    assert "BERTScore" in rows.first.inner_text()
    shoot(page, shots / "console-evaluation.png")
    page.check("input[name=confident_error]")
    page.click(".section-head button[type=submit]")
    page.wait_for_url("**confident_error=true**")
    answers = page.locator("section.panel", has=page.locator("table.matrix"))
    shoot(page, shots / "console-answers.png", 1100, top=answers.bounding_box()["y"] - 16)
    claim = page.locator("a.claim").first
    claimed = claim.inner_text()
    claim.click()
    page.wait_for_url("**/source?**")
    span = page.locator("mark#span")
    assert span.is_visible() and span.inner_text().strip()
    assert claimed.strip() in page.locator(".claim-callout").inner_text()
    shoot(page, shots / "console-source.png", 1100)


def test_the_audit_training_and_adapter_views(page, stack, shots: Path) -> None:
    sign_in(page)
    page.goto("/ui/jobs?kind=audit")
    page.locator("tr", has_text="training data, gated").locator("a.job-link").first.click()
    page.wait_for_selector("text=Quarantine")
    assert page.locator("table.findings tbody tr").count() >= 5
    shoot(page, shots / "console-audit.png")
    page.locator("table.findings a.source-link").first.click()
    assert page.locator("mark#span").inner_text().strip()
    page.goto("/ui/adapters")
    names = page.locator("table.adapters tbody tr")
    assert names.count() >= 2
    shoot(page, shots / "console-adapters.png", 900)
    page.locator("table.adapters a", has_text="demo-ungated").first.click()
    page.wait_for_selector("svg.chart .marker", state="attached")
    assert "handoff" in page.locator("svg.chart").first.inner_html()
    assert page.locator("table.table tbody tr").count() == 2  # two sessions in the ledger
    shoot(page, shots / "console-training.png")


def test_a_running_job_is_cancelled_from_the_list(page, stack, shots: Path) -> None:
    items = [
        {"id": f"q{i}", "prompt": f"Which permit for case {i}?", "reference": "A visa."}
        for i in range(8)
    ]
    job = httpx.post(
        f"{stack.evaluator}/v1/evaluations",
        headers={"Authorization": f"Bearer {APP_KEY}"},
        json={"dataset": {"items": items}, "candidates": ["base", "tuned"], "metrics": ["rouge_l"]},
        timeout=30,
    ).json()
    sign_in(page)
    row = page.locator(f"tr[data-job='{job['id']}']")
    row.locator(".pill-running").wait_for()
    shoot(page, shots / "console-jobs.png", 900)
    page.on("dialog", lambda dialog: dialog.accept())
    row.locator("button", has_text="Cancel").click()
    row.locator(".pill-cancelling, .pill-cancelled").first.wait_for()
    shoot(page, shots / "console-cancelling.png", 900)
    row.locator(".pill-cancelled").wait_for(timeout=30_000)  # the list refreshes by itself
    final = httpx.get(
        f"{stack.evaluator}/v1/evaluations/{job['id']}",
        headers={"Authorization": f"Bearer {APP_KEY}"},
    ).json()
    assert final["status"] == "cancelled"
    assert row.locator("button", has_text="Cancel").count() == 0
