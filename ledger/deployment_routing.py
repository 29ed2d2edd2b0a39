"""Where a Temporal worker deployment sends new work: its current build and the build it ramps."""

from __future__ import annotations

from pydantic import BaseModel


class Routing(BaseModel):
    """The deployment's routing once the activity changed it."""

    current_build: str | None = None
    ramping_build: str | None = None
    ramping_percentage: float = 0.0
