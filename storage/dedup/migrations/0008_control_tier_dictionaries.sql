-- Tenants' zstd dictionaries in this region (storage/tiering/dictionary_records.py). The bytes
-- live in the region's object store under tiering/dicts/<tenant>/<dict_id>.zdict; a row says a
-- dictionary was trained here, from what sample, how well it compressed a held-out part of that
-- sample against plain zstd, and its version: the tenant's highest version is its CURRENT
-- dictionary, the one demotion compresses with. Rows are never deleted: a body names its
-- dictionary in its codec header, so every dictionary stays readable.
CREATE TABLE tier_dictionaries (
    tenant_id     text COLLATE "C" NOT NULL,
    dict_id       text COLLATE "C" NOT NULL CHECK (dict_id ~ '^[0-9a-f]{32}$'),
    version       integer NOT NULL CHECK (version >= 1),
    dict_bytes    integer NOT NULL CHECK (dict_bytes > 0),
    sample_bodies integer NOT NULL CHECK (sample_bodies > 0),
    sample_bytes  bigint NOT NULL CHECK (sample_bytes > 0),
    heldout_bodies integer NOT NULL CHECK (heldout_bodies > 0),
    ratio_zstd    double precision NOT NULL,
    ratio_dict    double precision NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, dict_id),
    UNIQUE (tenant_id, version)
);

-- Which dictionaries the blobs of each cold pack need, and how many blobs need each: written
-- when demotion has made the pack durable and before any row points at it (a pack's rows hold
-- no codec header; its blobs do). A pack no row points at any more needs nothing.
CREATE TABLE tier_pack_dictionaries (
    tenant_id text COLLATE "C" NOT NULL,
    pack_id   text COLLATE "C" NOT NULL CHECK (pack_id ~ '^[0-9a-f]{32}$'),
    dict_id   text COLLATE "C" NOT NULL CHECK (dict_id ~ '^[0-9a-f]{32}$'),
    bodies    integer NOT NULL CHECK (bodies > 0),
    PRIMARY KEY (tenant_id, pack_id, dict_id)
);
