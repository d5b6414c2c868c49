"""Named locks on the database: one instance of the service, one poller at a time.

A lock is a row of the `lock` table (name, owner, host, pid, purpose, heartbeat, expiry),
taken and kept with plain INSERT / conditional UPDATE statements, so it works the same on
SQLite and PostgreSQL and across machines that share a database (an OS file lock would only
cover a SQLite file on one machine). The holder refreshes it on a heartbeat; it is free again
when released, when it expires (`ttl` seconds after the last heartbeat: a holder that crashed
on another machine), or at once when its holder is a dead process on this host.

Locks used: `service` (held by `monitor serve` for its lifetime) and `poll` (held while a
process writes to sources: a poll cycle, `run --once`, database maintenance). A dead holder
leaves its row, and its poll cycle `running`: `why_gone` tells such a holder apart for
`monitor status`, and the next holder of the poll lock marks those cycles `abandoned`
(`abandon_running_cycles`).

A process is told apart by host name and pid, so processes that share a host name must share
a pid namespace: true of machines and of containers with their own host name (Docker's
default); two containers given one fixed host name would not be told apart.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError, OperationalError

from monitor.errors import StorageError
from monitor.records import LockHolder
from monitor.storage.tables import CycleRow, LockRow

log = logging.getLogger(__name__)
SERVICE, POLL = "service", "poll"
RUNNING, ABANDONED = "running", "abandoned"  # `cycle.status`: in progress; left so by a dead holder
Clock = Callable[[], datetime]


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class LockOwner:
    """This process, as lock rows name it: a token unique to the process, its host and pid."""

    token: str
    host: str
    pid: int

    @classmethod
    def this_process(cls) -> LockOwner:
        return cls(uuid.uuid4().hex, socket.gethostname(), os.getpid())


class LockHeldError(StorageError):
    """Another process holds the lock; `holder` says who."""

    def __init__(self, holder: LockHolder, now: datetime) -> None:
        self.holder = holder
        beat = max(0.0, (now - holder.heartbeat_at).total_seconds())
        super().__init__(
            f"{holder.purpose} (pid {holder.pid} on {holder.host}) holds the {holder.name} lock since "
            f"{holder.acquired_at:%Y-%m-%d %H:%M:%S} UTC, last heartbeat {beat:.0f}s ago"
        )


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    except OSError:
        return False
    return True


class DbLock:
    """One named lock, for one owner. Not re-entrant: acquire once, release once."""

    def __init__(
        self,
        engine: Engine,
        name: str,
        owner: LockOwner,
        *,
        ttl: float,
        clock: Clock = _utcnow,
        alive: Callable[[int], bool] = pid_alive,
    ) -> None:
        self.engine = engine
        self.name = name
        self.owner = owner
        self.ttl = timedelta(seconds=ttl)
        self.clock = clock
        self.alive = alive
        self.purpose = ""

    def acquire(self, purpose: str) -> None:
        """Take the lock or raise LockHeldError naming its holder."""
        self.purpose = purpose
        for _attempt in range(3):  # the holder may release or expire between our statements
            now = self.clock()
            if self._take_expired(now) or self._insert(now):
                return
            holder = self.holder()
            if holder is None:
                continue
            if self._stale(holder) and self._take_from(holder, now):
                log.warning(
                    "event=lock_taken_over lock=%s from_pid=%d host=%s reason=%s",
                    self.name,
                    holder.pid,
                    holder.host,
                    "holder process is gone",
                )
                return
            raise LockHeldError(holder, now)
        raise StorageError(f"cannot take the {self.name} lock: it keeps changing hands")

    def refresh(self) -> bool:
        """Extend the lock; False when it is no longer ours (expired and taken by another)."""
        now = self.clock()
        with self.engine.begin() as conn:
            result = conn.execute(
                update(LockRow)
                .where(LockRow.name == self.name, LockRow.owner == self.owner.token)
                .values(heartbeat_at=now, expires_at=now + self.ttl)
            )
            return bool(result.rowcount)

    def release(self) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(LockRow).where(LockRow.name == self.name, LockRow.owner == self.owner.token))

    def holder(self) -> LockHolder | None:
        return lock_holder(self.engine, self.name)

    def _values(self, now: datetime) -> dict[str, object]:
        return {
            "owner": self.owner.token,
            "host": self.owner.host,
            "pid": self.owner.pid,
            "purpose": self.purpose,
            "acquired_at": now,
            "heartbeat_at": now,
            "expires_at": now + self.ttl,
        }

    def _take_expired(self, now: datetime) -> bool:
        with self.engine.begin() as conn:
            result = conn.execute(
                update(LockRow).where(LockRow.name == self.name, LockRow.expires_at < now).values(**self._values(now))
            )
            return bool(result.rowcount)

    def _insert(self, now: datetime) -> bool:
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(LockRow).values(name=self.name, **self._values(now)))
        except IntegrityError:
            return False
        return True

    def _stale(self, holder: LockHolder) -> bool:
        """A holder on this host whose process is gone, or that had our pid (a previous life of
        this container: same hostname, same pid 1) without being us."""
        if holder.owner == self.owner.token or holder.host != self.owner.host:
            return False
        return holder.pid == self.owner.pid or not self.alive(holder.pid)

    def _take_from(self, holder: LockHolder, now: datetime) -> bool:
        with self.engine.begin() as conn:
            result = conn.execute(
                update(LockRow)
                .where(LockRow.name == self.name, LockRow.owner == holder.owner)
                .values(**self._values(now))
            )
            return bool(result.rowcount)


def why_gone(
    holder: LockHolder, now: datetime, *, host: str | None = None, alive: Callable[[int], bool] = pid_alive
) -> str | None:
    """Why `holder` is known to hold its lock no more, as words that follow its pid ("pid 12,
    which is no longer running"); None while it may still be running. Gone: a process on this
    host (`host`, default this machine's name) that does not exist, or a lock past its expiry (a
    holder elsewhere that stopped refreshing it). The lock row stays until the next taker."""
    if holder.host == (host or socket.gethostname()) and not alive(holder.pid):
        return "which is no longer running"
    if holder.expires_at < now:
        beat = max(0.0, (now - holder.heartbeat_at).total_seconds())
        return f"whose lock expired (no heartbeat for {beat:.0f}s)"
    return None


def abandon_running_cycles(engine: Engine, *, at: datetime) -> list[int]:
    """Mark `abandoned` the poll cycles still `running`, and return their ids. Call it holding
    the poll lock, before a cycle of one's own: every cycle runs under that lock, so a `running`
    one then was left by a holder that died (kill -9, power loss) without finishing it.
    `finished_at` becomes `at`, when it was found. A holder that had only stalled past its lock's
    expiry still writes its own status when it finishes."""
    with engine.begin() as conn:
        rows = conn.execute(
            select(CycleRow.id, CycleRow.trigger, CycleRow.started_at).where(CycleRow.status == RUNNING)
        ).all()
        if rows:
            conn.execute(
                update(CycleRow)
                .where(CycleRow.id.in_([r.id for r in rows]), CycleRow.status == RUNNING)
                .values(status=ABANDONED, finished_at=at)
            )
    for row in rows:
        log.warning(
            "event=cycle_abandoned cycle=%d trigger=%s started_at=%s reason=%r",
            row.id,
            row.trigger,
            row.started_at.isoformat(timespec="seconds"),
            "left running by a process that is gone",
        )
    return [int(r.id) for r in rows]


def lock_holder(engine: Engine, name: str) -> LockHolder | None:
    with engine.connect() as conn:
        row = conn.execute(select(LockRow).where(LockRow.name == name)).one_or_none()
    if row is None:
        return None
    return LockHolder(
        name=row.name,
        owner=row.owner,
        host=row.host,
        pid=row.pid,
        purpose=row.purpose,
        acquired_at=row.acquired_at,
        heartbeat_at=row.heartbeat_at,
        expires_at=row.expires_at,
    )


class Heartbeat:
    """Refreshes held locks from a thread every `every` seconds, so that a busy event loop
    cannot let them expire. Calls `on_lost(name)` (from the thread) when a lock was lost."""

    def __init__(self, every: float, on_lost: Callable[[str], None] | None = None) -> None:
        self.every = every
        self.on_lost = on_lost
        self._locks: dict[str, DbLock] = {}
        self._guard = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lock-heartbeat", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=max(5.0, self.every))

    def add(self, lock: DbLock) -> None:
        with self._guard:
            self._locks[lock.name] = lock

    def discard(self, lock: DbLock) -> None:
        with self._guard:
            self._locks.pop(lock.name, None)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            with self._guard:
                locks = list(self._locks.values())
            for lock in locks:
                self._beat(lock)

    def _beat(self, lock: DbLock) -> None:
        try:
            held = lock.refresh()
        except OperationalError as e:  # busy (a long write, here or elsewhere) or unreachable
            log.warning("event=heartbeat_delayed lock=%s error=%r", lock.name, str(e.orig))
            return
        except Exception:
            log.exception("event=heartbeat_failed lock=%s", lock.name)
            return
        if not held:
            log.error("event=lock_lost lock=%s", lock.name)
            self.discard(lock)
            if self.on_lost:
                self.on_lost(lock.name)


@contextmanager
def holding_lock(engine: Engine, name: str, ttl: float, purpose: str) -> Iterator[DbLock]:
    """Hold a database lock for the block, refreshed by a heartbeat; LockHeldError if taken."""
    lock = DbLock(engine, name, LockOwner.this_process(), ttl=ttl)
    lock.acquire(purpose)
    try:
        with Heartbeat(ttl / 4) as heartbeat:
            heartbeat.add(lock)
            yield lock
    finally:
        lock.release()
