"""zstd compression of segment files, streamed, hashing both forms (SHA-256) on the way."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, cast

import zstandard

CODEC = "zstd"
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Compressed:
    """One compressed segment file: where it is, and the size and SHA-256 of both forms."""

    path: Path
    raw_bytes: int
    raw_sha256: str
    compressed_bytes: int
    sha256: str


def compress_file(source: Path, target: Path, level: int) -> Compressed:
    """Compress `source` into `target` without holding either in memory."""
    raw_hash, packed_hash = hashlib.sha256(), hashlib.sha256()
    raw_bytes = 0
    compressor = zstandard.ZstdCompressor(level=level, write_checksum=True)
    with source.open("rb") as reader, target.open("wb") as sink:
        writer = cast(BinaryIO, _HashingWriter(sink, packed_hash))
        with compressor.stream_writer(writer, closefd=False) as stream:
            while chunk := reader.read(_CHUNK):
                raw_hash.update(chunk)
                raw_bytes += len(chunk)
                stream.write(chunk)
    return Compressed(
        target, raw_bytes, raw_hash.hexdigest(), target.stat().st_size, packed_hash.hexdigest()
    )


def decompress(data: bytes, max_output: int) -> bytes:
    """Decompress a whole object. Requires `max_output` >= the raw size the manifest states: a
    frame that claims more is refused rather than allowed to exhaust memory."""
    return zstandard.ZstdDecompressor().decompress(data, max_output_size=max_output)


class _HashingWriter:
    """A write-only file object that hashes what passes through it."""

    def __init__(self, sink: object, digest: hashlib._Hash) -> None:
        self._sink = sink
        self._digest = digest

    def write(self, data: bytes) -> int:
        self._digest.update(data)
        return self._sink.write(data)  # type: ignore[attr-defined,no-any-return]

    def flush(self) -> None:
        self._sink.flush()  # type: ignore[attr-defined]
