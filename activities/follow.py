"""A run's `Follow` input as the storage layer's FollowLimits."""

from __future__ import annotations

from activities.crr_models import Follow
from storage.crr.follow import FollowLimits


def follow_limits(follow: Follow) -> FollowLimits:
    """The same limits, named as the storage layer's run loops take them."""
    return FollowLimits(
        first_wait_s=follow.poll.wait_s,
        idle_s=follow.idle_s,
        max_s=follow.max_s,
        max_segments=follow.max_items,
        batch=follow.batch,
        interval_s=follow.poll.interval_s,
    )
