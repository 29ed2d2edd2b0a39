-- The databases of deploy/compose/geoledger.toml: each region's control database and dedup
-- shards (the audit log's tables live in the control database). Run once, by the postgres image,
-- on an empty data volume; `geoledger db migrate` (the compose service db-migrate) then creates
-- their schemas. Temporal's own databases are created by temporalio/auto-setup.
CREATE DATABASE geoledger_us_control;
CREATE DATABASE geoledger_us_shard0;
CREATE DATABASE geoledger_us_shard1;
CREATE DATABASE geoledger_us_shard2;
CREATE DATABASE geoledger_us_shard3;
CREATE DATABASE geoledger_eu_control;
CREATE DATABASE geoledger_eu_shard0;
CREATE DATABASE geoledger_eu_shard1;
