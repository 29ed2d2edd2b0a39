"""hypothesis strategies for events, batches, WAL records and manifests, as JSON bytes.

The values come near every rule (valid ids, dates, signatures, then one field broken) and the
bytes reach the corners where JSON parsers disagree: lone surrogates as escapes and as raw bytes,
NUL, overlong UTF-8, huge and negative-zero numbers, NaN and Infinity literals, duplicate members,
whitespace, deep nesting.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from hypothesis import strategies as st

from ledger.canonical import canonical_bytes
from ledger.keys import private_key_from_seed
from ledger.manifest import ManifestFields, manifest_bytes, sign_manifest
from ledger.record import MAX_SAFE_INTEGER
from storage.wal.framing import encode_frames

CORNER_STRINGS = [
    "",
    "\x00",
    "a\x00b",
    "\ud800",
    "x\udc00y",
    "\ud83d\ude00",
    "\U0001f600",
    "\u2028",
    "\x7f",
    "\x1f",
    "\ue000",
    "\uffff",
    "acme\n",
    " acme",
    "é",
    "\\",
    '"',
]
CORNER_NUMBERS: list[Any] = [
    0,
    -0.0,
    1.0,
    MAX_SAFE_INTEGER,
    MAX_SAFE_INTEGER + 1,
    -MAX_SAFE_INTEGER - 1,
    2**63,
    2**64,
    10**30,
    -(10**30),
    1e300,
    5e-324,
    float("nan"),
    float("inf"),
    float("-inf"),
]
# Literal spellings json.loads reads but strict JSON does not (or that read as the same value).
RAW_NUMBERS = [b"-0", b"-0.0", b"0e0", b"1E+2", b"1.0", b"NaN", b"Infinity", b"-Infinity", b"1e400"]

texts = st.one_of(
    st.text(max_size=12),
    st.text(st.characters(codec=None, categories=["Cs", "Cc", "Co", "Lu"]), max_size=6),
    st.sampled_from(CORNER_STRINGS),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.sampled_from(CORNER_NUMBERS),
    texts,
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
    max_leaves=12,
)

# Values every rule accepts: most events in a run should be valid, so that acceptance (and every
# canonical byte of what is accepted) is compared, not only rejection.
safe_texts = st.text(st.characters(exclude_categories=["Cs"]), max_size=12)
safe_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-MAX_SAFE_INTEGER, MAX_SAFE_INTEGER)
    | st.floats(allow_nan=False, allow_infinity=False)
    | safe_texts,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(safe_texts, inner, max_size=4),
    max_leaves=10,
)
VALID = {
    "tenant_id": st.from_regex(r"[a-z0-9][a-z0-9._-]{0,63}", fullmatch=True),
    "event_id": st.from_regex(r"[A-Za-z0-9._:-]{1,128}", fullmatch=True),
    "key_id": st.from_regex(r"[A-Za-z0-9._:-]{1,128}", fullmatch=True),
    "occurred_at": st.builds(
        lambda d, t, frac, off: f"{d.isoformat()}{t.strftime('T%H:%M:%S')}{frac}{off}",
        st.dates(),
        st.times(),
        st.sampled_from(["", ".1", ".123456789"]),
        st.sampled_from(["Z", "z", "+01:00", "-00:00", "+23:59"]),
    ),
    "type": st.text(st.characters(exclude_categories=["Cc", "Cs"]), min_size=1, max_size=128),
    "payload": st.dictionaries(safe_texts, safe_values, max_size=5),
    "signature": st.binary(min_size=64, max_size=64).map(
        lambda raw: base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    ),
}
# Values near each rule's edge, most of them refused.
BROKEN = {
    "tenant_id": st.from_regex(r"[a-z0-9A-Z._\n -]{0,66}", fullmatch=True),
    "event_id": st.from_regex(r"[A-Za-z0-9._:/ -]{0,130}", fullmatch=True),
    "key_id": st.text(max_size=130),
    "occurred_at": st.from_regex(
        r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{0,10})?"
        r"([Zz]|[+-][0-9]{2}:[0-9]{2})?",
        fullmatch=True,
    ),
    "type": st.text(max_size=130) | st.just("x" * 129),
    "payload": st.dictionaries(texts, json_values, max_size=5) | json_values,
    "signature": st.builds(
        lambda raw, tweak: tweak(base64.urlsafe_b64encode(raw).rstrip(b"=").decode()),
        st.binary(min_size=63, max_size=65),
        st.sampled_from(
            [
                lambda s: s + "==",
                lambda s: s[:-1] + "B",  # non-zero pad bits
                lambda s: s.replace("-", "+").replace("_", "/"),
                lambda s: s[:-1],
                lambda s: s + "\n",
            ]
        ),
    ),
}


@st.composite
def event_objects(draw: st.DrawFn) -> dict[str, Any]:
    """A signed event object, valid, or with up to three fields broken, dropped or added."""
    obj = {name: draw(strategy) for name, strategy in VALID.items()}
    for _ in range(draw(st.integers(0, 3))):
        name = draw(st.sampled_from([*VALID, "priority"]))
        action = draw(st.sampled_from(["broken", "drop", "corner", "value"]))
        if action == "drop":
            obj.pop(name, None)
        elif action == "broken" and name in BROKEN:
            obj[name] = draw(BROKEN[name])
        elif action == "corner":
            obj[name] = draw(st.sampled_from(CORNER_STRINGS))
        else:
            obj[name] = draw(json_values)
    return obj


def one_in(n: int, draw: st.DrawFn) -> bool:
    """True about once in `n + 1` draws (st.integers would favour its bounds)."""
    return draw(st.sampled_from([True] + [False] * n))


CORNERS = ("odd_space", "overlong", "raw_numbers", "duplicates", "raw_surrogates")


@st.composite
def json_bytes(draw: st.DrawFn, value: Any) -> bytes:
    """`value` spelled as JSON bytes. hypothesis picks the spelling: whitespace, escapes, and
    (chosen once per document, so that most documents stay well-formed) the corners: invalid
    whitespace, overlong UTF-8, odd number literals, duplicate members, lone surrogates as raw
    (CESU-style) bytes rather than escapes."""
    corners = draw(st.sets(st.sampled_from(CORNERS), max_size=2))
    out: list[bytes] = []
    ascii_only = draw(st.booleans())
    spaces = [b" ", b"\t", b"\r\n", b"\n"]
    if "odd_space" in corners:
        spaces += [b"\x0c", b"\xc2\xa0", b"\x0b", b"\x00"]

    def space() -> None:
        if one_in(5, draw):
            out.append(draw(st.sampled_from(spaces)))

    def string(text: str) -> None:
        raw = "raw_surrogates" in corners and not ascii_only
        dumped = json.dumps(text, ensure_ascii=ascii_only and not raw)
        encoded = dumped.encode("utf-8", "surrogatepass" if raw else "backslashreplace")
        if "overlong" in corners and len(encoded) > 2 and draw(st.booleans()):
            # One ASCII character spelled as an overlong two-byte sequence.
            position = draw(st.integers(1, len(encoded) - 2))
            c = encoded[position]
            if c < 0x80:
                overlong = bytes([0xC0 | c >> 6, 0x80 | c & 0x3F])
                encoded = encoded[:position] + overlong + encoded[position + 1 :]
        out.append(encoded)

    def write(node: Any) -> None:
        space()
        if isinstance(node, dict):
            out.append(b"{")
            members = list(node.items())
            if members and "duplicates" in corners:
                twin = draw(st.sampled_from(members))
                value = draw(st.sampled_from([twin[1], None]) | json_values)
                members.insert(draw(st.integers(0, len(members))), (twin[0], value))
            for index, (key, item) in enumerate(members):
                if index:
                    out.append(b",")
                space()
                string(str(key))
                space()
                out.append(b":")
                write(item)
            space()
            out.append(b"}")
        elif isinstance(node, list):
            out.append(b"[")
            for index, item in enumerate(node):
                if index:
                    out.append(b",")
                write(item)
            out.append(b"]")
        elif isinstance(node, str):
            string(node)
        elif (
            isinstance(node, int | float)
            and not isinstance(node, bool)
            and ("raw_numbers" in corners and draw(st.booleans()))
        ):
            out.append(draw(st.sampled_from(RAW_NUMBERS)))
        else:
            out.append(json.dumps(node).encode())
        space()

    write(value)
    return b"".join(out)


def nested(depth: int, inner: bytes = b"1") -> bytes:
    """`inner` inside `depth` arrays."""
    return b"[" * depth + inner + b"]" * depth


# Nesting far from the interpreter's recursion limit (1000): near it, where a parse fails depends
# on how deep the caller's stack already is, in the oracle as in the product.
deep_payloads = st.sampled_from([50, 400, 3000]).map(
    lambda depth: b'{"deep":' + nested(depth) + b"}"
)


@st.composite
def batch_bodies(draw: st.DrawFn) -> bytes:
    """A request body: a batch of events, or something shaped almost like one."""
    events = draw(st.lists(event_objects(), min_size=1, max_size=4))
    if events and one_in(4, draw):
        twin = dict(draw(st.sampled_from(events)))
        ids = {k: twin[k] for k in ("tenant_id", "event_id") if k in twin}
        events.append({**draw(event_objects()), **ids})
    document: Any = {"events": events}
    shape = draw(st.sampled_from(["batch"] * 17 + ["value", "extra", "events"]))
    if shape == "value":
        document = draw(json_values)
    elif shape == "extra":
        document["extra"] = draw(json_values)
    elif shape == "events":
        document = {"events": draw(json_values)}
    body = draw(json_bytes(document))
    if one_in(15, draw):
        deep = draw(deep_payloads)
        body = body.replace(b'"payload":{', b'"payload":' + deep[:-1] + b",", 1)
    if one_in(15, draw):
        body = draw(st.sampled_from([b"\xef\xbb\xbf", b"", b"\x00"])) + body
    return body


_MANIFEST_KEY = private_key_from_seed(bytes(range(32)))


@st.composite
def manifest_documents(draw: st.DrawFn) -> bytes:
    """Signed manifest bytes, canonical or re-spelled or with one field changed."""
    first = draw(st.integers(1, 2**40))
    records = draw(st.integers(1, 1000))
    fields = ManifestFields(
        region=draw(st.sampled_from(["us", "eu"])),
        node="n1",
        segment=draw(st.text(min_size=1, max_size=20)),
        first_seq=first,
        last_seq=first + records - 1,
        records=records,
        raw_bytes=draw(st.integers(0, 2**40)),
        raw_sha256="a" * 64,
        compressed_bytes=draw(st.integers(0, 2**40)),
        sha256="b" * 64,
        codec="zstd",
        sealed_at_ms=draw(st.integers(0, MAX_SAFE_INTEGER)),
        shipped_at_ms=draw(st.integers(0, MAX_SAFE_INTEGER)),
        prev_manifest_sha256=draw(st.sampled_from(["", "c" * 64])),
    )
    manifest = sign_manifest(_MANIFEST_KEY, fields)
    if draw(st.booleans()):
        return manifest_bytes(manifest)
    obj = manifest.model_dump()
    if draw(st.booleans()):
        obj[draw(st.sampled_from(sorted(obj)))] = draw(json_values)
    if draw(st.booleans()):
        return canonical_bytes_or_json(obj)
    return draw(json_bytes(obj))


def canonical_bytes_or_json(obj: Any) -> bytes:
    try:
        return canonical_bytes(obj)
    except Exception:
        return json.dumps(obj).encode("utf-8", "surrogatepass")


@st.composite
def record_bytes(draw: st.DrawFn) -> bytes:
    """WAL record bytes: canonical ones, re-spelled ones, ones with a field out of range, and
    canonical ones with one byte changed."""
    obj = draw(event_objects())
    record: dict[str, Any] = {
        "v": 1,
        "hlc": str(draw(st.integers(0, 2**64 - 1))),
        "region": draw(st.sampled_from(["us", "eu", "a-1", "Us", ""])),
        "node": draw(st.sampled_from(["n1", "node-2", "n_1"])),
        "accepted_at_ms": draw(st.integers(0, MAX_SAFE_INTEGER)),
        "event": obj,
    }
    variant = draw(st.integers(0, 4))
    if variant == 1:
        name = draw(st.sampled_from(sorted(record)))
        record[name] = draw(
            st.sampled_from([1.0, True, 2, "01", "1", -1, MAX_SAFE_INTEGER + 1, 2**64, None])
            | json_values
        )
    if variant == 2:
        return draw(json_bytes(record))
    data = canonical_bytes_or_json(record)
    if variant == 3 and data:
        position = draw(st.integers(0, len(data) - 1))
        data = data[:position] + draw(st.binary(max_size=2)) + data[position + 1 :]
    return data


@st.composite
def segment_bytes(draw: st.DrawFn) -> bytes:
    """A segment: frames of records, some of them torn, corrupted or followed by junk."""
    records = draw(st.lists(record_bytes(), min_size=0, max_size=3))
    data = encode_frames([r for r in records if r])
    if data and draw(st.booleans()):
        position = draw(st.integers(0, len(data) - 1))
        data = data[:position] + draw(st.binary(max_size=9)) + data[position + 1 :]
    return data + draw(st.sampled_from([b"", b"\x00" * 9, b"\x00\x00\x00\x01"]))
