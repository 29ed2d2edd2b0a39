"""The body codec (storage/tiering/codec.py): exact round trips in each of its three forms, the
raw fallback, a table of corrupt blobs each refused with its own error, and dictionary training."""

from __future__ import annotations

import contextlib
import hashlib
import random
from collections.abc import Callable
from typing import Any

import pytest
import zstandard

from ledger.envelope import EventEnvelope
from ledger.keys import key_id_for, private_key_from_seed
from ledger.signing import sign_event
from storage.tiering.codec import BodyCodec, decode, encode, required_dictionary
from storage.tiering.dictionaries import Dictionary, train_dictionary
from storage.tiering.errors import (
    BodyDecodeError,
    BodyTooLargeError,
    CorruptFrameError,
    DictionaryTrainingError,
    TruncatedBlobError,
    UnknownCodecError,
    UnknownDictionaryError,
)

LEVEL = 3
MAX_BODY = 1024 * 1024
KEY = private_key_from_seed(hashlib.sha256(b"geoledger-tiering-codec-test").digest())
KEY_ID = key_id_for(KEY.public_key())
DICT_SIZE = 8 * 1024

_TYPES = ("order.created", "order.paid", "order.shipped", "cart.updated", "cart.emptied")
_COUNTRIES = ("DE", "FR", "US", "JP", "BR", "IN", "NL")
_CURRENCIES = ("EUR", "USD", "JPY", "BRL", "INR")


def sample_bodies(count: int, seed: int, tenant: str = "acme") -> list[bytes]:
    """`count` canonical signed events (what the dedup store keeps as a body) of 200-800 bytes,
    shaped like sdk/golden/vectors.json's order events, drawn from a seeded generator."""
    rng = random.Random(seed)
    bodies = []
    for index in range(count):
        type_ = rng.choice(_TYPES)
        envelope = EventEnvelope(
            tenant_id=tenant,
            event_id=f"evt-{seed}-{index:06d}",
            key_id=KEY_ID,
            occurred_at=f"2025-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}T"
            f"{rng.randrange(24):02d}:{rng.randrange(60):02d}:{rng.randrange(60):02d}Z",
            type=type_,
            payload=_order_payload(rng) if type_.startswith("order.") else _cart_payload(rng),
        )
        bodies.append(sign_event(KEY, envelope).canonical_event())
    return bodies


def _order_payload(rng: random.Random) -> dict[str, Any]:
    items: list[dict[str, Any]] = [
        {
            "sku": f"SKU-{rng.randrange(10_000):05d}",
            "qty": rng.randrange(1, 9),
            "price": rng.randrange(100, 50_000),
        }
        for _ in range(rng.randrange(0, 8))
    ]
    return {
        "order_id": f"A-{rng.randrange(1_000_000):07d}",
        "amount": sum(item["qty"] * item["price"] for item in items),
        "currency": rng.choice(_CURRENCIES),
        "paid": rng.random() < 0.7,
        "customer": {
            "id": f"cus_{rng.getrandbits(48):012x}",
            "country": rng.choice(_COUNTRIES),
            "email": f"user{rng.randrange(100_000)}@example.com",
        },
        "items": items,
    }


def _cart_payload(rng: random.Random) -> dict[str, Any]:
    return {"cart_id": f"c-{rng.randrange(100_000)}", "count": rng.randrange(10)}


def incompressible(size: int) -> bytes:
    """`size` bytes of SHA-256 digests of a counter: no redundancy zstd could find."""
    digests = [hashlib.sha256(index.to_bytes(8, "big")).digest() for index in range(size // 32 + 1)]
    return b"".join(digests)[:size]


@pytest.fixture(scope="module")
def dictionary() -> Dictionary:
    return train_dictionary(sample_bodies(400, seed=1), DICT_SIZE)


def test_sample_bodies_are_the_size_the_checks_assume() -> None:
    sizes = [len(body) for body in sample_bodies(300, seed=2)]
    assert min(sizes) >= 200 and max(sizes) <= 800


# --- round trips ---------------------------------------------------------------------------------


@pytest.mark.parametrize("use_dictionary", [False, True], ids=["zstd", "zstd-dict"])
def test_compressed_round_trip(dictionary: Dictionary, use_dictionary: bool) -> None:
    chosen = dictionary if use_dictionary else None
    for body in [*sample_bodies(20, seed=3), b"x" * 4000]:
        encoded = encode(body, LEVEL, chosen)
        assert encoded.codec is (BodyCodec.ZSTD_DICT if use_dictionary else BodyCodec.ZSTD)
        assert encoded.blob[0] == encoded.codec
        assert encoded.dict_id == (dictionary.dict_id if use_dictionary else None)
        assert required_dictionary(encoded.blob) == encoded.dict_id
        assert decode(encoded.blob, {dictionary.dict_id: dictionary}, MAX_BODY) == body


@pytest.mark.parametrize(
    "body",
    [b"", b"{}", incompressible(64), incompressible(5000)],
    ids=["empty", "two-bytes", "random-64", "random-5000"],
)
@pytest.mark.parametrize("use_dictionary", [False, True], ids=["zstd", "zstd-dict"])
def test_body_that_does_not_shrink_is_stored_raw(
    dictionary: Dictionary, body: bytes, use_dictionary: bool
) -> None:
    encoded = encode(body, LEVEL, dictionary if use_dictionary else None)
    assert encoded.codec is BodyCodec.RAW
    assert encoded.dict_id is None
    assert encoded.blob == b"\x00" + body
    assert required_dictionary(encoded.blob) is None
    assert decode(encoded.blob, {}, MAX_BODY) == body


def test_dictionary_blob_names_its_dictionary(dictionary: Dictionary) -> None:
    blob = encode(sample_bodies(1, seed=4)[0], LEVEL, dictionary).blob
    assert blob[1:17] == bytes.fromhex(dictionary.dict_id)
    assert dictionary.dict_id == hashlib.sha256(dictionary.data).hexdigest()[:32]


# --- corrupt blobs -------------------------------------------------------------------------------

BODY = sample_bodies(1, seed=5)[0]


def _zstd_blob() -> bytes:
    return encode(BODY, LEVEL, None).blob


def _flip(blob: bytes, index: int, bit: int = 0) -> bytes:
    flipped = bytearray(blob)
    flipped[index] ^= 1 << bit
    return bytes(flipped)


def _foreign_frame(content_size: bool, checksum: bool) -> bytes:
    """A frame of BODY as another zstd writer might make it, behind the zstd header."""
    compressor = zstandard.ZstdCompressor(
        level=LEVEL, write_content_size=content_size, write_checksum=checksum
    )
    return b"\x01" + compressor.compress(BODY)


# (name, blob built from the module's dictionary, the error decode must raise)
CORRUPT_CASES: list[tuple[str, Callable[[Dictionary], bytes], type[BodyDecodeError]]] = [
    ("empty blob", lambda d: b"", TruncatedBlobError),
    ("unknown header 0x03", lambda d: b"\x03" + _zstd_blob()[1:], UnknownCodecError),
    ("unknown header 0xff", lambda d: b"\xff" + BODY, UnknownCodecError),
    ("zstd header without frame", lambda d: b"\x01", TruncatedBlobError),
    ("dict header without id", lambda d: b"\x02", TruncatedBlobError),
    ("dict id cut short", lambda d: encode(BODY, LEVEL, d).blob[:10], TruncatedBlobError),
    ("dict id without frame", lambda d: encode(BODY, LEVEL, d).blob[:17], TruncatedBlobError),
    (
        "dict id with a flipped bit",
        lambda d: _flip(encode(BODY, LEVEL, d).blob, 5),
        UnknownDictionaryError,
    ),
    (
        "dict frame behind the zstd header",
        lambda d: b"\x01" + encode(BODY, LEVEL, d).blob[17:],
        CorruptFrameError,
    ),
    (
        "zstd frame behind the dict header",
        lambda d: b"\x02" + bytes.fromhex(d.dict_id) + _zstd_blob()[1:],
        CorruptFrameError,
    ),
    ("frame truncated by one byte", lambda d: _zstd_blob()[:-1], CorruptFrameError),
    ("frame cut to half", lambda d: _zstd_blob()[: len(_zstd_blob()) // 2], CorruptFrameError),
    ("frame header cut short", lambda d: _zstd_blob()[:4], CorruptFrameError),
    ("flipped bit in the magic", lambda d: _flip(_zstd_blob(), 1), CorruptFrameError),
    ("flipped bit in the content", lambda d: _flip(_zstd_blob(), 20), CorruptFrameError),
    ("flipped bit in the checksum", lambda d: _flip(_zstd_blob(), -1), CorruptFrameError),
    (
        "flipped bit in a dict frame",
        lambda d: _flip(encode(BODY, LEVEL, d).blob, 40),
        CorruptFrameError,
    ),
    ("bytes after the frame", lambda d: _zstd_blob() + b"\x00", CorruptFrameError),
    ("two frames", lambda d: _zstd_blob() + _zstd_blob()[1:], CorruptFrameError),
    (
        "frame without content size",
        lambda d: _foreign_frame(content_size=False, checksum=True),
        CorruptFrameError,
    ),
    (
        "frame without checksum",
        lambda d: _foreign_frame(content_size=True, checksum=False),
        CorruptFrameError,
    ),
]


@pytest.mark.parametrize(
    ("blob_of", "error"),
    [(blob_of, error) for _, blob_of, error in CORRUPT_CASES],
    ids=[name for name, _, _ in CORRUPT_CASES],
)
def test_corrupt_blob_is_refused(
    dictionary: Dictionary,
    blob_of: Callable[[Dictionary], bytes],
    error: type[BodyDecodeError],
) -> None:
    with pytest.raises(error):
        decode(blob_of(dictionary), {dictionary.dict_id: dictionary}, MAX_BODY)


@pytest.mark.parametrize("use_dictionary", [False, True], ids=["zstd", "zstd-dict"])
def test_no_flipped_bit_or_truncation_yields_other_bytes(
    dictionary: Dictionary, use_dictionary: bool
) -> None:
    blob = encode(BODY, LEVEL, dictionary if use_dictionary else None).blob
    dictionaries = {dictionary.dict_id: dictionary}
    # Not the header byte: a 0x01 or 0x02 turned into 0x00 reads as a raw body, which the codec
    # cannot tell from one; a blob's SHA-256, checked before decoding (I5), catches that.
    damaged = [_flip(blob, index, bit) for index in range(1, len(blob)) for bit in range(8)]
    damaged += [blob[:length] for length in range(len(blob))]
    for bad in damaged:
        # The exact body back (a flip zstd does not depend on, such as a larger window) or an
        # error: never other bytes.
        with contextlib.suppress(BodyDecodeError):
            assert decode(bad, dictionaries, MAX_BODY) == BODY


def test_dictionary_blob_without_its_dictionary_names_the_one_missing(
    dictionary: Dictionary,
) -> None:
    with pytest.raises(UnknownDictionaryError) as raised:
        decode(encode(BODY, LEVEL, dictionary).blob, {}, MAX_BODY)
    assert raised.value.dict_id == dictionary.dict_id


def test_wrong_dictionary_under_the_right_id_is_refused(dictionary: Dictionary) -> None:
    other = train_dictionary(sample_bodies(400, seed=6), DICT_SIZE)
    blob = encode(BODY, LEVEL, dictionary).blob
    with pytest.raises(CorruptFrameError):
        decode(blob, {dictionary.dict_id: other}, MAX_BODY)


@pytest.mark.parametrize("use_dictionary", [False, True], ids=["zstd", "zstd-dict"])
def test_body_beyond_the_bound_is_refused_before_decompressing(
    dictionary: Dictionary, use_dictionary: bool
) -> None:
    # 64 MiB of zeros is a frame of a few KiB: the bound, not the blob's size, must stop it.
    bomb = encode(bytes(64 * 1024 * 1024), LEVEL, dictionary if use_dictionary else None).blob
    assert len(bomb) < 64 * 1024
    with pytest.raises(BodyTooLargeError) as raised:
        decode(bomb, {dictionary.dict_id: dictionary}, MAX_BODY)
    assert (raised.value.size, raised.value.limit) == (64 * 1024 * 1024, MAX_BODY)


def test_raw_body_beyond_the_bound_is_refused() -> None:
    with pytest.raises(BodyTooLargeError):
        decode(b"\x00" + bytes(11), {}, 10)
    assert decode(b"\x00" + bytes(10), {}, 10) == bytes(10)


# --- dictionaries --------------------------------------------------------------------------------


def test_dictionary_beats_plain_zstd_on_small_events(dictionary: Dictionary) -> None:
    held_out = sample_bodies(300, seed=7)
    raw = sum(len(body) for body in held_out)
    plain = sum(len(encode(body, LEVEL, None).blob) for body in held_out)
    with_dictionary = sum(len(encode(body, LEVEL, dictionary).blob) for body in held_out)
    # Measured here: plain zstd 1.33x, with the dictionary 2.59x, i.e. 1.95 times better (1.92-1.97
    # over held-out seeds 7, 9, 11); 1.5, the target, leaves room below that.
    assert raw / with_dictionary > 1.5 * (raw / plain)


@pytest.mark.parametrize(
    ("samples", "size"),
    [([], DICT_SIZE), (sample_bodies(3, seed=8), DICT_SIZE), (sample_bodies(400, seed=8), 64)],
    ids=["no-bodies", "three-bodies", "size-below-zstd-minimum"],
)
def test_training_from_too_little_is_a_clear_error(samples: list[bytes], size: int) -> None:
    with pytest.raises(DictionaryTrainingError) as raised:
        train_dictionary(samples, size)
    assert (raised.value.sample_count, raised.value.dict_size) == (len(samples), size)
    assert f"got {len(samples)} bodies" in str(raised.value)
