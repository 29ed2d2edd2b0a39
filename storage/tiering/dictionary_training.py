"""Training a tenant's dictionary from a sample of its bodies and measuring it: every
`holdout_every`-th body is kept out of training, and the dictionary is judged on those bodies
alone (compressed with it, then with plain zstd, at the tenant's level), so the ratio recorded
is what it does for bodies it has not seen.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from storage.tiering.codec import encode
from storage.tiering.dictionaries import Dictionary, train_dictionary
from storage.tiering.errors import DictionaryTrainingError


@dataclass(frozen=True)
class MeasuredDictionary:
    """A trained dictionary, the sample it came from (`heldout_bodies` of them kept out of
    training), and the held-out bodies' compression ratio (raw bytes over stored blob bytes)
    with plain zstd and with the dictionary."""

    dictionary: Dictionary
    sample_bodies: int
    sample_bytes: int
    heldout_bodies: int
    ratio_zstd: float
    ratio_dict: float


def train_measured(
    bodies: Sequence[bytes],
    *,
    dict_bytes: int,
    level: int,
    holdout_every: int,
    min_bodies: int,
) -> MeasuredDictionary:
    """A dictionary of at most `dict_bytes` trained from `bodies` minus every `holdout_every`-th
    one, measured on those at zstd `level`.

    Raises DictionaryTrainingError, before training, when the sample has fewer than `min_bodies`
    bodies; and when zstd cannot train from it.
    """
    sample_bytes = sum(len(body) for body in bodies)
    if len(bodies) < min_bodies:
        raise DictionaryTrainingError(
            len(bodies), sample_bytes, dict_bytes, f"at least {min_bodies} bodies are needed"
        )
    heldout = list(bodies[::holdout_every])
    training = [body for i, body in enumerate(bodies) if i % holdout_every]
    dictionary = train_dictionary(training, dict_bytes)
    raw = sum(len(body) for body in heldout)
    return MeasuredDictionary(
        dictionary=dictionary,
        sample_bodies=len(bodies),
        sample_bytes=sample_bytes,
        heldout_bodies=len(heldout),
        ratio_zstd=raw / sum(len(encode(body, level, None).blob) for body in heldout),
        ratio_dict=raw / sum(len(encode(body, level, dictionary).blob) for body in heldout),
    )
