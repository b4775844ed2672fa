"""`check_hub_model` against a hub on loopback that answers as huggingface.co does: one request
tells a gated model, an unknown id and a repository without config.json apart, each refused
with one line naming what to do; a model that can be had passes; so does a cached one offline."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from advisor_shared.errors import ModelResolutionError
from advisor_shared.models import BASE_ALTERNATIVES, check_base_model, check_hub_model

pytestmark = pytest.mark.unit

# repo id -> (status, X-Error-Code) for HEAD /<repo>/resolve/main/config.json
ANSWERS = {
    "acme/open": (200, None),
    "acme/gated": (401, "GatedRepo"),
    "acme/missing": (404, "RepoNotFound"),
    "acme/not-a-model": (404, "EntryNotFound"),
    "acme/broken": (500, None),
}


class FakeHub(BaseHTTPRequestHandler):
    requests: list[str] = []

    def do_HEAD(self) -> None:  # noqa: N802 - the http.server API
        FakeHub.requests.append(self.path)
        repo = self.path.split("/resolve/")[0].lstrip("/")
        status, code = ANSWERS.get(repo, (404, "RepoNotFound"))
        self.send_response(status)
        if code:
            self.send_header("X-Error-Code", code)
        self.send_header("Content-Length", "0")
        self.send_header("ETag", '"abc"')
        self.send_header("X-Repo-Commit", "0" * 40)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture
def hub(monkeypatch) -> Iterator[str]:
    from huggingface_hub import constants

    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeHub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    monkeypatch.setattr(constants, "ENDPOINT", endpoint)
    template = endpoint + "/{repo_id}/resolve/{revision}/{filename}"
    monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE", template)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    FakeHub.requests = []
    yield endpoint
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    ("repo", "says"),
    [
        ("acme/gated", "is gated: accept its licence at {endpoint}/acme/gated and set HF_TOKEN"),
        ("acme/missing", "does not exist on the hub (or is private: set HF_TOKEN)"),
        ("acme/not-a-model", "has no config.json on the hub: not a transformers model"),
        (
            "acme/broken",
            "is not in the local Hugging Face cache and the hub ({endpoint}) cannot be reached",
        ),
    ],
)
def test_each_reason_is_one_line_with_the_alternatives(hub: str, repo: str, says: str) -> None:
    started = time.monotonic()
    with pytest.raises(ModelResolutionError) as caught:
        check_base_model(repo)
    message = str(caught.value)
    assert message.startswith(f"base model {repo!r} ") and says.format(endpoint=hub) in message
    assert BASE_ALTERNATIVES in message and "\n" not in message
    assert len(FakeHub.requests) == 1  # one request, no retries
    assert time.monotonic() - started < 5


def test_a_model_that_can_be_had_passes(hub: str) -> None:
    check_base_model("acme/open")
    assert FakeHub.requests == ["/acme/open/resolve/main/config.json"]


def test_offline_a_cached_model_passes_and_an_uncached_one_is_refused(
    monkeypatch, tmp_path
) -> None:
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    snapshot = tmp_path / "models--acme--cached" / "snapshots" / ("1" * 40)
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text("{}")
    (tmp_path / "models--acme--cached" / "refs").mkdir()
    (tmp_path / "models--acme--cached" / "refs" / "main").write_text("1" * 40)
    check_hub_model("acme/cached", "base model", alternatives=BASE_ALTERNATIVES)
    with pytest.raises(ModelResolutionError, match=r"the hub is offline \(HF_HUB_OFFLINE\)"):
        check_hub_model("acme/elsewhere", "base model", alternatives=BASE_ALTERNATIVES)
