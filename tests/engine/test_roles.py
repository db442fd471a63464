"""Tokens with roles, without a cluster: the route table, the config, refusals, the rate bucket.

The exhaustive run against real processes (every route, every role, gateway and node ports,
what a refused request wrote) is tests/engine/test_roles_cluster.py.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from engine.config import ConfigError, apply_env, load_default_config, parse_config
from engine.config_model import ROLES, ClusterConfig, RateLimit, Role, SecurityConfig, TokenConfig
from engine.gateway.app import ROUTE_ROLES
from engine.node.http_app import ROUTE_ROLES as NODE_ROUTE_ROLES
from engine.transport.auth import TokenTable, check_route_roles
from engine.transport.limits import TokenBuckets
from tests.api_routes import app_routes, gateway_app

TOKENS = {"reader": "r-token", "writer": "w-token", "admin": "a-token"}
OPENAPI = Path(__file__).resolve().parents[2] / "engine" / "gateway" / "openapi.yaml"


def config_with(**security: Any) -> ClusterConfig:
    base = load_default_config()
    settings = {"cluster_secret": "roles-test-secret", **security}
    return dataclasses.replace(base, security=SecurityConfig(**settings))


def three_tokens() -> tuple[TokenConfig, ...]:
    return tuple(TokenConfig(f"{role}-1", token, role) for role, token in TOKENS.items())  # type: ignore[arg-type]


def concrete(path: str) -> str:
    """A path of the template that no handler could act on (a request that passes does no harm)."""
    return re.sub(r"\{(\w+)\}", lambda m: {"version": "1"}.get(m.group(1), "nope"), path)


def test_every_gateway_route_has_a_role_and_the_document_says_the_same() -> None:
    document = yaml.safe_load(OPENAPI.read_text())
    described = {
        (method.upper(), path): operation.get("x-gate-role")
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if isinstance(operation, dict) and "operationId" in operation
    }
    assert set(described) == set(ROUTE_ROLES)
    for key, role in ROUTE_ROLES.items():
        assert described[key] == (role or "none"), key


async def test_a_route_added_without_a_role_is_refused() -> None:
    async with gateway_app(config_with()) as app:
        check_route_roles(app, ROUTE_ROLES)  # the app as built passes

        async def handler(request: web.Request) -> web.Response:
            return web.Response()

        app.router.add_delete("/api/everything", handler)
        with pytest.raises(RuntimeError, match="DELETE', '/api/everything"):
            check_route_roles(app, ROUTE_ROLES)
        assert set(app_routes(app)) >= {p for _, p in ROUTE_ROLES}


def test_node_routes_need_a_reader_at_most() -> None:
    assert {role for role in NODE_ROUTE_ROLES.values()} == {None, "reader"}
    assert {path for (_, path), role in NODE_ROUTE_ROLES.items() if role is None} == {
        "/health",
        "/ready",
    }


def expected_status(needed: Role | None, role: str | None) -> int | None:
    """401 or 403 when ``role`` (None: no token, "unknown": a wrong one) may not; else None."""
    if needed is None:
        return None
    if role is None or role == "unknown":
        return 401
    return None if ROLES.index(role) >= ROLES.index(needed) else 403  # type: ignore[arg-type]


async def test_every_route_refuses_exactly_who_it_should() -> None:
    config = config_with(tokens=three_tokens())
    seen: dict[int, int] = {}
    async with gateway_app(config) as app, TestClient(TestServer(app)) as client:
        for (method, path), needed in sorted(ROUTE_ROLES.items(), key=str):
            for role in (None, "unknown", *ROLES):
                expected = expected_status(needed, role)
                if expected is None:
                    continue  # allowed: tests/engine/test_roles_cluster.py, with real nodes
                token = "nobody" if role == "unknown" else TOKENS.get(role or "")
                headers = {"Authorization": f"Bearer {token}"} if token else {}
                response = await client.request(method, concrete(path), headers=headers)
                body = await response.json()
                assert response.status == expected, (method, path, role, body)
                seen[expected] = seen.get(expected, 0) + 1
                if expected == 403:
                    assert body["error"]["code"] == "forbidden"
                    assert body["error"]["needed"] == needed
                    assert f"needs the {needed} role" in body["error"]["message"]
                else:
                    assert body["error"]["code"] == "unauthorized"
        # A path no route has tells nobody without a token that it does not exist.
        assert (await client.get("/api/nothing")).status == 401
        nothing = await client.get("/api/nothing", headers={"Authorization": "Bearer r-token"})
        assert nothing.status == 404
    assert seen[401] >= 2 * 23 and seen[403] >= 10, seen


async def test_whoami_names_the_token_or_says_there_is_no_auth() -> None:
    config = config_with(auth_token="legacy", tokens=three_tokens())
    async with gateway_app(config) as app, TestClient(TestServer(app)) as client:
        for token, name, role in [
            ("legacy", "admin", "admin"),
            ("r-token", "reader-1", "reader"),
            ("w-token", "writer-1", "writer"),
        ]:
            answer = await client.get("/api/whoami", headers={"Authorization": f"Bearer {token}"})
            assert await answer.json() == {"name": name, "role": role, "auth": "token"}
        assert (await client.get("/api/whoami")).status == 401
        assert (await client.get("/health")).status == 200, "probes stay open"
        assert (await client.get("/metrics")).status == 401, "metrics need a reader"
    async with gateway_app(config_with()) as app, TestClient(TestServer(app)) as client:
        answer = await client.get("/api/whoami")
        assert await answer.json() == {"name": "anonymous", "role": "admin", "auth": "none"}


def test_token_lookup_compares_every_token() -> None:
    table = TokenTable(config_with(tokens=three_tokens()).security)
    assert table.identify("Bearer w-token") == table.identify("Bearer w-token")
    principal = table.identify("Bearer w-token")
    assert principal is not None and principal.role == "writer" and principal.name == "writer-1"
    for wrong in (None, "", "w-token", "Bearer w-token ", "Bearer w-toke", "bearer w-token", "ü"):
        assert table.identify(wrong) is None, wrong


def test_rate_buckets_with_an_injected_clock() -> None:
    now = [100.0]
    buckets = TokenBuckets(RateLimit(per_second=2.0, burst=3), clock=lambda: now[0])
    assert [buckets.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("a") == pytest.approx(0.5)
    assert buckets.take("b") == 0.0, "each token has its own bucket"
    now[0] += 0.5
    assert buckets.take("a") == 0.0
    assert buckets.take("a") > 0
    now[0] += 10  # refills up to the burst, not beyond
    assert [buckets.take("a") for _ in range(4)][-1] > 0


def raw_config(security: dict[str, Any]) -> dict[str, Any]:
    return {
        "nodes": {
            "node1": {
                "role": "leader",
                "http": {"host": "127.0.0.1", "port": 9001},
                "tcp": {"host": "127.0.0.1", "port": 9101},
            }
        },
        "security": security,
    }


def test_tokens_and_rate_limit_in_the_config() -> None:
    raw = raw_config(
        {
            "authToken": "legacy",
            "tokens": [{"name": "student", "token": "s", "role": "reader"}],
            "rateLimit": {"perSecond": 50, "burst": 100},
        }
    )
    security = parse_config(raw, "c.yaml").security
    assert [(t.name, t.role) for t in security.all_tokens] == [
        ("admin", "admin"),
        ("student", "reader"),
    ]
    assert security.rate_limit == RateLimit(50.0, 100)
    assert security.admin_token == "legacy"


@pytest.mark.parametrize(
    ("security", "message"),
    [
        ({"tokens": {"a": 1}}, "security.tokens: expected a list"),
        ({"tokens": [{"name": "a", "token": "t"}]}, "security.tokens[0].role: required key"),
        (
            {"tokens": [{"name": "a", "token": "t", "role": "root"}]},
            "security.tokens[0].role: expected one of reader, writer, admin",
        ),
        ({"tokens": [{"name": "a b", "token": "t", "role": "reader"}]}, "token name must match"),
        ({"tokens": [{"name": "a", "token": "", "role": "reader"}]}, "non-empty string"),
        (
            {
                "tokens": [
                    {"name": "a", "token": "t", "role": "reader"},
                    {"name": "b", "token": "t", "role": "admin"},
                ]
            },
            "token 'b' has the same secret",
        ),
        (
            {"authToken": "x", "tokens": [{"name": "admin", "token": "t", "role": "reader"}]},
            "two tokens are named 'admin'",
        ),
        ({"rateLimit": {"burst": 3}}, "security.rateLimit.perSecond: required key"),
        ({"rateLimit": {"perSecond": 0}}, "security.rateLimit.perSecond: expected a number"),
    ],
)
def test_bad_tokens_are_one_line(security: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(raw_config(security), "c.yaml")
    assert message in str(info.value) and "\n" not in str(info.value)


def test_tokens_file_adds_tokens(tmp_path: Path) -> None:
    path = tmp_path / "tokens.yaml"
    path.write_text("- {name: teacher, token: t-secret, role: admin}\n")
    config = parse_config(
        raw_config({"tokens": [{"name": "s", "token": "s", "role": "reader"}]}), "c"
    )
    loaded = apply_env(config, {"GATE_TOKENS_FILE": str(path)})
    assert [t.name for t in loaded.security.tokens] == ["s", "teacher"]
    assert loaded.security.admin_token == "t-secret"
    path.write_text("- {name: s, token: other, role: admin}\n")
    with pytest.raises(ConfigError, match="two tokens are named 's'"):
        apply_env(config, {"GATE_TOKENS_FILE": str(path)})
    with pytest.raises(ConfigError, match="cannot read the tokens file"):
        apply_env(config, {"GATE_TOKENS_FILE": str(tmp_path / "missing")})
