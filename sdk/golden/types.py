"""The one type the builder passes around: a JSON object of the vectors file, as Python data."""

from __future__ import annotations

from typing import Any

Json = dict[str, Any]
