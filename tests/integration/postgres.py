"""A real PostgreSQL server on loopback for tests, started in a temp directory.

`.ci/run` installs Debian's `postgresql`; the server runs as the `postgres` user when the
tests run as root (PostgreSQL refuses to run as root).
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def server_binaries() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def postgres_server() -> Iterator[tuple[str, Path]]:
    """``(url without database, bin dir)`` of a fresh server, stopped and removed after."""
    bindir = server_binaries()
    assert bindir is not None
    base = Path(tempfile.mkdtemp(prefix="sweeps-pg-"))
    as_root = os.geteuid() == 0
    prefix = ["runuser", "-u", "postgres", "--"] if as_root else []
    if as_root:
        os.chmod(base, 0o755)
        shutil.chown(base, "postgres", "postgres")
    data, port = base / "data", _free_port()

    def run(*cmd: object) -> None:
        subprocess.run([*prefix, *map(str, cmd)], check=True, capture_output=True, timeout=120)

    run(bindir / "initdb", "-D", data, "-A", "trust", "-U", "sweeps", "--no-sync")
    run(bindir / "pg_ctl", "-D", data, "-l", base / "server.log", "-w", "-o",
        f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200",
        "start")
    try:
        yield f"postgresql://sweeps@127.0.0.1:{port}", bindir
    finally:
        run(bindir / "pg_ctl", "-D", data, "-m", "immediate", "stop")
        shutil.rmtree(base, ignore_errors=True)


def create_database(url: str, bindir: Path, name: str) -> str:
    host_port = url.rsplit("@", 1)[1]
    host, port = host_port.split(":")
    subprocess.run([str(bindir / "createdb"), "-h", host, "-p", port, "-U", "sweeps", name],
                   check=True, capture_output=True, timeout=60)
    return f"{url}/{name}"
