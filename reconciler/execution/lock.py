"""One apply per environment at a time: a lock file with its owner and an expiry.

The lock is `.jinbi/locks/<env>.lock`, created with O_CREAT | O_EXCL so that
exactly one process creates it. It contains the owner (host, pid, process
start time, user), a random token, the creation time and the expiry. A second
caller gets a LockError that names the owner and the expiry. A lock is taken
over, with a warning, when it has expired or when its owner ran on this host
and that process no longer exists (an apply killed by SIGKILL, for example).
`force_unlock` removes any lock, for the on-call engineer who has checked
that the owner is gone. An owner that still runs notices at its next
`ensure_held` and stops sending.

Every change to a lock file happens under an flock on `<env>.lock.guard`, so
two processes on one host never take over the same expired lock.
NOTE: the lock only covers applies that share the folder, so CI runners on
different machines also need a concurrency group per environment.
"""

from __future__ import annotations

import fcntl
import getpass
import json
import logging
import os
import secrets
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType

import psutil

from reconciler.errors import LockError

log = logging.getLogger(__name__)

DEFAULT_LOCK_DIR = Path(".jinbi") / "locks"
DEFAULT_TTL = timedelta(minutes=30)


@dataclass(frozen=True)
class LockOwner:
    """The contents of a lock file: who holds it and until when."""

    environment: str
    host: str
    pid: int
    process_started: float  # psutil create_time of the owner process, to tell a reused pid apart
    user: str
    token: str  # random, to distinguish this lock from a later one of the same process
    created: str  # ISO 8601 UTC
    expires: str  # ISO 8601 UTC

    def describe(self) -> str:
        return f"{self.user}@{self.host} pid {self.pid} since {self.created}, expiring {self.expires}"

    def expired(self, now: datetime) -> bool:
        return _parse_time(self.expires) <= now

    def process_gone(self) -> bool:
        """Tell whether the owner ran on this host and its process no longer exists."""
        if self.host != socket.gethostname():
            return False
        try:
            return abs(psutil.Process(self.pid).create_time() - self.process_started) > 1.0
        except psutil.NoSuchProcess:
            return True
        except psutil.AccessDenied:
            return False


class EnvironmentLock:
    """A held lock; use it as a context manager or call `release`."""

    def __init__(self, path: Path, owner: LockOwner, ttl: timedelta) -> None:
        self.path = path
        self.owner = owner
        self.ttl = ttl

    @property
    def environment(self) -> str:
        return self.owner.environment

    def ensure_held(self) -> None:
        """Raise LockError unless the lock file is still this lock (not removed or taken over)."""
        current = _read(self.path)
        if current is None or current.token != self.owner.token:
            holder = f"taken over by {current.describe()}" if current else "removed"
            raise LockError(
                f"lost the lock of environment {self.environment}: it was {holder}",
                hint="another apply may be running; run `jinbi plan` again once it has finished",
            )

    def refresh(self) -> None:
        """Move the expiry to TTL from now, so that a long apply keeps its lock."""
        with _guard(self.path):
            self.ensure_held()
            now = datetime.now(UTC)
            owner = LockOwner(**{**asdict(self.owner), "expires": _format_time(now + self.ttl)})
            _write_replace(self.path, owner)
            self.owner = owner

    def release(self) -> None:
        """Remove the lock file if it is still this lock; a lock taken over by another apply stays."""
        with _guard(self.path):
            current = _read(self.path)
            if current is not None and current.token == self.owner.token:
                self.path.unlink()

    def __enter__(self) -> EnvironmentLock:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.release()


def lock_path(environment: str, directory: Path = DEFAULT_LOCK_DIR) -> Path:
    return directory / f"{environment}.lock"


def acquire_lock(
    environment: str, *, directory: Path = DEFAULT_LOCK_DIR, ttl: timedelta = DEFAULT_TTL
) -> EnvironmentLock:
    """Take the lock of ENVIRONMENT, or raise LockError naming its live owner and expiry."""
    path = lock_path(environment, directory)
    directory.mkdir(parents=True, exist_ok=True)
    with _guard(path):
        current = _read(path)
        now = datetime.now(UTC)
        if current is not None:
            if current.expired(now):
                log.warning(
                    "taking over the expired lock of environment %s held by %s", environment, current.describe()
                )
            elif current.process_gone():
                log.warning(
                    "taking over the lock of environment %s held by %s: that process no longer exists",
                    environment,
                    current.describe(),
                )
            else:
                raise LockError(
                    f"environment {environment} is locked by another apply: {current.describe()}",
                    hint=(
                        f"wait for that apply to finish, or run `jinbi unlock --env {environment}` "
                        "if it is no longer running"
                    ),
                )
            path.unlink()
        owner = _new_owner(environment, now, ttl)
        _write_exclusive(path, owner)
    log.debug("took the lock of environment %s (%s)", environment, path)
    return EnvironmentLock(path, owner, ttl)


def read_lock(environment: str, *, directory: Path = DEFAULT_LOCK_DIR) -> LockOwner | None:
    """Return the owner of ENVIRONMENT's lock, or None when it is not locked."""
    return _read(lock_path(environment, directory))


def force_unlock(environment: str, *, directory: Path = DEFAULT_LOCK_DIR) -> LockOwner | None:
    """Remove ENVIRONMENT's lock, even one held by a running apply; return its owner, or None when there was no lock."""
    path = lock_path(environment, directory)
    if not directory.is_dir():
        return None
    with _guard(path):
        current = _read(path)
        path.unlink(missing_ok=True)
    if current is not None:
        log.warning("removed the lock of environment %s held by %s", environment, current.describe())
    return current


# --- files -------------------------------------------------------------------


@contextmanager
def _guard(path: Path) -> Iterator[None]:
    """Hold an exclusive flock on PATH's guard file, which serializes every change to the lock file."""
    descriptor = os.open(path.with_name(path.name + ".guard"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)  # closing releases the flock


def _new_owner(environment: str, now: datetime, ttl: timedelta) -> LockOwner:
    return LockOwner(
        environment=environment,
        host=socket.gethostname(),
        pid=os.getpid(),
        process_started=psutil.Process().create_time(),
        user=_user_name(),
        token=secrets.token_hex(8),
        created=_format_time(now),
        expires=_format_time(now + ttl),
    )


def _user_name() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        # A container user without a passwd entry.
        return f"uid {os.getuid()}"


def _read(path: Path) -> LockOwner | None:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    try:
        return LockOwner(**json.loads(text))
    except (json.JSONDecodeError, TypeError) as error:
        raise LockError(
            f"lock file {path} is malformed: {type(error).__name__}",
            hint=f"remove it with `jinbi unlock --env {path.stem}` once no apply is running",
        ) from error


def _payload(owner: LockOwner) -> bytes:
    return (json.dumps(asdict(owner), indent=2) + "\n").encode("utf-8")


def _write_exclusive(path: Path, owner: LockOwner) -> None:
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        # Only a process that ignores the guard file gets here.
        raise LockError(f"environment {owner.environment} was locked by another process just now") from None
    try:
        os.write(descriptor, _payload(owner))
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _write_replace(path: Path, owner: LockOwner) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_bytes(_payload(owner))
    os.replace(temporary, path)


def _format_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_time(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
