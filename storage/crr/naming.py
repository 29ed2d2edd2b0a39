"""Object keys of shipped streams. Zero-padded sequence numbers make lexicographic order (what
object-store listings return) the sequence order.

    wal/<region>/<node>/segments/<first_seq:020d>-<last_seq:020d>.seg.zst
    wal/<region>/<node>/manifests/<first_seq:020d>-<last_seq:020d>.json
"""

from __future__ import annotations

import re

from ledger.manifest_ref import ManifestRef
from ledger.stream_id import StreamId

_MANIFEST_NAME = re.compile(r"^(\d{20})-(\d{20})\.json$")


def stream_prefix(stream: str) -> str:
    """`wal/<region>/<node>`; raises ValueError unless `stream` is a valid stream name."""
    return f"wal/{StreamId.parse(stream)}"


def segment_key(stream: str, first_seq: int, last_seq: int) -> str:
    """The key of the compressed segment holding seqs `first_seq..last_seq` of `stream`."""
    return f"{stream_prefix(stream)}/segments/{first_seq:020d}-{last_seq:020d}.seg.zst"


def manifests_prefix(stream: str) -> str:
    """The prefix every manifest key of `stream` starts with (it ends with `/`)."""
    return f"{stream_prefix(stream)}/manifests/"


def manifest_key(stream: str, first_seq: int, last_seq: int) -> str:
    """The key of the manifest of seqs `first_seq..last_seq` of `stream`."""
    return f"{manifests_prefix(stream)}{first_seq:020d}-{last_seq:020d}.json"


def manifest_start_after(stream: str, after_seq: int) -> str:
    """A listing cursor that skips every manifest ending at or before `after_seq`: keys of the
    manifests that follow sort after it because their first seq is greater."""
    return f"{manifests_prefix(stream)}{after_seq:020d}-{'9' * 20}.json"


def parse_manifest_key(stream: str, key: str) -> ManifestRef | None:
    """The manifest a key of `stream` names, or None for any other key."""
    prefix = manifests_prefix(stream)
    if not key.startswith(prefix):
        return None
    match = _MANIFEST_NAME.match(key[len(prefix) :])
    if match is None:
        return None
    return ManifestRef(key=key, first_seq=int(match.group(1)), last_seq=int(match.group(2)))
