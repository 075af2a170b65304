"""A throwaway PostgreSQL cluster on 127.0.0.1 from Debian's ``postgresql`` (run as the ``postgres``
user when we are root, as PostgreSQL refuses root), which a test may stop and start again."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from .host import unavailable
from .serving import free_port

POSTGRES_VERSIONS = Path("/usr/lib/postgresql")


def _postgres_bin() -> Path | None:
    """The newest installed PostgreSQL's ``bin`` folder."""
    found = sorted(POSTGRES_VERSIONS.glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    return None if initdb is None else Path(initdb).resolve().parent


class Postgres:
    """``with Postgres() as url``: a new cluster with an empty ``brushwork`` database at ``url``."""

    def __init__(self):
        self.binaries = _postgres_bin()
        if self.binaries is None:
            unavailable("PostgreSQL is not installed (Debian: apt-get install postgresql)")
        self.folder = Path(tempfile.mkdtemp(prefix="brushwork-postgres-"))
        self.as_user = []
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres")
            self.as_user = ["runuser", "-u", "postgres", "--"]
        self.port, self.data = free_port(), self.folder / "data"
        self.url = f"postgresql+psycopg://brushwork@127.0.0.1:{self.port}/brushwork"

    def _run(self, tool: str, *args: str) -> None:
        subprocess.run([*self.as_user, str(self.binaries / tool), *args], check=True, capture_output=True,
                       timeout=120)

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.folder / "log"), "-w", "start", "-o",
                  f"-h 127.0.0.1 -p {self.port} -k {self.folder}")

    def stop(self) -> None:
        """Stop at once, as a crash or a restart would: open connections are cut."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def __enter__(self) -> str:
        self._run("initdb", "-D", str(self.data), "-U", "brushwork", "--auth=trust", "-E", "UTF8")
        self.start()
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "brushwork", "brushwork")
        return self.url

    def __exit__(self, *_exc) -> None:
        try:
            self.stop()
        except subprocess.CalledProcessError:
            pass  # a test left it stopped
        shutil.rmtree(self.folder, ignore_errors=True)
