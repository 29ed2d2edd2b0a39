"""Create-or-update of a Temporal Schedule, the one way geoledger's schedules are written: running
a `schedule` command again changes the definition in place and never makes a second schedule."""

from __future__ import annotations

from temporalio.client import Client, Schedule, ScheduleAlreadyRunningError, ScheduleUpdate


async def ensure_schedule(client: Client, schedule_id: str, definition: Schedule) -> bool:
    """Create schedule `schedule_id`, or replace the existing one's definition; True when
    created. Raises the client's RPCError as it comes."""
    try:
        await client.create_schedule(schedule_id, definition)
        return True
    except ScheduleAlreadyRunningError:
        await client.get_schedule_handle(schedule_id).update(
            lambda _: ScheduleUpdate(schedule=definition)
        )
        return False
