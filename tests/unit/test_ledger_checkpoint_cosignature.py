"""C2SP tlog-checkpoint, tlog-cosignature (Ed25519, type 0x04) and the tlog-witness
add-checkpoint body: the spec examples, the signed message format, corruption, round trips."""

from __future__ import annotations

import base64
import hashlib
import struct

import pytest

from ledger.checkpoint import Checkpoint, open_checkpoint, parse_checkpoint
from ledger.cosignature import (
    CosignatureSigner,
    CosignatureVerifier,
    cosignature_vkey,
    verify_cosignature,
)
from ledger.errors import MalformedNoteError, NoteError, UnverifiedNoteError
from ledger.keys import generate_private_key, public_key_bytes
from ledger.signed_note import NoteSigner, NoteVerifier, open_note, parse_signature_line, sign_note
from ledger.witness_protocol import (
    build_add_checkpoint,
    format_size,
    parse_add_checkpoint,
    parse_size,
)

# C2SP tlog-checkpoint.md and tlog-witness.md examples.
SPEC_BODY = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
SPEC_PROOF = [
    "PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=",
    "jrJZDmY8Y7SyJE0MWLpLozkIVMSMZcD5kvuKxPC3swk=",
    "5+pKlUdi2LeF/BcMHBn+Ku6yhPGNCswZZD1X/6QgPd8=",
    "/6WVhPs2CwSsb5rYBH5cjHV/wSmA79abXAwhXw3Kj/0=",
]
SPEC_LOG_SIG = (
    "\u2014 example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/"
    "Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"
)
WITNESS = CosignatureSigner("witness.example/w1", generate_private_key())
LOG = NoteSigner("example.com/log", generate_private_key())


def test_the_spec_checkpoint_parses_and_round_trips() -> None:
    checkpoint = parse_checkpoint(SPEC_BODY)
    assert (checkpoint.origin, checkpoint.size) == ("example.com/behind-the-sofa", 20852163)
    assert checkpoint.body() == SPEC_BODY


@pytest.mark.parametrize(
    "text",
    [
        SPEC_BODY[:-1],
        "example.com/x\n20852163\n",
        "example.com/x\n020852163\n" + SPEC_BODY.split("\n")[2] + "\n",
        "example.com/x\n-1\n" + SPEC_BODY.split("\n")[2] + "\n",
        "example.com/x\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I\n",
        "example.com/x\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jx\n",
        "\n1\n" + SPEC_BODY.split("\n")[2] + "\n",
        SPEC_BODY + "\n",
    ],
)
def test_malformed_checkpoints_are_refused(text: str) -> None:
    with pytest.raises(MalformedNoteError):
        parse_checkpoint(text)


def test_extension_lines_round_trip() -> None:
    checkpoint = Checkpoint("example.com/log", 3, bytes(32), ("ext one", "ext two"))
    assert parse_checkpoint(checkpoint.body()) == checkpoint


def test_cosignature_signs_the_spec_message_under_a_type_4_key_id() -> None:
    line = WITNESS.cosign(SPEC_BODY, 1679315147)
    _, key_id, signature = parse_signature_line(line)
    public = public_key_bytes(WITNESS.key.public_key())
    # tlog-cosignature: key id = SHA-256(name || "\n" || 0x04 || key)[:4]; signature = u64
    # timestamp || Ed25519 over "cosignature/v1\ntime <t>\n" + body.
    assert key_id == hashlib.sha256(b"witness.example/w1\n\x04" + public).digest()[:4]
    assert struct.unpack(">Q", signature[:8]) == (1679315147,)
    message = b"cosignature/v1\ntime 1679315147\n" + SPEC_BODY.encode()
    WITNESS.key.public_key().verify(signature[8:], message)
    assert verify_cosignature(line, SPEC_BODY, WITNESS.vkey()) == 1679315147


def test_a_cosignature_vkey_is_not_a_note_vkey() -> None:
    with pytest.raises(MalformedNoteError):
        NoteVerifier.from_vkey(WITNESS.vkey())
    assert WITNESS.vkey() == cosignature_vkey(WITNESS.name, WITNESS.key.public_key())


def _flip_b64(line: str, offset: int) -> str:
    prefix, encoded = line.rstrip("\n").rsplit(" ", 1)
    raw = bytearray(base64.b64decode(encoded))
    raw[offset] ^= 1
    return f"{prefix} {base64.b64encode(bytes(raw)).decode()}\n"


LINE = WITNESS.cosign(SPEC_BODY, 1700000000)
COSIGNATURE_CORRUPTION: dict[str, tuple[str, str, type[NoteError]]] = {
    "flipped key id": (_flip_b64(LINE, 0), SPEC_BODY, UnverifiedNoteError),
    "flipped timestamp": (_flip_b64(LINE, 11), SPEC_BODY, UnverifiedNoteError),
    "flipped signature": (_flip_b64(LINE, 40), SPEC_BODY, UnverifiedNoteError),
    "other checkpoint": (LINE, SPEC_BODY.replace("20852163", "20852164"), UnverifiedNoteError),
    "other name": (LINE.replace("w1", "w2"), SPEC_BODY, UnverifiedNoteError),
    "not a line": ("cosignature", SPEC_BODY, MalformedNoteError),
}


@pytest.mark.parametrize("case", sorted(COSIGNATURE_CORRUPTION))
def test_corrupted_cosignatures_are_refused(case: str) -> None:
    line, body, error = COSIGNATURE_CORRUPTION[case]
    with pytest.raises(error):
        verify_cosignature(line, body, WITNESS.vkey())


def test_zero_timestamp_is_never_signed() -> None:
    with pytest.raises(MalformedNoteError):
        WITNESS.cosign(SPEC_BODY, 0)


def test_open_note_checks_log_signature_and_cosignature_together() -> None:
    body = Checkpoint("example.com/log", 5, hashlib.sha256(b"r").digest()).body()
    note = sign_note(body, [LOG]) + WITNESS.cosign(body, 1700000000)
    checkpoint, opened = open_checkpoint(
        note, [NoteVerifier.from_vkey(LOG.vkey()), CosignatureVerifier.from_vkey(WITNESS.vkey())]
    )
    assert checkpoint.size == 5
    assert opened.verified == ["example.com/log", "witness.example/w1"]
    with pytest.raises(UnverifiedNoteError):  # a cosignature alone is not the log's signature
        open_note(
            note.replace(note.split("\n")[4] + "\n", ""), [NoteVerifier.from_vkey(LOG.vkey())]
        )


def test_the_spec_add_checkpoint_body_round_trips() -> None:
    note = SPEC_BODY + "\n" + SPEC_LOG_SIG
    body = ("old 20852014\n" + "".join(p + "\n" for p in SPEC_PROOF) + "\n" + note).encode()
    request = parse_add_checkpoint(body)
    assert request.old_size == 20852014
    assert [base64.b64encode(p).decode() for p in request.proof] == SPEC_PROOF
    assert request.note == note
    assert build_add_checkpoint(request.old_size, request.proof, request.note) == body
    assert parse_add_checkpoint(build_add_checkpoint(0, [], note)).proof == ()


@pytest.mark.parametrize(
    "body",
    [
        b"old 01\n\nnote\n",
        b"old -1\n\nnote\n",
        b"old 1\n",
        b"old 1\n\n",
        b"new 1\n\nnote\n",
        b"old 1\nnot base64!\n\nnote\n",
        b"old 1\nAAAA\n\nnote\n",
        b"old 1\n" + b"".join([base64.b64encode(bytes(32)) + b"\n"] * 64) + b"\nnote\n",
        b"old 1\n\n\xff\n",
    ],
)
def test_malformed_add_checkpoint_bodies_are_refused(body: bytes) -> None:
    with pytest.raises(MalformedNoteError):
        parse_add_checkpoint(body)


def test_size_bodies() -> None:
    assert parse_size(format_size(42)) == 42
    for bad in ("42", "042\n", "x\n", "1\n2\n"):
        with pytest.raises(MalformedNoteError):
            parse_size(bad)
