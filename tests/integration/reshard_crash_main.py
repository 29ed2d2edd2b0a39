"""A process that runs one re-sharding chunk, for the crash tests (tests/integration/
test_reshard_movers.py): started with GEOLEDGER_CRASH_AT naming a crash point of the mover, it
dies there by SIGKILL. Argument: JSON with the shard DSNs, the mover (copy: shard 0 -> 2 from
the first key; cleanup: shard 0 from the first key) and the chunk size."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import asyncpg

from storage.dedup.reshard import cleanup_chunk, copy_chunk
from tests.integration.reshard_support import FROM_RING, TO_RING


async def main(arguments: dict[str, Any]) -> None:
    pools = [await asyncpg.create_pool(dsn, min_size=1, max_size=2) for dsn in arguments["shards"]]
    limit = int(arguments["limit"])
    if arguments["mover"] == "copy":
        await copy_chunk(
            pools[0],
            pools[2],
            from_ring=FROM_RING,
            to_ring=TO_RING,
            source_shard=0,
            target_shard=2,
            after_key=None,
            limit=limit,
        )
    else:
        await cleanup_chunk(
            pools[0],
            from_ring=FROM_RING,
            to_ring=TO_RING,
            shard=0,
            after_key=None,
            limit=limit,
            target_pools=dict(enumerate(pools)),
        )


if __name__ == "__main__":
    asyncio.run(main(json.loads(sys.argv[1])))
