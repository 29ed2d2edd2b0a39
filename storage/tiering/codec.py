"""The one encoding of warm and cold bodies: a one-byte codec header, then the payload.

    0x00  raw       header, body
    0x01  zstd      header, zstd frame
    0x02  zstd+dict header, 16-byte dictionary id, zstd frame compressed with that dictionary

Frames state their content size and dictionary and carry zstd's checksum, so `decode` refuses a
body larger than its caller's bound before decompressing, and a damaged frame gives an error,
never other bytes. The header byte itself is not protected (a 0x01 turned 0x00 reads as a raw
body): the integrity of a whole blob is the SHA-256 its reader checks before decoding (I5).

Building a zstd context costs about as much as compressing a small body, so each thread keeps the
ones it built, per (level, dictionary) for compression and per dictionary for decompression:
zstandard's objects may not be shared between threads, and one call at a time uses each.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

import zstandard

from storage.tiering.dictionaries import DICT_ID_BYTES, Dictionary
from storage.tiering.errors import (
    BodyTooLargeError,
    CorruptFrameError,
    TruncatedBlobError,
    UnknownCodecError,
    UnknownDictionaryError,
)


class BodyCodec(IntEnum):
    """The header byte: how the rest of the blob holds the body."""

    RAW = 0x00
    ZSTD = 0x01
    ZSTD_DICT = 0x02


@dataclass(frozen=True)
class EncodedBody:
    """A body's blob and the codec it ended up in (RAW when compression did not make it
    smaller); `dict_id` names the dictionary of a ZSTD_DICT blob, None otherwise."""

    blob: bytes
    codec: BodyCodec
    dict_id: str | None = None


def encode_raw(body: bytes) -> EncodedBody:
    """The blob of `body` stored as it is: a tenant without compression, or a body zstd would
    not shrink."""
    return EncodedBody(bytes([BodyCodec.RAW]) + body, BodyCodec.RAW)


def encode(body: bytes, level: int, dictionary: Dictionary | None) -> EncodedBody:
    """The blob of `body`: a zstd frame at `level` (with `dictionary` when given), or the raw
    body when that frame plus its header would not be smaller than the raw form."""
    frame = _compressor(level, dictionary).compress(body)
    if dictionary is not None:
        header = bytes([BodyCodec.ZSTD_DICT]) + bytes.fromhex(dictionary.dict_id)
        encoded = EncodedBody(header + frame, BodyCodec.ZSTD_DICT, dictionary.dict_id)
    else:
        encoded = EncodedBody(bytes([BodyCodec.ZSTD]) + frame, BodyCodec.ZSTD)
    raw = encode_raw(body)
    return encoded if len(encoded.blob) < len(raw.blob) else raw


def required_dictionary(blob: bytes) -> str | None:
    """The id of the dictionary `decode` needs for `blob`, None when it needs none.

    Raises TruncatedBlobError or UnknownCodecError for a header that names none.
    """
    codec = _codec(blob)
    return _dictionary_id(blob) if codec is BodyCodec.ZSTD_DICT else None


def decode(blob: bytes, dictionaries: Mapping[str, Dictionary], max_body_bytes: int) -> bytes:
    """The exact body `blob` encodes, of at most `max_body_bytes` bytes.

    `dictionaries` maps dictionary ids to dictionaries; only a ZSTD_DICT blob looks into it.
    Raises a BodyDecodeError: TruncatedBlobError, UnknownCodecError, UnknownDictionaryError,
    CorruptFrameError or BodyTooLargeError.
    """
    codec = _codec(blob)
    if codec is BodyCodec.RAW:
        body = blob[1:]
        if len(body) > max_body_bytes:
            raise BodyTooLargeError(len(body), max_body_bytes)
        return body
    if codec is BodyCodec.ZSTD:
        return _decompress(blob[1:], None, max_body_bytes)
    dict_id = _dictionary_id(blob)
    dictionary = dictionaries.get(dict_id)
    if dictionary is None:
        raise UnknownDictionaryError(dict_id, len(dictionaries))
    return _decompress(blob[1 + DICT_ID_BYTES :], dictionary, max_body_bytes)


def _codec(blob: bytes) -> BodyCodec:
    if not blob:
        raise TruncatedBlobError("a codec header", 1, 0)
    try:
        return BodyCodec(blob[0])
    except ValueError:
        raise UnknownCodecError(blob[0], [int(codec) for codec in BodyCodec]) from None


def _dictionary_id(blob: bytes) -> str:
    id_bytes = blob[1 : 1 + DICT_ID_BYTES]
    if len(id_bytes) < DICT_ID_BYTES:
        raise TruncatedBlobError("a dictionary id", DICT_ID_BYTES, len(id_bytes))
    return id_bytes.hex()


def _decompress(frame: bytes, dictionary: Dictionary | None, max_body_bytes: int) -> bytes:
    _check_frame_header(frame, dictionary, max_body_bytes)
    try:
        return _decompressor(dictionary).decompress(frame, allow_extra_data=False)
    except zstandard.ZstdError as exc:
        raise CorruptFrameError(str(exc)) from None


def _check_frame_header(frame: bytes, dictionary: Dictionary | None, max_body_bytes: int) -> None:
    """Refuse a frame `encode` would not write, or a too large one, from its header alone: before
    any memory is spent on its body."""
    if not frame:
        raise TruncatedBlobError("a zstd frame", 1, 0)
    try:
        parameters = zstandard.get_frame_parameters(frame)
    except zstandard.ZstdError as exc:
        raise CorruptFrameError(f"frame header: {exc}") from None
    if parameters.content_size == zstandard.CONTENTSIZE_UNKNOWN:
        raise CorruptFrameError("its header states no content size")
    if not parameters.has_checksum:
        raise CorruptFrameError("it carries no content checksum")
    # zstd's own 32-bit id of the dictionary, which `encode` writes; 0 for none.
    zstd_dict_id = dictionary.zstd.dict_id() if dictionary is not None else 0
    if parameters.dict_id != zstd_dict_id:
        raise CorruptFrameError(
            f"its header names zstd dictionary {parameters.dict_id}, expected {zstd_dict_id}"
        )
    if parameters.content_size > max_body_bytes:
        raise BodyTooLargeError(parameters.content_size, max_body_bytes)


CONTEXTS_PER_THREAD = 32
"""How many compressors (and as many decompressors) a thread keeps; past that it starts over, so
a long-lived worker that met many tenants' dictionaries holds only the recent ones."""

_contexts = threading.local()


def _compressor(level: int, dictionary: Dictionary | None) -> zstandard.ZstdCompressor:
    """This thread's compressor for `level` and `dictionary`, built on first use."""
    cache = _thread_cache("compressors")
    key = (level, dictionary.dict_id if dictionary is not None else None)
    compressor = cache.get(key)
    if compressor is None:
        compressor = zstandard.ZstdCompressor(
            level=level,
            dict_data=dictionary.zstd if dictionary is not None else None,
            write_checksum=True,
            write_content_size=True,
            write_dict_id=True,
        )
        cache[key] = compressor
    return compressor


def _decompressor(dictionary: Dictionary | None) -> zstandard.ZstdDecompressor:
    """This thread's decompressor for `dictionary` (None: plain frames), built on first use."""
    cache = _thread_cache("decompressors")
    key = dictionary.dict_id if dictionary is not None else None
    decompressor = cache.get(key)
    if decompressor is None:
        if dictionary is not None:
            decompressor = zstandard.ZstdDecompressor(dict_data=dictionary.zstd)
        else:
            decompressor = zstandard.ZstdDecompressor()
        cache[key] = decompressor
    return decompressor


def _thread_cache(name: str) -> dict[Any, Any]:
    cache: dict[Any, Any] | None = getattr(_contexts, name, None)
    if cache is None or len(cache) >= CONTEXTS_PER_THREAD:
        cache = {}
        setattr(_contexts, name, cache)
    return cache
