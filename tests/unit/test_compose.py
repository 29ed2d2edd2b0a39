"""docker-compose.yml against the code it deploys: no engine runs here, so this is its check.

`docker-compose config -q` (Debian's `docker-compose`; .ci/run installs it, so under CI=true its
absence fails) validates the file. The rest holds it to geoledger: every geoledger service's
command parses as a real `geoledger` command with its options, every worker polls a real task
queue and every queue has one, every ingest node and witness of the compose configuration runs
and publishes the port the settings give it, every GEOLEDGER_* variable is one the settings
read, every image is pinned, and Prometheus scrapes each process where it serves /metrics.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import typer.main
import yaml
from pydantic import BaseModel

from cli.main import app
from ledger.config import CONFIG_ENV_VAR, Settings, load_settings
from workflows import queues

REPO_ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
COMPOSE_CONFIG = REPO_ROOT / "deploy" / "compose" / "geoledger.toml"
DOCKERFILE = REPO_ROOT / "Dockerfile"
SCRAPE_CONFIG = REPO_ROOT / "deploy" / "prometheus" / "prometheus.yml"
ENV_PREFIX = "GEOLEDGER_"
ANY_ADDRESS = "0.0.0.0"

COMPOSE: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
SETTINGS = load_settings(COMPOSE_CONFIG)


def _runs_geoledger(service: dict[str, Any]) -> bool:
    """Built from our Dockerfile with its entrypoint (`geoledger`); provision overrides it."""
    return "build" in service and "entrypoint" not in service


GEOLEDGER_SERVICES = {name: s for name, s in SERVICES.items() if _runs_geoledger(s)}


def _resolve(argv: list[str]) -> dict[str, Any]:
    """The parameters `geoledger <argv>` parses, as the CLI itself parses them (typer's click):
    raises for an unknown command, an unknown option or a missing required one."""
    command: Any = typer.main.get_command(app)
    rest = list(argv)
    while hasattr(command, "list_commands"):  # a group: the next word names its subcommand
        assert rest, f"{argv}: names a group, not a command"
        name = rest.pop(0)
        sub = command.get_command(command.make_context(name, [], resilient_parsing=True), name)
        assert sub is not None, f"{argv}: no command {name!r}"
        command = sub
    params: dict[str, Any] = command.make_context(command.name, rest).params
    return params


def _command_path(argv: list[str]) -> tuple[str, ...]:
    return tuple(word for word in argv if not word.startswith("-"))[:2]


def _published(service: dict[str, Any]) -> list[tuple[int, int]]:
    """(host port, container port) of each `ports` entry ("8101:8101")."""
    pairs = []
    for entry in service.get("ports", []):
        host, _, container = str(entry).rpartition(":")
        pairs.append((int(host), int(container)))
    return pairs


def _node_port(serve_params: dict[str, Any]) -> int:
    """The configured port of the node an `ingest serve` command runs."""
    nodes = SETTINGS.region(serve_params["region"]).nodes
    return next(node.port for node in nodes if node.name == serve_params["node"])


def _port(url: str) -> int:
    port = urlparse(url).port
    assert port is not None, url
    return port


def test_docker_compose_accepts_the_file() -> None:
    tool = shutil.which("docker-compose")
    if tool is None:
        if os.environ.get("CI") == "true":
            pytest.fail("docker-compose is not on PATH; .ci/run installs Debian's docker-compose")
        pytest.skip("docker-compose is not installed (Debian package `docker-compose`)")
    result = subprocess.run(
        [tool, "--file", str(COMPOSE_FILE), "config", "--quiet"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=REPO_ROOT,
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("name", sorted(GEOLEDGER_SERVICES))
def test_each_geoledger_service_runs_a_real_command(name: str) -> None:
    command = GEOLEDGER_SERVICES[name]["command"]
    assert isinstance(command, list), f"{name}: give the command as a list"
    _resolve(command)


def test_one_worker_per_task_queue() -> None:
    node_queues = {
        queues.node_queue(region, node.name)
        for region, config in SETTINGS.regions.items()
        for node in config.nodes
    }
    polled = [
        _resolve(s["command"])["queue"]
        for s in GEOLEDGER_SERVICES.values()
        if _command_path(s["command"]) == ("worker", "run")
    ]
    assert sorted(polled) == sorted({*queues.SHARED_QUEUES, *node_queues})


def test_one_ingest_node_per_configured_node_on_its_port() -> None:
    served: dict[tuple[str, str], list[tuple[int, int]]] = {}
    for name, service in GEOLEDGER_SERVICES.items():
        if _command_path(service["command"]) == ("ingest", "serve"):
            params = _resolve(service["command"])
            # The node is named explicitly: "the region's first" would hide a second node.
            assert params["node"] is not None, name
            assert params["port"] is None, f"{name}: the port comes from the configuration"
            served[(params["region"], params["node"])] = _published(service)
            # Its health check asks the node's own port.
            health_url = f"127.0.0.1:{_node_port(params)}/healthz"
            assert health_url in " ".join(service["healthcheck"]["test"]), name
    expected = {
        (region, node.name): [(node.port, node.port)]
        for region, config in SETTINGS.regions.items()
        for node in config.nodes
    }
    assert served == expected


def test_witnesses_and_ops_publish_their_configured_ports() -> None:
    published: dict[str, list[tuple[int, int]]] = {}
    for service in GEOLEDGER_SERVICES.values():
        path, params = _command_path(service["command"]), _resolve(service["command"])
        if path == ("witness", "serve"):
            published[params["name"]] = _published(service)
        elif path == ("ops", "serve"):
            published["ops"] = _published(service)
    expected = {name: [(w.port, w.port)] for name, w in SETTINGS.witnesses.items() if w.port}
    assert published == {**expected, "ops": [(SETTINGS.ops.port, SETTINGS.ops.port)]}
    ui_port = _port(SETTINGS.temporal.ui_url)
    assert [host for host, _ in _published(SERVICES["temporal-ui"])] == [ui_port]


def _settings_field(path: list[str]) -> bool:
    """True when GEOLEDGER_<path joined by __> names a field (dict keys are free)."""
    model: Any = Settings
    for part in path:
        if model is None:
            return True  # below a dict or a plain value: the settings validate it
        fields = model.model_fields
        if part not in fields:
            return False
        annotation = fields[part].annotation
        is_model = isinstance(annotation, type) and issubclass(annotation, BaseModel)
        model = annotation if is_model else None
    return True


def test_every_geoledger_variable_is_a_setting() -> None:
    # Two variables are read by name rather than as a field: the config file's path, and the
    # secret [ops] token_env names.
    by_name = {CONFIG_ENV_VAR, SETTINGS.ops.token_env}
    for name, service in GEOLEDGER_SERVICES.items():
        environment = service.get("environment", {})
        assert isinstance(environment, dict), f"{name}: give the environment as a mapping"
        for variable in environment:
            if variable.startswith(ENV_PREFIX) and variable not in by_name:
                path = variable.removeprefix(ENV_PREFIX).lower().split("__")
                assert _settings_field(path), f"{name}: {variable} is no field of Settings"
        config_path = environment[CONFIG_ENV_VAR]
        mounts = [str(volume).split(":") for volume in service["volumes"]]
        assert [f"./{COMPOSE_CONFIG.relative_to(REPO_ROOT)}", config_path, "ro"] in mounts, name


def test_the_setting_check_tells_fields_from_typos() -> None:
    assert _settings_field(["temporal", "address"])
    assert _settings_field(["regions", "us", "wal_dir"])
    assert not _settings_field(["temporal", "adress"])
    assert not _settings_field(["tempral"])


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_every_image_is_pinned(name: str) -> None:
    service = SERVICES[name]
    if "build" in service:
        return  # our own image, built from the Dockerfile (whose base is checked below)
    image = service["image"]
    repository, _, tag = image.rpartition(":")
    assert "@sha256:" in image or (repository and tag and tag != "latest"), image
    assert any(ch.isdigit() for ch in tag), f"{image}: not an exact version"


def test_the_dockerfile_base_is_pinned_and_the_user_is_not_root() -> None:
    lines = [line.split() for line in DOCKERFILE.read_text(encoding="utf-8").splitlines()]
    bases = [words[1] for words in lines if words and words[0] == "FROM"]
    assert all("@sha256:" in base or base.split(":")[1][0].isdigit() for base in bases), bases
    users = [words[1] for words in lines if words and words[0] == "USER"]
    assert users and users[-1] not in ("root", "0")
    assert ["ENTRYPOINT", '["geoledger"]'] in lines


def test_prometheus_scrapes_each_process_where_it_serves_metrics() -> None:
    scrape = yaml.safe_load(SCRAPE_CONFIG.read_text(encoding="utf-8"))
    metrics_port = SETTINGS.temporal.worker_metrics_port
    scraped: set[str] = set()
    for job in scrape["scrape_configs"]:
        for group in job["static_configs"]:
            for target in group["targets"]:
                host, _, port = target.rpartition(":")
                assert host in GEOLEDGER_SERVICES, f"{job['job_name']}: {host} is no service"
                command = GEOLEDGER_SERVICES[host]["command"]
                path, params = _command_path(command), _resolve(command)
                # Prometheus is another container: loopback would be out of its reach.
                if path == ("ingest", "serve"):
                    assert int(port) == _node_port(params)
                    assert group["labels"]["region"] == params["region"]
                    assert params["host"] == ANY_ADDRESS, target
                else:
                    assert path == ("worker", "run") and int(port) == metrics_port, target
                    assert params["metrics_host"] == ANY_ADDRESS, target
                scraped.add(host)
    processes = {
        name
        for name, service in GEOLEDGER_SERVICES.items()
        if _command_path(service["command"]) in (("ingest", "serve"), ("worker", "run"))
    }
    assert scraped == processes
