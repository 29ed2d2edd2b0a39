"""Drills that codify the runbooks: they act on a running stack and check the result."""
