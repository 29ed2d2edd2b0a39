"""deploy/k8s/ rendered as `kustomize build` renders it: the kustomize API (sigs.k8s.io/kustomize,
the library behind the kustomize binary) built from deploy/k8s/render with the machine's Go, its
modules from the Go module proxy on a fresh machine and from the module cache after that."""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
K8S = REPO_ROOT / "deploy" / "k8s"
OVERLAYS = sorted(p.name for p in (K8S / "overlays").iterdir() if p.is_dir())
_VARIABLE = re.compile(r"\$\((\w+)\)")

Manifest = dict[str, Any]


@functools.cache
def renderer() -> Path:
    """The built renderer (cached per test session: go's build cache makes a rebuild cheap)."""
    go = shutil.which("go") or "/usr/local/go/bin/go"
    out = Path(os.environ.get("TMPDIR", "/tmp")) / f"geoledger-k8s-render-{os.getuid()}"
    subprocess.run(
        [go, "build", "-o", str(out), "."],
        cwd=K8S / "render",
        check=True,
        capture_output=True,
        timeout=600,
    )
    return out


@functools.cache
def render(overlay: str) -> tuple[Manifest, ...]:
    """Every object `kustomize build deploy/k8s/overlays/<overlay>` renders."""
    built = subprocess.run(
        [str(renderer()), str(K8S / "overlays" / overlay)],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return tuple(doc for doc in yaml.safe_load_all(built.stdout) if doc)


def one(objects: tuple[Manifest, ...], kind: str, name: str | None = None) -> Manifest:
    [found] = [o for o in objects if o["kind"] == kind and name in (None, o["metadata"]["name"])]
    return found


def expand(text: str, env: dict[str, str]) -> str:
    """`$(NAME)` references in a container's command and args, as the kubelet expands them."""
    return _VARIABLE.sub(lambda m: env[m.group(1)], text)
