"""A throwaway PostgreSQL cluster for tests and benchmarks: ``initdb`` into a temporary folder.

The server listens on a Unix socket in that folder and on a free loopback port (password
authentication there, trust on the socket), and is stopped and deleted by :meth:`stop`.
PostgreSQL refuses to run as root, so as root the server runs as the ``postgres`` user
(Debian's ``postgresql`` package creates it).

Examples
--------
>>> cluster = PostgresCluster().start()                    # doctest: +SKIP
>>> cluster.url(project="stance")                          # doctest: +SKIP
'postgresql://llmlabel@/postgres?host=/tmp/pg-…&port=…&project=stance'
>>> cluster.stop()                                         # doctest: +SKIP
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

USER = "llmlabel"


def _bin(name: str) -> str:
    """The path of a PostgreSQL server program (Debian keeps them out of PATH)."""
    debian = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), reverse=True)
    found = shutil.which(name) or (str(debian[0]) if debian else None)
    if found is None:
        raise RuntimeError(
            f"PostgreSQL's {name} is not installed: `apt-get install -y postgresql` "
            "(Debian/Ubuntu) provides it"
        )
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PostgresCluster:
    """A PostgreSQL server of its own, in a temporary folder, for as long as a test run."""

    def __init__(self, password: str | None = None) -> None:
        self.password = password or secrets.token_hex(12)  # the loopback port's
        self.folder = Path(tempfile.mkdtemp(prefix="llmlabel-pg-"))
        self.data = self.folder / "data"
        self.port = _free_port()
        self._as: list[str] = []
        if os.geteuid() == 0:  # initdb and postgres refuse to run as root
            shutil.chown(self.folder, "postgres")
            self._as = ["runuser", "-u", "postgres", "--"]

    def _run(self, *args: str) -> None:
        done = subprocess.run(  # noqa: S603 (PostgreSQL's own programs)
            [*self._as, *args], capture_output=True, text=True, check=False
        )
        if done.returncode:
            raise RuntimeError(f"{Path(args[0]).name} failed: {done.stderr.strip()[-2000:]}")

    def start(self) -> PostgresCluster:
        """Create the cluster (first time) and start the server; return self."""
        if not self.data.exists():
            pwfile = self.folder / "pw"
            pwfile.write_text(self.password + "\n")
            if self._as:
                shutil.chown(pwfile, "postgres")
            self._run(
                _bin("initdb"), "-D", str(self.data), "-U", USER, "--pwfile", str(pwfile),
                "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8",
                "--locale=C.UTF-8",
            )  # fmt: skip
            pwfile.unlink()
        options = (
            f"-k {self.folder} -p {self.port} -h 127.0.0.1 -c fsync=on "
            "-c max_connections=200 -c shared_buffers=128MB"
        )
        self._run(
            _bin("pg_ctl"), "-D", str(self.data), "-l", str(self.folder / "log"), "-w",
            "-t", "60", "-o", options, "start",
        )  # fmt: skip
        return self

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``mode`` as ``pg_ctl stop -m``), keeping the data."""
        if (self.data / "postmaster.pid").exists():
            self._run(_bin("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def restart(self) -> None:
        """Stop the server at once (``immediate``: as a crash would) and start it again."""
        self.stop("immediate")
        self.start()

    def destroy(self) -> None:
        """Stop the server and delete its folder."""
        try:
            self.stop("immediate")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)

    def url(self, project: str = "default", *, tcp: bool = False, password: str = "") -> str:
        """A ``postgresql://`` URL of this cluster's ``postgres`` database for ``project``.

        By default over the Unix socket (no password); ``tcp=True`` goes through the
        loopback port, where the password (``password``, else the environment) is checked.
        """
        where = (
            f"127.0.0.1:{self.port}/postgres?"
            if tcp
            else f"/postgres?host={self.folder}&port={self.port}&"
        )
        secret = f":{password}" if password else ""
        return f"postgresql://{USER}{secret}@{where}project={project}"
