"""Errors raised by tiered storage. Every message says what was expected and what was got."""

from __future__ import annotations


class TieringError(Exception):
    """Base of every error `storage.tiering` raises."""


class TieringInputError(TieringError, ValueError):
    """A tenant id or content id handed to tiering is malformed; nothing was read or written."""


class BodyDecodeError(TieringError):
    """A body blob could not be turned back into the exact body it encodes; nothing is returned.

    Base of the reasons below, so a reader that only needs "this blob is unusable" catches one.
    """


class TruncatedBlobError(BodyDecodeError):
    """The blob ends before its header (codec byte, dictionary id) or before its frame begins."""

    def __init__(self, part: str, expected: int, got: int) -> None:
        super().__init__(f"expected {part} of {expected} bytes, got {got}")
        self.part = part
        self.expected = expected
        self.got = got


class UnknownCodecError(BodyDecodeError):
    """The header byte names no codec this version knows."""

    def __init__(self, header: int, known: list[int]) -> None:
        names = ", ".join(f"0x{code:02x}" for code in known)
        super().__init__(f"expected a codec header byte in ({names}), got 0x{header:02x}")
        self.header = header


class UnknownDictionaryError(BodyDecodeError):
    """The blob was compressed with a dictionary the caller did not supply: load it (by
    `dict_id`) and decode again."""

    def __init__(self, dict_id: str, supplied: int) -> None:
        super().__init__(
            f"expected dictionary {dict_id} among the {supplied} supplied, got no such dictionary"
        )
        self.dict_id = dict_id


class CorruptFrameError(BodyDecodeError):
    """The zstd frame is not one this codec writes (content size and checksum stated, nothing
    after it) or zstd refuses it: flipped or missing bytes, a wrong dictionary."""

    def __init__(self, detail: str) -> None:
        super().__init__(f"expected an intact zstd frame as encode writes it: {detail}")
        self.detail = detail


class BodyTooLargeError(BodyDecodeError):
    """The body would exceed the caller's bound; it was not decompressed."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"expected a body of at most {limit} bytes, got one of {size} bytes")
        self.size = size
        self.limit = limit


class DictionaryTrainingError(TieringError):
    """zstd could not train a dictionary from the sample given (too few or too small bodies)."""

    def __init__(self, sample_count: int, sample_bytes: int, dict_size: int, detail: str) -> None:
        super().__init__(
            f"expected a sample zstd can train a dictionary of up to {dict_size} bytes from, got "
            f"{sample_count} bodies of {sample_bytes} bytes in all ({detail}); give more bodies "
            "(zstd recommends about 100 times the dictionary size in all) or a smaller size"
        )
        self.sample_count = sample_count
        self.sample_bytes = sample_bytes
        self.dict_size = dict_size


class DictionaryNotFoundError(TieringError):
    """No dictionary with this id is stored for the tenant in this store."""

    def __init__(self, store: str, tenant: str, dict_id: str) -> None:
        super().__init__(
            f"expected dictionary {dict_id} of tenant {tenant!r} in {store}, got no such object"
        )
        self.store = store
        self.tenant = tenant
        self.dict_id = dict_id


class DictionaryIntegrityError(TieringError):
    """The object stored under a dictionary's key does not hash to the id the key names (I5):
    it was altered or replaced, and is refused. An operator has to look at it."""

    def __init__(self, store: str, key: str, expected_id: str, got_id: str) -> None:
        super().__init__(
            f"expected {store} key {key!r} to hold bytes whose content id is {expected_id}, "
            f"got bytes whose content id is {got_id}"
        )
        self.store = store
        self.key = key
        self.expected_id = expected_id
        self.got_id = got_id


class BodyIntegrityError(TieringError):
    """A body read back from a lower tier is not the body its key row names: it is not a signed
    event in canonical form, or its content digest differs from the row's. Nothing is returned."""

    def __init__(self, tenant_id: str, event_id: str, detail: str) -> None:
        super().__init__(f"body of {tenant_id}/{event_id}: {detail}")
        self.tenant_id = tenant_id
        self.event_id = event_id
        self.detail = detail
