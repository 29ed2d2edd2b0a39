"""Temporal worker deployments: their routing (current and ramping builds) and the workflows
pinned to a build."""
