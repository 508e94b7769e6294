"""Real servers for the backend tests: PostgreSQL (Debian's ``postgresql``) and moto's S3 server.

Both listen on 127.0.0.1 on a free port, keep their data in a temporary folder and end with the
test process: each runs as a child that gets a signal when its parent dies (``PR_SET_PDEATHSIG``),
so nothing outlives a crashed or killed pytest. Outside CI a missing server program makes the
tests that need it skip with a hint; in CI (``CI=true``) they fail instead.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path

IN_CI = os.environ.get("CI") == "true"
STARTUP_TIMEOUT_S = 60.0
# Dummy credentials for moto; botocore needs some, moto accepts any.
S3_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}
PR_SET_PDEATHSIG = 1


class ServerUnavailable(RuntimeError):
    """A server program is not installed; the message says what to install."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_until_ready(process: subprocess.Popen, ready: Callable[[], object], name: str, log: Path) -> None:
    """Poll ``ready()`` until it stops raising (the server serves), or fail with the server's log."""
    for _ in range(int(STARTUP_TIMEOUT_S / 0.05)):
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}:\n{log.read_text(errors='replace')}")
        try:
            ready()
            return
        except Exception:  # not yet: refused, or "the database system is starting up"
            _wait(process, 0.05)
    raise RuntimeError(f"{name} did not start:\n{log.read_text(errors='replace')}")


def _wait(process: subprocess.Popen, seconds: float) -> None:
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(seconds)


def _child_setup(user: pwd.struct_passwd | None, death_signal: int):
    """preexec_fn: drop to ``user`` (if given), then ask for ``death_signal`` when the parent dies."""

    def setup() -> None:
        if user is not None:
            os.setgid(user.pw_gid)
            os.setuid(user.pw_uid)
        # Set after changing user: the kernel clears the setting on a change of credentials.
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, death_signal)

    return setup


def _stop(process: subprocess.Popen | None, stop_signal: int) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(stop_signal)
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# ---- PostgreSQL ---------------------------------------------------------------------------------------


def postgres_bin_dir() -> Path:
    """The folder with Debian's initdb and postgres (newest version); ServerUnavailable if none."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"), key=lambda path: int(path.split("/")[4]))
    on_path = shutil.which("postgres")
    if found:
        return Path(found[-1]).parent
    if on_path:
        return Path(on_path).parent
    raise ServerUnavailable("PostgreSQL is not installed; `apt-get install postgresql` (Debian)")


class PostgresServer:
    """A throw-away PostgreSQL cluster: trust authentication on 127.0.0.1 only, fsync off."""

    user = "postgres"

    def __init__(self) -> None:
        self.bin_dir = postgres_bin_dir()
        # PostgreSQL refuses to run as root: as root, it runs as the postgres system user.
        self._os_user = pwd.getpwnam("postgres") if os.geteuid() == 0 else None
        self.folder = Path(tempfile.mkdtemp(prefix="speechrec-pg-"))
        self.data_dir = self.folder / "data"
        self.log = self.folder / "server.log"
        self.port = free_port()
        self._process: subprocess.Popen | None = None
        try:
            if self._os_user is not None:
                os.chown(self.folder, self._os_user.pw_uid, self._os_user.pw_gid)
            subprocess.run(
                [self.bin_dir / "initdb", "-D", self.data_dir, "-U", self.user, "-A", "trust", "-EUTF8", "--no-sync"],
                check=True,
                capture_output=True,
                preexec_fn=_child_setup(self._os_user, signal.SIGKILL),
            )
            self.start()
        except BaseException:
            self.close()  # a cluster that did not start leaves no folder behind
            raise

    @property
    def url(self) -> str:
        """The SQLAlchemy URL of the maintenance database ``postgres``."""
        return self.database_url("postgres")

    def database_url(self, database: str) -> str:
        return f"postgresql+psycopg://{self.user}@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        """Start the server (again, after ``stop``) on the same port and data."""
        with open(self.log, "ab") as log:
            self._process = subprocess.Popen(
                [
                    self.bin_dir / "postgres",
                    "-D", self.data_dir,
                    "-h", "127.0.0.1",
                    "-p", str(self.port),
                    "-k", self.folder,  # the Unix socket stays in our folder
                    "-F",  # no fsync: a test cluster need not survive a power cut
                    "-c", "max_connections=200",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                # SIGINT is PostgreSQL's "fast shutdown": clients are disconnected, data is kept.
                preexec_fn=_child_setup(self._os_user, signal.SIGINT),
            )  # fmt: skip
        _wait_until_ready(self._process, lambda: self._admin("SELECT 1"), "PostgreSQL", self.log)

    def stop(self) -> None:
        """Fast shutdown: connected clients are cut off, as in a database restart."""
        _stop(self._process, signal.SIGINT)

    def restart(self) -> None:
        self.stop()
        self.start()

    def create_database(self) -> str:
        """A new empty database; return its SQLAlchemy URL."""
        name = f"test_{uuid.uuid4().hex[:16]}"
        self._admin(f'CREATE DATABASE "{name}"')
        return self.database_url(name)

    def drop_database(self, url: str) -> None:
        name = url.rsplit("/", 1)[1]
        self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def _admin(self, statement: str) -> None:
        import psycopg

        with psycopg.connect(
            host="127.0.0.1", port=self.port, user=self.user, dbname="postgres", autocommit=True
        ) as db:
            db.execute(statement)

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


# ---- S3 (moto) ----------------------------------------------------------------------------------------


def moto_server_program() -> str:
    program = shutil.which("moto_server") or str(Path(sys.executable).parent / "moto_server")
    if not Path(program).exists():
        raise ServerUnavailable('moto\'s S3 server is not installed; pip install "moto[server]"')
    return program


class MotoServer:
    """moto's S3-compatible server. It keeps its buckets in memory: a restart starts empty.

    With ``unchecked_requests=N`` it checks credentials from the N+1st request on (moto's
    INITIAL_NO_AUTH_ACTION_COUNT), and knows none: so wrong credentials can be tested.
    """

    def __init__(self, unchecked_requests: int | None = None) -> None:
        self.unchecked_requests = unchecked_requests
        self.program = moto_server_program()
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="speechrec-moto-"))
        self.log = self.folder / "server.log"
        self._process: subprocess.Popen | None = None
        try:
            self.start()
        except BaseException:
            self.close()
            raise

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        with open(self.log, "ab") as log:
            environment = dict(os.environ)
            if self.unchecked_requests is not None:
                environment["INITIAL_NO_AUTH_ACTION_COUNT"] = str(self.unchecked_requests)
            self._process = subprocess.Popen(
                [self.program, "-H", "127.0.0.1", "-p", str(self.port)],
                env=environment,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=_child_setup(None, signal.SIGKILL),
            )
        _wait_until_ready(
            self._process,
            lambda: socket.create_connection(("127.0.0.1", self.port), 0.5).close(),
            "moto_server",
            self.log,
        )

    def stop(self) -> None:
        _stop(self._process, signal.SIGTERM)

    @functools.cached_property
    def client(self):
        """A boto3 S3 client of this server (made once: making one takes a while)."""
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name="us-east-1",  # other regions need a LocationConstraint
            aws_access_key_id=S3_ENVIRONMENT["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=S3_ENVIRONMENT["AWS_SECRET_ACCESS_KEY"],
        )

    def create_bucket(self, name: str | None = None) -> str:
        """A new empty bucket (a random name unless given); return its name."""
        name = name or f"speechrec-{uuid.uuid4().hex[:16]}"
        self.client.create_bucket(Bucket=name)
        return name

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)
