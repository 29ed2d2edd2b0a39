"""The read-only cross-shard ops API (`geoledger ops serve`): shards, key distribution, key
locations and re-sharding runs of every region, for operators holding the ops token."""
