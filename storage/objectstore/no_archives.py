"""`restore` and `restore_status` of the backends that keep no archived objects: GCS (ARCHIVE
objects read directly) and the local FS. Both refuse clearly rather than pretend a restore."""

from __future__ import annotations

from storage.objectstore.base import RestoreStatus
from storage.objectstore.errors import RestoreNotSupported


class WithoutArchives:
    """Mixed into a backend whose every object reads directly; `describe` is the backend's."""

    def describe(self) -> str:
        """The store's URL: the backend's own `describe` comes first in its MRO."""
        raise NotImplementedError

    async def restore(self, key: str, days: int) -> None:
        """Raises RestoreNotSupported: nothing here is archived."""
        raise RestoreNotSupported(self.describe(), key, "restore")

    async def restore_status(self, key: str) -> RestoreStatus:
        """Raises RestoreNotSupported: nothing here is archived."""
        raise RestoreNotSupported(self.describe(), key, "restore_status")
