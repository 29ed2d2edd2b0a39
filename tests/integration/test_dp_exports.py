"""`geoledger export dp` and `geoledger dp budget` on the embedded stack's Postgres: real signed
events in the dedup store (some bodies moved warm and cold), budgets and the spend ledger in the
budget region's control database (`us`, the first region).

Exports asked with a huge epsilon carry noise of scale ~1e-9, so their figures are the exact
counts: that checks what is read (every shard, every tier, the clamp) without statistics; the
noise itself is checked in tests/unit/test_dp_noise_scale.py.
"""

from __future__ import annotations

import asyncio
import json
from datetime import date
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from prometheus_client import REGISTRY
from typer.testing import CliRunner

from cli.main import app
from ledger.config import Settings, load_settings
from ledger.dp_query import parse_query
from ledger.event_wire import parse_signed_event
from ledger.record import WalRecord
from storage.dedup import DedupRecord, DedupStore
from storage.dedup.from_wal import dedup_record_from
from storage.dp.errors import OverBudgetError
from storage.dp.export import run_export
from storage.objectstore import open_object_store
from tests.conftest import RunningStack
from tests.integration.tiering_support import make_cold, make_warm
from tests.support import tenants
from tests.support.isolated import fresh_config_file
from tests.support.tenants import register, tenant
from workers.dp_sampler import DpSampler

pytestmark = pytest.mark.timeout(180)

runner = CliRunner()
SHOP = tenant("dp-shop")
ACCOUNTED = tenant("dp-accounted")
EDGE = tenant("dp-edge")
RACE = tenant("dp-race")
UNFUNDED = tenant("dp-unfunded")
METERED = tenant("dp-metered")
# (type, UTC day, amount) of each of SHOP's events; "internal" is no public type.
EVENTS = (
    [("order.created", "2026-11-01T10:00:00Z", 5)] * 12
    + [("order.paid", "2026-11-01T23:30:00-02:00", 2500)] * 7  # 2026-11-02 in UTC
    + [("refund", "2026-11-03T08:00:00Z", -40)] * 4
    + [("internal", "2026-11-03T09:00:00Z", 70)] * 3
)
DAY = date(2026, 11, 1)
EXACT = "1000000000"  # epsilon: Laplace noise of scale 1e-9, i.e. none
EXACT_GAUSSIAN = "10000"  # with delta 1e-9: scale 0.007, noise 0 but with probability ~0


@pytest.fixture(scope="module")
async def config(running_stack: RunningStack, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Fresh, migrated databases; SHOP's events in `us`, a third of their bodies warm or cold."""
    path = await fresh_config_file(running_stack, tmp_path_factory.mktemp("dp"), "dpx")
    settings = load_settings(path)
    await register(settings, SHOP, ACCOUNTED, EDGE, RACE, UNFUNDED, METERED)
    records = [
        signed(SHOP, f"e{i:03d}", i + 1, kind, when, amount)
        for i, (kind, when, amount) in enumerate(EVENTS)
    ]
    async with await DedupStore.open(settings.region("us")) as store:
        await store.apply(records)
        shard_of = store.route.read_shard
        warm = [r for r in records[::3]]
        for record in warm:
            await make_warm(store.pools.shards[shard_of(record.tenant_id, record.event_id)], record)
        cold_shard = shard_of(SHOP.tenant_id, records[1].event_id)
        cold = [r for r in records[1::3] if shard_of(r.tenant_id, r.event_id) == cold_shard]
        objects = open_object_store(settings.region("us").object_store)
        await make_cold(store.pools.shards[cold_shard], objects, cold)
    return path


def signed(
    owner: tenants.TestTenant, event_id: str, seq: int, kind: str, when: str, amount: int
) -> DedupRecord:
    event = owner.event(event_id, {"amount": amount}, type=kind, occurred_at=when)
    wal = WalRecord(
        hlc=1_000 + seq,
        region="us",
        node="n1",
        accepted_at_ms=1_700_000_000_000,
        event=parse_signed_event(event),
    )
    return dedup_record_from(wal, seq)


def cli(config: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, [*args, "--config", str(config)])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, " ".join(result.output.split())


def set_budget(config: Path, owner: tenants.TestTenant, epsilon: str, delta: str = "0") -> None:
    code, output = cli(
        config,
        "dp",
        "budget",
        "set",
        "-t",
        owner.tenant_id,
        "--epsilon",
        epsilon,
        "--delta",
        delta,
        "--who",
        "alice",
    )
    assert code == 0, output


def export(config: Path, owner: tenants.TestTenant, *args: str) -> tuple[int, str]:
    return cli(config, "export", "dp", "--tenant", owner.tenant_id, "--who", "bob", *args)


def counts(config: Path, owner: tenants.TestTenant, epsilon: str, *extra: str) -> tuple[int, str]:
    return export(
        config,
        owner,
        "--query",
        "counts_by_type",
        "--types",
        "order.created,refund",
        "--epsilon",
        epsilon,
        "--mechanism",
        "laplace",
        *extra,
    )


def sums(config: Path, owner: tenants.TestTenant, upper: str, *extra: str) -> tuple[int, str]:
    """A sum of `amount` clamped to [0, upper]; `extra` gives epsilon, mechanism and output."""
    return export(
        config,
        owner,
        "--query",
        "sum",
        "--field",
        "amount",
        "--lower",
        "0",
        "--upper",
        upper,
        *extra,
    )


def budget(config: Path, owner: tenants.TestTenant) -> dict[str, Any]:
    code, output = cli(config, "dp", "budget", "show", "-t", owner.tenant_id, "--json")
    assert code == 0, output
    shown: dict[str, Any] = json.loads(output)["budgets"][0]
    return shown


def spends(config: Path, owner: tenants.TestTenant) -> list[dict[str, Any]]:
    async def read() -> list[dict[str, Any]]:
        conn = await asyncpg.connect(load_settings(config).region("us").control_dsn)
        try:
            rows = await conn.fetch(
                "SELECT query, mechanism, epsilon, delta, parameters, who FROM dp_spends "
                "WHERE tenant_id = $1 ORDER BY id",
                owner.tenant_id,
            )
        finally:
            await conn.close()
        return [dict(row) for row in rows]

    return asyncio.run(read())


def test_exports_read_every_shard_and_tier_and_state_their_clamp(config: Path) -> None:
    set_budget(config, SHOP, "1e12", "0.5")

    code, output = counts(config, SHOP, EXACT, "--json")
    assert code == 0, output
    released = json.loads(output)
    assert [(f["label"], f["value"]) for f in released["figures"]] == [
        ("order.created", 12),
        ("refund", 4),
    ]
    assert released["sensitivity"] == 1 and released["confidence"] == 0.95
    assert "one event" in released["privacy_unit"]

    code, output = export(
        config,
        SHOP,
        "--query",
        "counts_by_day",
        "--since",
        "2026-11-01",
        "--until",
        "2026-11-04",
        "--epsilon",
        EXACT_GAUSSIAN,
        "--mechanism",
        "gaussian",
        "--delta",
        "1e-9",
        "--json",
    )
    assert code == 0, output
    by_day = {f["label"]: f["value"] for f in json.loads(output)["figures"]}
    assert by_day == {"2026-11-01": 12, "2026-11-02": 7, "2026-11-03": 7, "2026-11-04": 0}

    code, output = sums(
        config, SHOP, "1000", "--epsilon", EXACT, "--mechanism", "laplace", "--json"
    )
    assert code == 0, output
    summed = json.loads(output)
    # Each amount clamped to [0, 1000]: 12*5 + 7*1000 + 4*0 + 3*70.
    assert summed["figures"][0]["value"] == 12 * 5 + 7 * 1000 + 3 * 70
    assert summed["sensitivity"] == 1000 and "[0, 1000]" in summed["clamp"]


def test_the_table_and_csv_show_error_bars_beside_each_figure(config: Path) -> None:
    set_budget(config, SHOP, "1e12", "0.5")
    code, output = counts(config, SHOP, "1")
    assert code == 0, output
    assert "± (95%)" in output and "sensitivity (L1, one event): 1" in output
    code, output = counts(config, SHOP, "1", "--csv")
    assert code == 0, output
    assert "cell,value,error,low,high,confidence" in output and "# clamp:" in output


def test_many_exports_compose_and_the_ledger_records_each(config: Path) -> None:
    set_budget(config, ACCOUNTED, "1", "2e-6")
    for _ in range(8):
        assert counts(config, ACCOUNTED, "0.1")[0] == 0
    for _ in range(2):
        code, output = sums(
            config,
            ACCOUNTED,
            "10",
            "--epsilon",
            "0.1",
            "--delta",
            "1e-6",
            "--mechanism",
            "gaussian",
        )
        assert code == 0, output

    shown = budget(config, ACCOUNTED)
    assert shown["spent"] == {"epsilon": "1", "delta": "0.000002"}
    assert shown["remaining"] == {"epsilon": "0", "delta": "0"}
    ledger = spends(config, ACCOUNTED)
    assert [(s["query"], s["mechanism"]) for s in ledger] == [("counts_by_type", "laplace")] * 8 + [
        ("sum", "gaussian")
    ] * 2
    assert {s["who"] for s in ledger} == {"bob"}
    assert json.loads(ledger[-1]["parameters"])["upper"] == 10

    code, output = counts(config, ACCOUNTED, "0.1")
    assert code == 6 and "remaining budget epsilon 0, delta 0 " in output


def test_exactly_the_limit_is_spent_and_just_over_it_is_refused(config: Path) -> None:
    set_budget(config, EDGE, "0.3")
    assert counts(config, EDGE, "0.1")[0] == 0
    assert counts(config, EDGE, "0.2")[0] == 0  # 0.1 + 0.2 is 0.3 exactly: admitted
    set_budget(config, EDGE, "0.5")
    code, output = counts(config, EDGE, "0.2000001")
    assert code == 6, output
    assert "remaining budget epsilon 0.2, delta 0 " in output
    assert counts(config, EDGE, "0.2")[0] == 0
    assert budget(config, EDGE)["remaining"]["epsilon"] == "0"


def test_refused_and_bad_exports_change_nothing(config: Path) -> None:
    set_budget(config, EDGE, "1")
    before = (budget(config, EDGE), spends(config, EDGE))
    refused = [
        counts(config, EDGE, "5"),  # over budget
        counts(config, EDGE, "0"),
        counts(config, EDGE, "-1"),
        export(config, EDGE, "--query", "median", "--epsilon", "0.1", "--mechanism", "laplace"),
        export(
            config,
            EDGE,
            "--query",
            "sum",
            "--field",
            "amount",
            "--lower",
            "9",
            "--upper",
            "1",
            "--epsilon",
            "0.1",
            "--mechanism",
            "laplace",
        ),
        # gaussian without --delta
        counts(config, EDGE, "0.1", "--mechanism", "gaussian"),
    ]
    assert [code for code, _ in refused] == [6, 2, 2, 2, 2, 2]
    assert "lower 9 > upper 1" in refused[4][1]
    assert (budget(config, EDGE), spends(config, EDGE)) == before


def test_unknown_tenant_and_a_tenant_without_a_budget(config: Path) -> None:
    ghost = tenant("dp-ghost")
    code, output = counts(config, ghost, "0.1")
    assert code == 2 and "unknown tenant 'dp-ghost'" in output
    code, output = cli(config, "dp", "budget", "set", "-t", "dp-ghost", "--epsilon", "1")
    assert code == 2 and "unknown tenant" in output
    code, output = counts(config, UNFUNDED, "0.1")
    assert code == 6 and "remaining budget epsilon 0" in output
    assert spends(config, UNFUNDED) == []


async def test_concurrent_exports_cannot_overspend(config: Path) -> None:
    settings: Settings = load_settings(config)
    await asyncio.to_thread(set_budget, config, RACE, "0.75")
    query = parse_query(
        tenant=RACE.tenant_id,
        query="counts_by_type",
        mechanism="laplace",
        epsilon="0.25",
        delta="0",
        types=("order.created",),
        since=DAY,
        until=DAY,
        bounds=(None, None, None),
    )
    outcomes = await asyncio.gather(
        *(run_export(settings, query, f"op{i}") for i in range(10)), return_exceptions=True
    )
    released = [o for o in outcomes if not isinstance(o, BaseException)]
    refused = [o for o in outcomes if isinstance(o, OverBudgetError)]
    assert (len(released), len(refused)) == (3, 7), outcomes
    assert len(await asyncio.to_thread(spends, config, RACE)) == 3


async def test_the_ops_sampler_exports_budgets_and_the_ledger_count(config: Path) -> None:
    await asyncio.to_thread(set_budget, config, METERED, "2")
    for _ in range(3):
        assert (await asyncio.to_thread(counts, config, METERED, "0.25"))[0] == 0

    await DpSampler(load_settings(config)).sample()

    remaining = REGISTRY.get_sample_value("dp_budget_remaining", {"tenant": METERED.tenant_id})
    assert remaining == 1.25
    exports = {"tenant": METERED.tenant_id, "mechanism": "laplace"}
    assert REGISTRY.get_sample_value("dp_exports_total", exports) == 3
