"""The stable workflow id of a canary, shared by the workflow's callers (CLI, web UI searches)."""

from __future__ import annotations


def canary_workflow_id(deployment: str, build_id: str) -> str:
    """`canary-<deployment>-<build>`: one canary per build of a deployment."""
    return f"canary-{deployment}-{build_id}"
