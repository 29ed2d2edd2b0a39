-- Tenant signing keys. Every region holds every key, so each region verifies event signatures
-- (invariant I1) from its own control database. Only the public key is stored: 32 raw Ed25519
-- bytes (RFC 8032 section 5.1.5). A key id is bound to exactly one tenant for its whole life;
-- revoking a key sets revoked_at and never deletes the row, so a revoked id cannot be reused.
CREATE TABLE tenant_keys (
    key_id     text COLLATE "C" PRIMARY KEY,
    tenant_id  text COLLATE "C" NOT NULL,
    public_key bytea NOT NULL CHECK (octet_length(public_key) = 32),
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz NULL
);

CREATE INDEX tenant_keys_by_tenant ON tenant_keys (tenant_id, key_id);
