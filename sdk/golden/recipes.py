"""Payload recipes: a payload too large to store in the vectors file, written as how to build it.

A `repeat` recipe, `{"kind": "repeat", "key", "char", "count"}`, stands for `{key: char * count}`.
The cases that use one store SHA-256 digests in place of the canonical and signing-input bytes.
"""

from __future__ import annotations

from dataclasses import dataclass

from golden.types import Json

REPEAT_RECIPE_TEXT = (
    "payload = {recipe.key: recipe.char repeated recipe.count times}; "
    "canonical_sha256 and signing_input_sha256 replace the hex fields"
)


@dataclass(frozen=True)
class Repeat:
    """The payload `{key: char * count}`."""

    key: str
    char: str
    count: int

    def as_json(self) -> Json:
        return {"kind": "repeat", "key": self.key, "char": self.char, "count": self.count}

    def payload(self) -> Json:
        return {self.key: self.char * self.count}


def materialize_payload(recipe: Json) -> Json:
    """The payload a `repeat` recipe stands for: `{key: char * count}`."""
    if recipe.get("kind") != "repeat":
        raise ValueError(f"expected a recipe of kind 'repeat', got {recipe.get('kind')!r}")
    return Repeat(recipe["key"], recipe["char"], recipe["count"]).payload()
