"""deploy/k8s/: each region's overlay renders (the kustomize API, tests/support/k8s.py), every
built-in object is valid under the Kubernetes JSON schemas (kubernetes-validate, strict: an unknown
field is an error), and what the schemas cannot know holds: the KEDA ScaledObjects and the
ExternalSecret pass the minimal checks below (their CRD schemas are not bundled), every command a
pod runs is a real `geoledger` command, and the ingest pods are the nodes the region's
configuration names."""

from __future__ import annotations

import copy
import shlex
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import kubernetes_validate
import pytest
import typer

from cli.main import app
from ledger.config import Settings, load_settings
from tests.support.k8s import OVERLAYS, Manifest, expand, one, render
from workflows import queues

# Native sidecars (an init container with restartPolicy Always) are on by default from 1.29 and
# GA in 1.33: the ingest pod's shipper must outlive the node's preStop.
KUBERNETES_VERSION = "1.33"
# pragma: allowlist nextline secret (a custom resource kind's name)
CUSTOM_KINDS = {"ScaledObject": "keda.sh/v1alpha1", "ExternalSecret": "external-secrets.io/v1"}
KEDA_QUEUES = {queues.AUDIT, queues.CRR, queues.TIERING, queues.MIGRATE}
POD_OWNERS = ("StatefulSet", "Deployment")


def pods(objects: tuple[Manifest, ...]) -> list[tuple[Manifest, dict[str, Any]]]:
    return [(o, o["spec"]["template"]["spec"]) for o in objects if o["kind"] in POD_OWNERS]


def containers(pod: dict[str, Any]) -> list[dict[str, Any]]:
    return [*pod.get("initContainers", []), *pod["containers"]]


def region_of(objects: tuple[Manifest, ...]) -> str:
    config_map = next(o for o in objects if o["metadata"]["name"].startswith("geoledger-region"))
    region: str = config_map["data"]["region"]
    return region


def settings_of(objects: tuple[Manifest, ...], tmp_path: Path) -> Settings:
    config_map = next(o for o in objects if o["metadata"]["name"].startswith("geoledger-config"))
    path = tmp_path / "geoledger.toml"
    path.write_text(config_map["data"]["geoledger.toml"])
    return load_settings(path)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_builtin_object_is_valid_under_the_kubernetes_schemas(overlay: str) -> None:
    objects = render(overlay)
    assert {o["metadata"].get("namespace") for o in objects if o["kind"] != "Namespace"} == {
        f"geoledger-{overlay}"
    }
    for obj in objects:
        if obj["kind"] in CUSTOM_KINDS:
            assert obj["apiVersion"] == CUSTOM_KINDS[obj["kind"]]
            continue
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


def test_the_schema_check_rejects_what_kubernetes_would() -> None:
    statefulset = copy.deepcopy(one(render(OVERLAYS[0]), "StatefulSet"))
    statefulset["spec"]["replica"] = 2  # a typo of replicas
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(statefulset, KUBERNETES_VERSION, strict=True)
    statefulset = copy.deepcopy(one(render(OVERLAYS[0]), "StatefulSet"))
    statefulset["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"] = "1"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(statefulset, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_keda_scales_each_backlog_queue_on_its_own_temporal_task_queue(overlay: str) -> None:
    objects = render(overlay)
    deployments = {o["metadata"]["name"]: o for o in objects if o["kind"] == "Deployment"}
    scaled: set[str] = set()
    for scaled_object in (o for o in objects if o["kind"] == "ScaledObject"):
        spec = scaled_object["spec"]
        target = deployments[spec["scaleTargetRef"]["name"]]
        assert 1 <= spec["minReplicaCount"] <= spec["maxReplicaCount"]
        [trigger] = spec["triggers"]
        assert trigger["type"] == "temporal"
        metadata = trigger["metadata"]
        assert {"endpoint", "namespace", "taskQueue", "targetQueueSize"} <= set(metadata)
        assert int(metadata["targetQueueSize"]) >= 1
        [container] = target["spec"]["template"]["spec"]["containers"]
        assert metadata["taskQueue"] == queue_of(container["args"])
        scaled.add(metadata["taskQueue"])
    assert scaled == KEDA_QUEUES
    # KEDA owns those Deployments' HPAs; the only HPA of ours scales the ingest nodes.
    [hpa] = [o for o in objects if o["kind"] == "HorizontalPodAutoscaler"]
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "name": "ingest",
    }
    assert {queue_of(c["args"]) for d in deployments.values() for c in containers(pod(d))} == set(
        queues.SHARED_QUEUES
    )


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_secrets_come_only_by_reference(overlay: str, tmp_path: Path) -> None:
    objects = render(overlay)
    assert "Secret" not in {o["kind"] for o in objects}
    [external] = [o for o in objects if o["kind"] == "ExternalSecret"]
    spec = external["spec"]
    assert spec["secretStoreRef"]["name"] and spec["secretStoreRef"]["kind"]
    assert all(entry["remoteRef"]["key"] and entry["secretKey"] for entry in spec["data"])
    provided = {entry["secretKey"] for entry in spec["data"]}
    for _, spec_of_pod in pods(objects):
        for volume in spec_of_pod["volumes"]:
            if "secret" in volume:
                assert volume["secret"]["secretName"] == spec["target"]["name"]
    settings = settings_of(objects, tmp_path)
    region = settings.region(region_of(objects))
    assert region.signing_key_file is not None and region.signing_key_file.name in provided
    assert "pgpass" in provided
    for config in settings.regions.values():
        for dsn in (config.control_dsn, *config.shard_dsns):
            assert urlparse(dsn).password is None, dsn


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_pod_runs_real_geoledger_commands(overlay: str, tmp_path: Path) -> None:
    objects = render(overlay)
    settings = settings_of(objects, tmp_path)
    region = region_of(objects)
    env = {"REGION": region, "POD_NAME": "ingest-0"}
    commands = 0
    for _, spec in pods(objects):
        for container in containers(spec):
            assert container["command"] == ["geoledger"]
            args = [expand(arg, env) for arg in container["args"]]
            check_command(args)
            if "--queue" in args:
                queue = queue_of(args)
                assert queue in queues.SHARED_QUEUES or queue == queues.node_queue(
                    region, env["POD_NAME"]
                )
            pre_stop = container.get("lifecycle", {}).get("preStop")
            if pre_stop is not None:
                shell, dash_c, script = pre_stop["exec"]["command"]
                assert (shell, dash_c) == ("sh", "-c")
                words = [
                    w.replace("$REGION", region).replace("$POD_NAME", env["POD_NAME"])
                    for w in shlex.split(script)
                ]
                assert words[:2] == ["exec", "geoledger"]
                check_command(words[2:])
                assert words[2:4] == ["ingest", "retire"]
            commands += 1
    assert commands == 1 + 1 + len(queues.SHARED_QUEUES)
    assert settings.region(region)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_ingest_pods_are_the_nodes_the_region_configures(overlay: str, tmp_path: Path) -> None:
    objects = render(overlay)
    settings = settings_of(objects, tmp_path)
    region = settings.region(region_of(objects))
    statefulset = one(objects, "StatefulSet", "ingest")
    hpa = one(objects, "HorizontalPodAutoscaler", "ingest")
    name = statefulset["metadata"]["name"]
    # Pod names are <statefulset>-<ordinal>: every pod the HPA may start is a configured node.
    assert [n.name for n in region.nodes] == [
        f"{name}-{i}" for i in range(hpa["spec"]["maxReplicas"])
    ]
    spec = statefulset["spec"]["template"]["spec"]
    [sidecar] = spec["initContainers"]
    [node] = spec["containers"]
    assert sidecar["restartPolicy"] == "Always"
    # The shipper reads the node's WAL: the same claim, at the path the configuration names.
    [claim] = statefulset["spec"]["volumeClaimTemplates"]
    wal_mounts = [
        {m["mountPath"] for m in c["volumeMounts"] if m["name"] == claim["metadata"]["name"]}
        for c in (sidecar, node)
    ]
    assert wal_mounts[0] == wal_mounts[1] == {str(region.wal_dir)}
    assert statefulset["spec"]["persistentVolumeClaimRetentionPolicy"]["whenScaled"] == "Retain"
    assert {p["containerPort"] for p in node["ports"]} == {n.port for n in region.nodes}
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert node[probe]["httpGet"]["path"].startswith("/healthz")
    # The retire waits up to its default timeout inside the grace period.
    assert spec["terminationGracePeriodSeconds"] > 600
    selected = {
        tuple(sorted(p["spec"]["selector"]["matchLabels"].items()))
        for p in objects
        if p["kind"] == "PodDisruptionBudget"
    }
    for owner, _ in pods(objects):
        assert tuple(sorted(owner["spec"]["selector"]["matchLabels"].items())) in selected


@pytest.mark.parametrize(
    "args",
    [
        ["ingest", "serv"],
        ["ingest", "retire", "--region", "us"],
        ["worker", "run", "--queue", queues.CRR, "--metric-port", "9464"],
    ],
)
def test_the_command_check_rejects_what_geoledger_would(args: list[str]) -> None:
    with pytest.raises(Exception, match=r"(?i)no command|missing|no such"):
        check_command(args)


def pod(owner: Manifest) -> dict[str, Any]:
    spec: dict[str, Any] = owner["spec"]["template"]["spec"]
    return spec


def queue_of(args: list[str]) -> str:
    return args[args.index("--queue") + 1]


def check_command(args: list[str]) -> None:
    """Parse `geoledger <args>` as the CLI would, without running it: an unknown command or
    option, or a missing required one, raises click's UsageError."""
    command: Any = typer.main.get_command(app)
    rest = list(args)
    path = ["geoledger"]
    # typer carries its own copy of click, so groups are told by what they do.
    while hasattr(command, "list_commands"):
        sub = command.get_command(command.context_class(command), rest[0])
        assert sub is not None, f"geoledger {' '.join(args)}: no command {rest[0]!r}"
        path.append(rest.pop(0))
        command = sub
    command.make_context(" ".join(path), rest)
