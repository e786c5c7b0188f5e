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
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

_RESTARTS: dict[str, Callable[[float], None]] = {}


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

    def start() -> None:
        run(bindir / "pg_ctl", "-D", data, "-l", base / "server.log", "-w", "-o",
            f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c max_connections=200", "start")

    def restart(down_s: float) -> None:
        run(bindir / "pg_ctl", "-D", data, "-m", "fast", "-w", "stop")
        time.sleep(down_s)
        start()

    run(bindir / "initdb", "-D", data, "-A", "trust", "-U", "sweeps", "--no-sync")
    start()
    url = f"postgresql://sweeps@127.0.0.1:{port}"
    _RESTARTS[url] = restart
    try:
        yield url, bindir
    finally:
        _RESTARTS.pop(url, None)
        run(bindir / "pg_ctl", "-D", data, "-m", "immediate", "stop")
        shutil.rmtree(base, ignore_errors=True)


def restart_server(url: str, *, down_s: float) -> None:
    """Stop the server at ``url`` (``-m fast``: every connection is closed), wait ``down_s``,
    start it again: what an upgrade or a failover does to the workers."""
    _RESTARTS[url](down_s)


def create_database(url: str, bindir: Path, name: str) -> str:
    host_port = url.rsplit("@", 1)[1]
    host, port = host_port.split(":")
    subprocess.run([str(bindir / "createdb"), "-h", host, "-p", port, "-U", "sweeps", name],
                   check=True, capture_output=True, timeout=60)
    return f"{url}/{name}"
