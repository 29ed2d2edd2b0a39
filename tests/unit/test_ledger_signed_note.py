"""C2SP signed notes: the published vectors of golang.org/x/mod/sumdb/note and of the C2SP
signed-note spec, a corruption table, and round trips."""

from __future__ import annotations

import base64

import pytest

from ledger.errors import MalformedNoteError, NoteError, UnverifiedNoteError
from ledger.keys import generate_private_key, private_key_from_seed
from ledger.signed_note import NoteSigner, NoteVerifier, open_note, sign_note, vkey

# golang.org/x/mod/sumdb/note/note_test.go (TestNewSigner, TestSign, TestOpen, TestVerifierList).
PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
PETER_SIG = (
    "\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdn"
    "gotpRZb6KE6RyyBwJnAM=\n"
)
ENOCH_SIG = (
    "\u2014 EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWL"
    "ox33WWd1RvMc+QQ=\n"
)
# C2SP signed-note.md, §Verifier keys, Example.
SPEC_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
SPEC_NOTE = (
    "This is an example message.\n\n\u2014 example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi"
    "2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n"
)


def peter_signer() -> NoteSigner:
    seed = base64.b64decode(PETER_SKEY.split("+", 4)[4])[1:]
    return NoteSigner("PeterNeumann", private_key_from_seed(seed))


PETER = NoteVerifier.from_vkey(PETER_VKEY)
ENOCH = NoteVerifier.from_vkey(ENOCH_VKEY)


def test_sign_reproduces_the_x_mod_vector() -> None:
    assert sign_note(TEXT, [peter_signer()]) == TEXT + "\n" + PETER_SIG
    assert peter_signer().vkey() == PETER_VKEY
    assert PETER.key_id.hex() == "c74f20a3"


def test_open_verifies_known_and_keeps_unknown_signatures() -> None:
    opened = open_note(TEXT + "\n" + PETER_SIG + ENOCH_SIG, [PETER])
    assert (opened.text, opened.verified, opened.unverified) == (
        TEXT,
        ["PeterNeumann"],
        [ENOCH_SIG],
    )
    both = open_note(TEXT + "\n" + PETER_SIG + ENOCH_SIG, [PETER, ENOCH])
    assert both.verified == ["PeterNeumann", "EnochRoot"]
    assert both.unverified == []


def test_the_c2sp_spec_example_verifies() -> None:
    assert open_note(SPEC_NOTE, [NoteVerifier.from_vkey(SPEC_VKEY)]).verified == ["example.com/foo"]


def test_duplicate_signature_lines_count_once() -> None:
    # x/mod TestOpen "Duplicated verified and unverified signatures".
    opened = open_note(TEXT + "\n" + PETER_SIG + PETER_SIG + ENOCH_SIG + ENOCH_SIG, [PETER])
    assert (opened.verified, opened.unverified) == (["PeterNeumann"], [ENOCH_SIG])


def _flip(text: str, index: int) -> str:
    return text[:index] + ("A" if text[index] != "A" else "B") + text[index + 1 :]


NOTE = TEXT + "\n" + PETER_SIG
SIG_START = NOTE.index("x08go")
CORRUPT: dict[str, tuple[str, type[NoteError]]] = {
    "flipped bit in text": (
        TEXT.replace("answer", "answes") + "\n" + PETER_SIG,
        UnverifiedNoteError,
    ),
    "flipped signature byte": (_flip(NOTE, SIG_START + 20), UnverifiedNoteError),
    # A different key id is an unknown key: ignored, so nothing trusted signed.
    "flipped key id": (_flip(NOTE, SIG_START + 1), UnverifiedNoteError),
    "wrong key name": (NOTE.replace("PeterNeumann", "PeterNeuman"), UnverifiedNoteError),
    "unknown key only": (TEXT + "\n" + ENOCH_SIG, UnverifiedNoteError),
    "no signature": (TEXT + "\n", MalformedNoteError),
    "no blank line": (TEXT + PETER_SIG, MalformedNoteError),
    "missing final newline": (NOTE[:-1], MalformedNoteError),
    "text only": (TEXT, MalformedNoteError),
    "control character": ("\x01" + NOTE, MalformedNoteError),
    "name with a space": (NOTE.replace("PeterNeumann", "Bad Name"), MalformedNoteError),
    "unexpected line": (NOTE + "Unexpected line.\n", MalformedNoteError),
    "invalid base64": (NOTE.replace("x08go", "x08g!"), MalformedNoteError),
    "too many signatures": (TEXT + "\n" + PETER_SIG * 101, MalformedNoteError),
    "inserted signature bytes": (
        TEXT + "\n" + PETER_SIG[:60] + "ABCD" + PETER_SIG[60:],
        UnverifiedNoteError,
    ),
}


@pytest.mark.parametrize("case", sorted(CORRUPT))
def test_corrupted_notes_are_refused(case: str) -> None:
    note, error = CORRUPT[case]
    with pytest.raises(error):
        open_note(note, [PETER])


@pytest.mark.parametrize(
    "bad",
    [
        PETER_VKEY[:-1],
        PETER_VKEY.replace("c74f20a3", "c74f20a4"),
        PETER_VKEY.replace("PeterNeumann", "PeterNeuman"),
        # x/mod: wrong length key, and unknown algorithm, each with its key hash adjusted.
        "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",
        "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "Peter+Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
    ],
)
def test_mangled_verifier_keys_are_refused(bad: str) -> None:
    with pytest.raises(MalformedNoteError):
        NoteVerifier.from_vkey(bad)


def test_two_verifiers_for_one_key_are_refused() -> None:
    with pytest.raises(MalformedNoteError):
        open_note(TEXT + "\n" + ENOCH_SIG, [ENOCH, PETER, ENOCH])


def test_round_trip_with_two_signers_and_empty_lines_in_the_text() -> None:
    text = "first\n\nthird after an empty line\n"
    a = NoteSigner("example.com/a", generate_private_key())
    b = NoteSigner("example.com/b", generate_private_key())
    note = sign_note(text, [a, b])
    verifiers = [NoteVerifier.from_vkey(vkey(s.name, s.private_key.public_key())) for s in (a, b)]
    opened = open_note(note, verifiers)
    assert (opened.text, opened.verified) == (text, ["example.com/a", "example.com/b"])


@pytest.mark.parametrize("text", ["no final newline", "tab\there\n"])
def test_sign_refuses_text_that_is_no_note_text(text: str) -> None:
    with pytest.raises(MalformedNoteError):
        sign_note(text, [peter_signer()])
