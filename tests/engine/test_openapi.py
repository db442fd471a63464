"""GET /api/openapi.json: a valid OpenAPI 3.1 document naming exactly the gateway's routes."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from aiohttp.test_utils import TestClient, TestServer
from openapi_spec_validator import validate

from engine.config import load_default_config
from engine.config_model import ClusterConfig, SecurityConfig
from tests.api_routes import app_routes, gateway_app

TOKEN = "openapi-test-token"
METHODS = ("get", "put", "post", "delete", "patch", "options", "head", "trace")


def _config(token: str | None = None) -> ClusterConfig:
    security = SecurityConfig(auth_token=token, cluster_secret="openapi-test-secret")
    return dataclasses.replace(load_default_config(), security=security)


async def _document(token: str | None = None) -> tuple[dict[str, Any], dict[str, set[str]]]:
    """The document as the gateway serves it, and the app's own routes."""
    async with gateway_app(_config(token)) as app:
        routes = app_routes(app)
        async with TestClient(TestServer(app)) as client:
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            response = await client.get("/api/openapi.json", headers=headers)
            assert response.status == 200
            assert response.content_type == "application/json"
            return await response.json(), routes


def _resolve(document: dict[str, Any], item: dict[str, Any]) -> dict[str, Any]:
    ref = item.get("$ref")
    if ref is None:
        return item
    target: Any = document
    for part in ref.removeprefix("#/").split("/"):
        target = target[part]
    return target


def _path_parameters(document: dict[str, Any], path: str, method: str) -> set[str]:
    item = document["paths"][path]
    declared = [*item.get("parameters", []), *item[method].get("parameters", [])]
    return {p["name"] for p in map(lambda d: _resolve(document, d), declared) if p["in"] == "path"}


async def test_the_document_is_valid_openapi_3_1() -> None:
    document, _ = await _document()
    assert document["openapi"].startswith("3.1")
    validate(document)


async def test_the_document_names_every_route_and_no_other() -> None:
    # HEAD comes with every GET in aiohttp; the document lists the GET.
    document, routes = await _document()
    served = {(path, method.lower()) for path, methods in routes.items() for method in methods} - {
        (path, "head") for path in routes
    }
    described = {
        (path, method)
        for path, item in document["paths"].items()
        for method in METHODS
        if method in item
    }
    assert served - described == set(), "routes missing from engine/gateway/openapi.yaml"
    assert described - served == set(), "engine/gateway/openapi.yaml names routes the app lacks"


async def test_path_parameters_match_the_paths() -> None:
    document, _ = await _document()
    for path, item in document["paths"].items():
        in_path = set(re.findall(r"{([^}]+)}", path))
        for method in METHODS:
            if method in item:
                assert _path_parameters(document, path, method) == in_path, (method, path)


async def test_the_document_needs_the_token_like_the_rest_of_api() -> None:
    document, _ = await _document(TOKEN)
    assert document["paths"]
    async with gateway_app(_config(TOKEN)) as app, TestClient(TestServer(app)) as client:
        response = await client.get("/api/openapi.json")
        assert response.status == 401
        assert (await response.json())["error"]["code"] == "unauthorized"
