"""Why the witness refuses a request, with the HTTP status C2SP tlog-witness gives each."""

from __future__ import annotations


class WitnessRefusal(Exception):
    """Base of every refusal; `status` is the HTTP status it answers with."""

    status = 400


class MalformedRequest(WitnessRefusal):
    """The body is not an add-checkpoint request, or its old size exceeds the checkpoint's."""

    status = 400


class UntrustedCheckpoint(WitnessRefusal):
    """No signature of the origin's trusted log key verifies, or one of them fails."""

    status = 403


class UnknownLog(WitnessRefusal):
    """The checkpoint's origin is not a log this witness cosigns."""

    status = 404


class InconsistentRequest(WitnessRefusal):
    """A request that can never be right whatever the witness holds: a non-empty proof from
    size 0, or a checkpoint of size 0 whose root is not the empty tree's."""

    status = 422


class CheckpointConflict(WitnessRefusal):
    """The witness cosigned another checkpoint this one does not extend from the stated old
    size: it answers its latest size so the log can retry from there, or raise the alarm."""

    status = 409

    def __init__(self, message: str, latest_size: int) -> None:
        super().__init__(message)
        self.latest_size = latest_size
