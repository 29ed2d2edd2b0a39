"""Custom search attributes of geoledger's workflows: the embedded Temporal server is started with
them (storage/embedded/temporal.py) and the CRR control sets them on the workflows it starts
(workers/crr_control.py), so the web UI can filter by region and stream.

In ledger/ because storage/ registers them and may import nothing above ledger/
(tests/unit/test_import_direction.py). Every attribute is a Keyword. Workflows started with them
carry them in their histories: the names never change.
"""

from __future__ import annotations

GEO_REGION = "GeoRegion"
GEO_STREAM = "GeoStream"
GEO_TENANT = "GeoTenant"
GEO_PHASE = "GeoPhase"

# What the server is started with, in this order.
KEYWORD_ATTRIBUTES = (GEO_REGION, GEO_STREAM, GEO_TENANT, GEO_PHASE)
