"""The three SDK examples (Python, Go, TypeScript) against a real ingest node: `geoledger ingest
serve` on a loopback port, over the session's PostgreSQL. Each example must exit 0, and every
event it reports must be in the dedup store, signed by the tenant's key: the server accepts all
three SDKs' signatures, byte for byte.

The Go example is built with `go build` and the TypeScript SDK compiled with `tsc`, once per
session; without `go` or `node` those cases are skipped loudly, or fail when CI is "true".
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import warnings
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger.config import Settings
from ledger.envelope import parse_signed_event
from ledger.keys import generate_private_key, private_key_to_pem
from ledger.signing import verify
from storage.dedup.store import DedupStore
from storage.embedded.process import free_port, log_tail
from storage.keys import KeyRegistry
from tests.conftest import REPO_ROOT, RunningStack
from tests.support.isolated import isolated_settings, settings_env

pytestmark = pytest.mark.timeout(240)

SDK_DIR = REPO_ROOT / "sdk"
TENANT = "sdk-examples"
BUILD_TIMEOUT_S = 180.0  # a cold Go build cache or a first `npm ci` dominate
EXAMPLE_TIMEOUT_S = 60.0
NODE_START_TIMEOUT_S = 60.0
MIN_NODE_MAJOR = 20  # sdk/ts/package.json "engines"


@dataclass
class Example:
    """How to run one SDK's example, once its build (if any) has finished."""

    sdk: str
    command: list[str]
    cwd: Path
    build: subprocess.Popen[bytes] | None = None
    build_log: Path | None = None
    unavailable: str | None = None  # why this SDK's toolchain cannot run here

    def ready(self) -> list[str]:
        """The command, after its build succeeded; skips (fails under CI) without a toolchain."""
        if self.unavailable is not None:
            _missing_toolchain(f"{self.sdk} example: {self.unavailable}")
        if self.build is not None:
            try:
                status = self.build.wait(timeout=BUILD_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.build.kill()
                pytest.fail(f"{self.sdk} example: build took over {BUILD_TIMEOUT_S:.0f} s")
            assert self.build_log is not None
            assert status == 0, (
                f"{self.sdk} example: build exited {status}:\n{log_tail(self.build_log, 40)}"
            )
        return self.command


def _missing_toolchain(message: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message} (CI=true: every SDK must be tested)")
    # A warning as well as the skip, so the gap shows in the summary of a plain `pytest -q`.
    warnings.warn(f"SKIPPED: {message}", stacklevel=2)
    pytest.skip(f"SKIPPED: {message}")


def _spawn_build(command: list[str], cwd: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(command, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)


def _go_example(work: Path) -> Example:
    binary = work / "send_events"
    example = Example("go", [str(binary)], work)
    if shutil.which("go") is None:
        example.unavailable = "the go toolchain is not installed"
        return example
    # Built and run as a binary: `go run` would turn every exit status into 1.
    example.build_log = work / "go-build.log"
    example.build = _spawn_build(
        ["go", "build", "-o", str(binary), "./examples/send_events"],
        SDK_DIR / "go",
        example.build_log,
    )
    return example


def _ts_example(work: Path) -> Example:
    """Compiles a copy of the SDK (sources, package.json, examples) so the tree's dist/ is left
    alone; the example imports "@geoledger/sdk", which resolves to the copy's own dist/."""
    package = work / "ts"
    example = Example("ts", ["node", str(package / "examples" / "send-events.mjs")], package)
    if shutil.which("node") is None or shutil.which("npm") is None:
        example.unavailable = "node and npm are not installed"
        return example
    major = subprocess.run(
        ["node", "-p", "process.versions.node.split('.')[0]"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    if int(major) < MIN_NODE_MAJOR:
        example.unavailable = f"Node {MIN_NODE_MAJOR}+ required, found Node {major}"
        return example
    source = SDK_DIR / "ts"
    package.mkdir()
    for name in ("package.json", "tsconfig.json"):
        shutil.copy2(source / name, package / name)
    for name in ("src", "examples"):
        shutil.copytree(source / name, package / name)
    (package / "node_modules").symlink_to(source / "node_modules", target_is_directory=True)
    # As sdk/run-tests.sh: `npm ci` only when node_modules is missing or older than the lock file.
    installed, lock = source / "node_modules" / ".package-lock.json", source / "package-lock.json"
    install = not installed.exists() or lock.stat().st_mtime > installed.stat().st_mtime
    steps = ["npm ci --no-audit --no-fund"] if install else []
    steps.append(f"node_modules/.bin/tsc -p {package / 'tsconfig.json'}")
    example.build_log = work / "ts-build.log"
    example.build = _spawn_build(["bash", "-c", " && ".join(steps)], source, example.build_log)
    return example


@pytest.fixture(scope="session")
def sdk_examples(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Example]]:
    """The three examples; the Go and TypeScript builds start here and run in the background
    while the node starts, each test waiting only for its own."""
    work = tmp_path_factory.mktemp("sdk-examples")
    examples = {
        "python": Example(
            "python", [sys.executable, str(SDK_DIR / "python/examples/send_events.py")], work
        ),
        "go": _go_example(work),
        "ts": _ts_example(work),
    }
    yield examples
    for example in examples.values():
        if example.build is not None and example.build.poll() is None:
            example.build.kill()
            example.build.wait()


@dataclass(frozen=True)
class ExampleTenant:
    tenant_id: str
    private_key: Ed25519PrivateKey
    key_file: Path


@pytest.fixture(scope="module")
async def settings(
    running_stack: RunningStack, tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    return await isolated_settings(running_stack, tmp_path_factory.mktemp("sdkex"), "sdkex")


@pytest.fixture(scope="module")
async def example_tenant(
    settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> ExampleTenant:
    """A tenant whose key is registered, its private key in a 0600 PEM file as the examples read
    it (GEOLEDGER_KEY_FILE)."""
    private_key = generate_private_key()
    async with await KeyRegistry.open(settings) as registry:
        await registry.create(TENANT, private_key.public_key())
    key_file = tmp_path_factory.mktemp("sdkex-key") / f"{TENANT}.pem"
    descriptor = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as out:
        out.write(private_key_to_pem(private_key))
    return ExampleTenant(TENANT, private_key, key_file)


@pytest.fixture(scope="module")
async def node_url(
    running_stack: RunningStack,
    settings: Settings,
    sdk_examples: dict[str, Example],  # requested first, so the builds overlap the node's start
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[str]:
    """`geoledger ingest serve --region us` in its own process, as in production, on a free
    loopback port; yields its base URL once /healthz answers ok."""
    port = free_port()
    log = tmp_path_factory.mktemp("sdkex-node") / "ingest.log"
    command = [
        str(Path(sys.executable).with_name("geoledger")),
        *("ingest", "serve", "--region", "us", "--host", "127.0.0.1", "--port", str(port)),
    ]
    env = {**os.environ, **settings_env(settings, running_stack.config_path)}
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            *command, cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    try:
        await _wait_healthy(url, process, log)
        yield url
    finally:
        # SIGTERM: uvicorn drains, then the app's lifespan closes the node (WAL, pools).
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), 15)
        except TimeoutError:
            process.kill()
            await process.wait()


async def _wait_healthy(url: str, process: asyncio.subprocess.Process, log: Path) -> None:
    deadline = asyncio.get_running_loop().time() + NODE_START_TIMEOUT_S
    async with httpx.AsyncClient(timeout=2.0) as http:
        while True:
            if process.returncode is not None:
                pytest.fail(f"ingest node exited {process.returncode}:\n{log_tail(log, 40)}")
            try:
                answer = await http.get(f"{url}/healthz")
                if answer.status_code == 200 and answer.json().get("ok"):
                    return
            except httpx.TransportError:
                pass  # not listening yet
            if asyncio.get_running_loop().time() > deadline:
                pytest.fail(
                    f"ingest node not healthy after {NODE_START_TIMEOUT_S:.0f} s:\n"
                    f"{log_tail(log, 40)}"
                )
            await asyncio.sleep(0.2)


# `<index> <event_id> <status>[ <reason>: <detail>]`, one line per event (sdk/README.md).
RESULT_LINE = re.compile(r"(\d+) (\S+) (accepted|duplicate|conflict|rejected)(?: .*)?")


@pytest.mark.parametrize("sdk", ["python", "go", "ts"])
async def test_example_exits_0_and_its_events_are_stored(
    sdk: str,
    sdk_examples: dict[str, Example],
    node_url: str,
    example_tenant: ExampleTenant,
    settings: Settings,
) -> None:
    example = sdk_examples[sdk]
    command = example.ready()
    env = {
        **os.environ,
        "GEOLEDGER_URL": node_url,
        "GEOLEDGER_TENANT": example_tenant.tenant_id,
        "GEOLEDGER_KEY_FILE": str(example_tenant.key_file),
    }
    env.pop("GEOLEDGER_KEY_ID", None)  # the examples derive it from the key, as registered
    process = await asyncio.create_subprocess_exec(
        *command,
        cwd=example.cwd,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), EXAMPLE_TIMEOUT_S)
    output = f"stdout:\n{stdout.decode()}\nstderr:\n{stderr.decode()}"
    assert process.returncode == 0, f"{sdk} example exited {process.returncode}\n{output}"
    # v1 is the current API version: no example may have been told otherwise.
    assert "deprecation" not in stderr.decode().lower(), output

    lines = [RESULT_LINE.fullmatch(line) for line in stdout.decode().splitlines()]
    assert len(lines) == 3 and all(lines), output
    results = [(int(m.group(1)), m.group(2), m.group(3)) for m in lines if m]
    assert [index for index, _, _ in results] == [0, 1, 2], output
    assert all(status == "accepted" for _, _, status in results), output
    # Each run sends `example-<sdk>-<12 hex run id>-<n>` for n = 1, 2, 3.
    event_ids = [event_id for _, event_id, _ in results]
    for n, event_id in enumerate(event_ids, start=1):
        assert re.fullmatch(rf"example-{sdk[:2]}-[0-9a-f]{{12}}-{n}", event_id), event_id

    async with await DedupStore.open(settings.region("us")) as dedup:
        for n, event_id in enumerate(event_ids, start=1):
            stored = await dedup.get_event(example_tenant.tenant_id, event_id)
            assert stored is not None, f"{sdk} example reported {event_id} accepted; not stored"
            assert str(stored.origin.stream) == f"us/{settings.region('us').nodes[0].name}"
            event = parse_signed_event(json.loads(stored.event))
            assert (event.tenant_id, event.event_id) == (example_tenant.tenant_id, event_id)
            assert event.payload == {
                "order": n,
                "total": 10.5 * n,
                "currency": "EUR",
                "sdk": sdk,
            }
            # What the server kept is what this SDK signed with the tenant's key.
            assert verify(example_tenant.private_key.public_key(), event)
