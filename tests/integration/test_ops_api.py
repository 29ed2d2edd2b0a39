"""The ops API on the real stack's PostgreSQL: the operator token (none configured, missing,
wrong, right), every route against regions holding known keys (us: a stable 2-shard ring; eu:
growing from 1 shard to 2, in dual-write), 422 for bad input, and `geoledger ops ... --json`
printing what the API answers."""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from api.ops import auth
from api.ops.app import create_app
from api.ops.auth import OperatorToken
from api.ops.service import OpsService
from cli.ops import ops_app
from ledger.config import Settings, load_settings
from ledger.ring import shard_of
from ledger.stream_id import StreamId
from tests.conftest import RunningStack
from tests.integration.ops_support import (
    EU_BEFORE,
    EU_DUAL_WRITTEN,
    MIGRATION_ID,
    US_ACME,
    US_GLOBEX,
    WARM_KEY,
    apply_keys,
    move_body_to_warm,
    on_database,
    ring_of_one,
    start_growing,
)
from tests.support.isolated import fresh_config_file

pytestmark = pytest.mark.timeout(120)

TOKEN = "operator-token-for-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
US_STREAM, EU_STREAM = StreamId("us", "n1"), StreamId("eu", "n1")
LAGGING_SEQ = 45  # us shard 1's position of us/n1, 5 records behind shard 0's 50
ROUTES = (
    "/v1/ops/shards",
    "/v1/ops/distribution",
    "/v1/ops/keys/sample?tenant=acme&n=5",
    "/v1/ops/keys/acme/evt-001",
    "/v1/ops/migrations",
    f"/v1/ops/migrations/{MIGRATION_ID}",
)


@dataclass(frozen=True)
class OpsState:
    config: Path
    settings: Settings


@pytest.fixture(scope="module")
async def state(running_stack: RunningStack, tmp_path_factory: pytest.TempPathFactory) -> OpsState:
    config = await fresh_config_file(running_stack, tmp_path_factory.mktemp("opsapi"), "opsapi")
    settings = load_settings(config)
    us, eu = settings.region("us"), settings.region("eu")
    us_keys = [("acme", e) for e in US_ACME] + [("globex", e) for e in US_GLOBEX]
    await apply_keys(us, US_STREAM, us_keys)
    await move_body_to_warm(us, shard_of(*WARM_KEY, 2), *WARM_KEY)
    await on_database(
        us.shard_dsns[1],
        "UPDATE applied_positions SET seq = $1 WHERE stream = 'us/n1'",
        LAGGING_SEQ,
    )
    await ring_of_one(eu)
    await apply_keys(eu, EU_STREAM, [("acme", e) for e in EU_BEFORE])
    await start_growing(eu, MIGRATION_ID)
    dual = [("acme", e) for e in EU_DUAL_WRITTEN]
    await apply_keys(eu, EU_STREAM, dual, first_seq=len(EU_BEFORE) + 1)
    return OpsState(config, settings)


@pytest.fixture
async def client(state: OpsState) -> AsyncIterator[httpx.AsyncClient]:
    service = OpsService.from_settings(state.settings)
    app = create_app(service, OperatorToken("GEOLEDGER_OPS_TOKEN", TOKEN))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://ops") as http:
        yield http
    await service.close()


async def get(client: httpx.AsyncClient, path: str) -> Any:
    answer = await client.get(path, headers=AUTH)
    assert answer.status_code == 200, answer.text
    return answer.json()


def region(answer: dict[str, Any], name: str) -> dict[str, Any]:
    [found] = [r for r in answer["regions"] if r["region"] == name]
    return found


def us_keys_on(shard: int) -> int:
    keys = [("acme", e) for e in US_ACME] + [("globex", e) for e in US_GLOBEX]
    return sum(1 for key in keys if shard_of(*key, 2) == shard)


# --- the operator token ------------------------------------------------------------------------


async def test_without_a_configured_token_every_route_answers_503(state: OpsState) -> None:
    token = OperatorToken.from_environment(state.settings.ops.token_env, {"OTHER": TOKEN})
    app = create_app(OpsService.from_settings(state.settings), token)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://o") as c:
        for path in ROUTES:
            answer = await c.get(path, headers=AUTH)
            assert answer.status_code == 503, path
            assert "GEOLEDGER_OPS_TOKEN" in answer.json()["error"]["message"]
    # An empty variable is no token either: never an API open to an empty bearer.
    assert OperatorToken.from_environment("T", {"T": ""}).value is None


async def test_a_missing_or_wrong_token_is_answered_401_with_a_bearer_challenge(
    client: httpx.AsyncClient,
) -> None:
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": f"Basic {TOKEN}"}):
        for path in ROUTES:
            answer = await client.get(path, headers=headers)
            assert answer.status_code == 401, (path, headers)
            assert answer.headers["WWW-Authenticate"] == "Bearer"
            assert answer.json()["error"]["code"] == "unauthorized"


async def test_the_token_is_compared_in_constant_time(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    compared: list[tuple[bytes, bytes]] = []
    original = auth.hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return original(a, b)

    monkeypatch.setattr(auth.hmac, "compare_digest", spy)
    assert (await client.get("/v1/ops/shards", headers={"Authorization": "Bearer x"})).status_code
    assert compared == [(b"x", TOKEN.encode())]
    # ... and by nothing else: the check holds no other comparison of the token.
    source = inspect.getsource(OperatorToken.check)
    assert "== self.value" not in source and "!= self.value" not in source


# --- the routes --------------------------------------------------------------------------------


async def test_shards_report_keys_bytes_positions_and_replay_lag(
    client: httpx.AsyncClient,
) -> None:
    us = region(await get(client, "/v1/ops/shards"), "us")
    assert us["route"] == {
        "epoch": 1,
        "ring_size": 2,
        "next_ring_size": None,
        "phase": "stable",
        "migration_id": None,
    }
    # us lists four shards and routes over two (initial_ring): the other two are reported, empty.
    first, second, *spare = us["shards"]
    assert [(s["shard"], s["in_current_ring"], s["keys"]) for s in spare] == [
        (2, False, 0),
        (3, False, 0),
    ]
    assert [first["keys"], second["keys"]] == [us_keys_on(0), us_keys_on(1)]
    assert first["bytes"] > 0 and second["bytes"] > 0
    assert first["reachable"] and second["reachable"] and first["error"] is None
    assert first["applied_positions"] == {"us/n1": 50}
    assert second["applied_positions"] == {"us/n1": LAGGING_SEQ}
    assert first["replay_lag"] == {"us/n1": 0}
    assert second["replay_lag"] == {"us/n1": 50 - LAGGING_SEQ}
    assert [first["in_current_ring"], first["in_next_ring"]] == [True, False]


async def test_shards_of_a_growing_region_show_the_next_ring(client: httpx.AsyncClient) -> None:
    eu = region(await get(client, "/v1/ops/shards"), "eu")
    assert eu["route"]["phase"] == "dual_write" and eu["route"]["next_ring_size"] == 2
    old, new = eu["shards"]
    assert (old["in_current_ring"], old["in_next_ring"]) == (True, True)
    assert (new["in_current_ring"], new["in_next_ring"]) == (False, True)
    assert old["keys"] == len(EU_BEFORE) + len(EU_DUAL_WRITTEN)
    assert new["keys"] == len(EU_DUAL_WRITTEN)
    # Shard 1 is written since dual-write began, so it has the stream's position too.
    assert new["applied_positions"] == old["applied_positions"] == {"eu/n1": 8}
    assert new["replay_lag"] == {"eu/n1": 0}


async def test_distribution_counts_each_shard_of_the_current_ring(
    client: httpx.AsyncClient,
) -> None:
    answer = await get(client, "/v1/ops/distribution")
    us, eu = region(answer, "us"), region(answer, "eu")
    total = len(US_ACME) + len(US_GLOBEX)
    assert us["total_keys"] == total and us["expected_share"] == 0.5
    assert [s["keys"] for s in us["shards"]] == [us_keys_on(0), us_keys_on(1)]
    assert [s["share"] for s in us["shards"]] == [us_keys_on(0) / total, us_keys_on(1) / total]
    assert eu["shards"] == [{"shard": 0, "keys": len(EU_BEFORE) + 2, "share": 1.0, "error": None}]


async def test_a_sample_names_each_key_with_the_shard_that_holds_it(
    client: httpx.AsyncClient,
) -> None:
    everything = await get(client, "/v1/ops/keys/sample?tenant=acme&n=1000")
    us = region(everything, "us")
    assert us["error"] is None
    assert sorted(k["event_id"] for k in us["keys"]) == US_ACME
    assert all(k["shard"] == shard_of("acme", k["event_id"], 2) for k in us["keys"])
    assert sorted(k["event_id"] for k in region(everything, "eu")["keys"]) == sorted(
        EU_BEFORE + EU_DUAL_WRITTEN
    )
    few = region(await get(client, "/v1/ops/keys/sample?tenant=globex&n=3"), "us")["keys"]
    assert len(few) == 3 and {k["event_id"] for k in few} <= set(US_GLOBEX)
    assert region(await get(client, "/v1/ops/keys/sample?tenant=nobody"), "us")["keys"] == []


async def test_a_key_is_located_under_the_current_ring_with_its_body_tier(
    client: httpx.AsyncClient,
) -> None:
    tenant, event_id = WARM_KEY
    answer = await get(client, f"/v1/ops/keys/{tenant}/{event_id}")
    us, eu = region(answer, "us"), region(answer, "eu")
    assert us["placements"] == [
        {
            "ring": "current",
            "ring_size": 2,
            "shard": shard_of(tenant, event_id, 2),
            "holds": True,
            "body_tier": "warm",
            "error": None,
        }
    ]
    assert [(p["ring"], p["holds"], p["body_tier"]) for p in eu["placements"]] == [
        ("current", False, None),
        ("next", False, None),
    ]


async def test_while_growing_a_key_is_located_under_both_rings(client: httpx.AsyncClient) -> None:
    moved_before = next(e for e in EU_BEFORE if shard_of("acme", e, 2) == 1)
    for event_id, on_next in ((moved_before, False), (EU_DUAL_WRITTEN[0], True)):
        eu = region(await get(client, f"/v1/ops/keys/acme/{event_id}"), "eu")
        assert [(p["ring"], p["shard"], p["holds"]) for p in eu["placements"]] == [
            ("current", 0, True),
            ("next", 1, on_next),
        ]
        assert eu["placements"][0]["body_tier"] == "hot"


async def test_migrations_come_from_the_routing_epochs(client: httpx.AsyncClient) -> None:
    listed = await get(client, "/v1/ops/migrations")
    assert listed["unavailable"] == {}
    [run] = listed["migrations"]
    assert run == await get(client, f"/v1/ops/migrations/{MIGRATION_ID}")
    assert (run["id"], run["region"], run["from_ring_size"], run["to_ring_size"]) == (
        MIGRATION_ID,
        "eu",
        1,
        2,
    )
    assert run["phase"] == "dual_write" and run["active"] is True
    assert [(e["epoch"], e["phase"]) for e in run["epochs"]] == [(2, "copy"), (3, "dual_write")]

    unknown = await client.get("/v1/ops/migrations/no-such-run", headers=AUTH)
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/v1/ops/keys/sample?tenant=acme&n=0", "n"),
        ("/v1/ops/keys/sample?tenant=acme&n=1001", "n"),
        ("/v1/ops/keys/sample?tenant=acme&n=many", "n"),
        ("/v1/ops/keys/sample?n=5", "tenant"),
        ("/v1/ops/keys/sample?tenant=Not%20A%20Tenant", "tenant"),
        ("/v1/ops/keys/-acme/evt-1", "tenant"),
        ("/v1/ops/keys/acme/evt%20one", "event_id"),
    ],
)
async def test_bad_input_is_answered_422_naming_the_field(
    client: httpx.AsyncClient, path: str, field: str
) -> None:
    answer = await client.get(path, headers=AUTH)
    assert answer.status_code == 422, answer.text
    assert [error["loc"][-1] for error in answer.json()["detail"]] == [field]


async def test_an_unreachable_shard_is_reported_not_fatal(state: OpsState) -> None:
    us = state.settings.region("us")
    broken = us.model_copy(update={"shard_dsns": [us.shard_dsns[0], us.shard_dsns[1] + "_gone"]})
    async with OpsService({"us": broken}, connect_timeout_s=5.0) as service:
        [shards] = (await service.shards()).regions
        [spread] = (await service.distribution()).regions
    assert shards.shards[0].reachable and not shards.shards[1].reachable
    assert shards.shards[1].error is not None and "_gone" in shards.shards[1].error
    assert spread.total_keys is None and [s.share for s in spread.shards] == [None, None]


# --- the CLI -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "path"),
    [
        (["shards"], "/v1/ops/shards"),
        (["distribution"], "/v1/ops/distribution"),
        (["sample", "--tenant", "acme", "-n", "1000"], "/v1/ops/keys/sample?tenant=acme&n=1000"),
        (["key", *WARM_KEY], f"/v1/ops/keys/{WARM_KEY[0]}/{WARM_KEY[1]}"),
        (["migrations"], "/v1/ops/migrations"),
        (["migrations", MIGRATION_ID], f"/v1/ops/migrations/{MIGRATION_ID}"),
    ],
)
async def test_the_cli_prints_what_the_api_answers(
    state: OpsState, client: httpx.AsyncClient, args: list[str], path: str
) -> None:
    printed = await _cli(state, [*args, "--json"])
    assert printed.exit_code == 0, printed.output
    assert json.loads(printed.output) == await get(client, path)


async def test_the_cli_refuses_bad_input_and_unknown_runs(state: OpsState) -> None:
    assert (await _cli(state, ["sample", "--tenant", "acme", "-n", "0"])).exit_code == 2
    assert (await _cli(state, ["sample", "--tenant", "Bad Tenant"])).exit_code == 2
    assert (await _cli(state, ["key", "acme", "evt one"])).exit_code == 2
    assert (await _cli(state, ["migrations", "no-such-run"])).exit_code == 1
    tables = await _cli(state, ["shards"])
    assert tables.exit_code == 0 and "region us" in tables.output


async def _cli(state: OpsState, args: list[str]) -> Any:
    """`geoledger ops ARGS --config ...` in a thread: the command runs its own event loop."""
    return await asyncio.to_thread(
        CliRunner().invoke, ops_app, [*args, "--config", str(state.config)]
    )
