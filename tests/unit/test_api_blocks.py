"""The shared FastAPI blocks: error shape, 400 with bounded echo, API keys, 413, request ids."""

from __future__ import annotations

import pytest
from fastapi import APIRouter, Depends, FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel, Field

from advisor_shared.api import ApiError, ApiKeyChecker, install_common

pytestmark = pytest.mark.unit


class Item(BaseModel):
    name: str = Field(max_length=10)
    count: int = Field(ge=1, le=5)


def _client() -> TestClient:
    app = FastAPI()
    install_common(app, max_body_bytes=2048)
    private = APIRouter(dependencies=[Depends(ApiKeyChecker(["right-key"]))])

    @private.post("/items")
    def create(item: Item) -> dict:
        if item.name == "taken":
            raise ApiError(409, "item 'taken' exists", param="name", code="conflict")
        return {"ok": item.name}

    @private.get("/boom")
    def boom() -> dict:
        raise RuntimeError("/secret/path/leak")

    app.include_router(private)
    return TestClient(app, raise_server_exceptions=False)


AUTH = {"Authorization": "Bearer right-key"}


def test_missing_and_wrong_keys_get_401_in_openai_shape() -> None:
    client = _client()
    missing = client.post("/items", json={"name": "a", "count": 1})
    assert missing.status_code == 401
    assert missing.json()["error"]["code"] == "missing_api_key"
    assert missing.json()["error"]["type"] == "authentication_error"
    wrong = client.post(
        "/items", json={"name": "a", "count": 1}, headers={"Authorization": "Bearer nope"}
    )
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "invalid_api_key"


def test_validation_errors_are_400_with_bounded_echo() -> None:
    response = _client().post("/items", json={"name": "x" * 500, "count": 1}, headers=AUTH)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["param"] == "name" and error["type"] == "invalid_request_error"
    assert len(error["message"]) < 250 and "…" in error["message"]
    bad_json = _client().post(
        "/items", content=b"{", headers={**AUTH, "content-type": "application/json"}
    )
    assert bad_json.status_code == 400
    assert bad_json.json()["error"]["message"] == "request body is not valid JSON"


def test_domain_errors_keep_their_status_and_param() -> None:
    response = _client().post("/items", json={"name": "taken", "count": 2}, headers=AUTH)
    assert response.status_code == 409
    assert response.json() == {
        "error": {
            "message": "item 'taken' exists",
            "type": "conflict_error",
            "param": "name",
            "code": "conflict",
        }
    }


def test_oversized_body_gets_413_before_parsing() -> None:
    body = b'{"name": "a", "count": 1, "pad": "' + b"x" * 5000 + b'"}'
    response = _client().post(
        "/items", content=body, headers={**AUTH, "content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "body_too_large"


def test_unexpected_errors_are_500_without_leaking_details() -> None:
    response = _client().get("/boom", headers={**AUTH, "X-Request-ID": "req-42"})
    assert response.status_code == 500
    assert response.json()["error"]["message"] == "internal error (request id req-42)"
    assert "secret" not in response.text
    assert response.headers["x-request-id"] == "req-42"
