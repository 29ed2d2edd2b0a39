"""Errors of the ingest API. A `BatchRejected` refuses a whole request before anything is written;
per-event problems are results (`rejected` with a reason), not exceptions."""

from __future__ import annotations


class IngestError(Exception):
    """Base of every error the ingest API raises."""


class BatchRejected(IngestError):
    """The request as a whole is unusable: nothing of it was written."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class NodeUnavailable(IngestError):
    """The node cannot accept writes (its WAL failed, or it is shutting down)."""


class NodeDraining(NodeUnavailable):
    """The node is leaving (`geoledger ingest retire`): it takes no more writes, and the client
    sends the batch to another node of the region."""


class ShardBacklogFull(NodeUnavailable):
    """A dedup shard the batch would write to has not answered for long enough that its apply
    lane is full (api/ingest/applier.py): the batch is refused before it reaches the WAL."""


class StreamRetired(IngestError):
    """The node's stream was retired at a seq its WAL no longer reaches (its volume went): it
    would number new records with seqs already shipped, so the node does not start."""


class EventUnreadable(IngestError):
    """A stored event's body could not be read back verified from the tier it is in (damaged,
    or its store is unreachable); nothing is returned. `status`/`code` as docs/api.md says."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class EventRestoring(IngestError):
    """The event's body is in a pack of an archive class being restored (RestoreWorkflow): the
    read is answered 202 with Retry-After `retry_after_s`, as docs/api.md says."""

    def __init__(self, retry_after_s: int, message: str) -> None:
        super().__init__(message)
        self.retry_after_s, self.message = retry_after_s, message


class ReadUnauthorized(IngestError):
    """A read without a valid credential of a registered, unrevoked key (api/ingest/read_auth):
    answered 401 with `detail` naming what was wrong, as docs/api.md says."""

    def __init__(self, detail: str, message: str) -> None:
        super().__init__(message)
        self.detail, self.message = detail, message


class Throttled(IngestError):
    """The request is refused whole (429) before anything of it is verified or written: its
    tenant's bucket cannot cover it (`reason` "tenant_rate") or the node has its in-flight budget
    of requests already (`reason` "node_in_flight"). `retry_after_s` is the Retry-After."""

    def __init__(self, reason: str, code: str, retry_after_s: int, message: str) -> None:
        super().__init__(message)
        self.reason, self.code = reason, code
        self.retry_after_s, self.message = retry_after_s, message
