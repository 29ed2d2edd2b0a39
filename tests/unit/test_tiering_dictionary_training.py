"""Training a tenant's dictionary from a sample and measuring it on the bodies held out of
training (storage/tiering/dictionary_training.py)."""

from __future__ import annotations

import json

import pytest

from storage.tiering.codec import decode, encode
from storage.tiering.dictionary_training import train_measured
from storage.tiering.errors import DictionaryTrainingError


def bodies(count: int) -> list[bytes]:
    """Small records sharing their structure, as a tenant's events do."""
    return [
        json.dumps(
            {"tenant_id": "acme", "event_id": f"order-{i:05d}", "sku": f"sku-{i % 9}",
             "qty": i % 4, "note": "paid by card", "warehouse": f"wh-{i % 3}"}
        ).encode()
        for i in range(count)
    ]  # fmt: skip


def test_every_kth_body_is_held_out_and_the_dictionary_beats_plain_zstd_on_them() -> None:
    sample = bodies(403)

    measured = train_measured(sample, dict_bytes=4096, level=3, holdout_every=5, min_bodies=100)

    assert measured.sample_bodies == 403
    assert measured.sample_bytes == sum(len(b) for b in sample)
    assert measured.heldout_bodies == 81  # bodies 0, 5, ..., 400
    assert measured.ratio_dict > measured.ratio_zstd
    dictionary = measured.dictionary
    blob = encode(sample[0], 3, dictionary).blob
    assert decode(blob, {dictionary.dict_id: dictionary}, 1024) == sample[0]


def test_fewer_bodies_than_the_minimum_is_refused_before_training() -> None:
    with pytest.raises(DictionaryTrainingError, match="99 bodies") as raised:
        train_measured(bodies(99), dict_bytes=4096, level=3, holdout_every=5, min_bodies=100)
    assert raised.value.sample_count == 99
