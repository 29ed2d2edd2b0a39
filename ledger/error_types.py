"""Error type names that cross the activity/workflow boundary: the `type` of the
`ApplicationError`s activities (and workflows) raise, and the `non_retryable_error_types` of the
workflows' retry policies, which match on that string.

Most name an exception class of storage/ (an activity raises `ApplicationError(type=
type(exc).__name__)` for it). They live in ledger/ because workflows may not import storage/
and storage/ may not import activities/, while every layer may import ledger/
(tests/unit/test_import_direction.py). Recorded workflow histories hold these strings: they
never change. tests/unit/test_cross_boundary_names.py checks each against the class it names.
"""

from __future__ import annotations

# storage.crr.errors
SHIP_CONFLICT = "ShipConflictError"
SEGMENT_NOT_FOUND = "SegmentNotFoundError"
VERIFICATION = "VerificationError"

# ledger.errors (the geo-divergence check's input, refused before any I/O)
GEO_INPUT = "GeoInputError"

# storage.geo.errors
GEO_REPORT = "GeoReportError"

# storage.tiering.errors
TIERING_INPUT = "TieringInputError"
BODY_INTEGRITY = "BodyIntegrityError"
BODY_DECODE = "BodyDecodeError"  # every reason a blob does not decode, by their base class

# No exception class: raised only as ApplicationError types, for an operator to read.
WRONG_STREAM = "WrongStream"  # an activity of one stream's queue asked about another stream
SMOKE_MISMATCH = "SmokeMismatch"  # an object read back differs from the one written
AUDIT_CONFIG = "AuditConfigError"  # the audit cannot run as configured (no audit_store, ...)
RESTORE_IMPOSSIBLE = "RestoreImpossible"  # an archived pack is gone, or its store has no archives

# storage.audit.errors
AUDIT_FORK = "AuditForkDetected"  # a witness holds a checkpoint our log is not consistent with
