"""The service scaled out: two servers sharing a real PostgreSQL (started here on 127.0.0.1 from Debian's
``postgresql``), and a Ray Serve deployment with two replicas on a local Ray."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from brushwork.service.settings import Settings
from brushwork.service.store import Store

from .host import unavailable
from .serving import Server, free_port, wait_for_job
from .test_serve import files

POSTGRES_VERSIONS = Path("/usr/lib/postgresql")


def _postgres_bin() -> Path | None:
    """The newest installed PostgreSQL's ``bin`` folder."""
    found = sorted(POSTGRES_VERSIONS.glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    return None if initdb is None else Path(initdb).resolve().parent


@pytest.fixture(scope="module")
def postgres():
    """A throwaway PostgreSQL cluster on 127.0.0.1 (run as the ``postgres`` user when we are root, as
    PostgreSQL refuses root); yields its SQLAlchemy URL."""
    binaries = _postgres_bin()
    if binaries is None:
        unavailable("PostgreSQL is not installed (Debian: apt-get install postgresql)")
    folder = Path(tempfile.mkdtemp(prefix="brushwork-postgres-"))
    as_user = []
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    port, data = free_port(), folder / "data"

    def run(*command: str) -> None:
        subprocess.run([*as_user, *command], check=True, capture_output=True, timeout=120)

    run(str(binaries / "initdb"), "-D", str(data), "-U", "brushwork", "--auth=trust", "-E", "UTF8")
    run(str(binaries / "pg_ctl"), "-D", str(data), "-l", str(folder / "log"), "-w", "start", "-o",
        f"-h 127.0.0.1 -p {port} -k {folder}")
    try:
        run(str(binaries / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "brushwork", "brushwork")
        yield f"postgresql+psycopg://brushwork@127.0.0.1:{port}/brushwork"
    finally:
        run(str(binaries / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop")
        shutil.rmtree(folder, ignore_errors=True)


def test_two_servers_share_keys_jobs_and_usage_in_postgresql(postgres, tmp_path):
    key = Store(postgres).add_key("studio")
    with Server(tmp_path / "a", "--database-url", postgres) as a, \
            Server(tmp_path / "b", "--database-url", postgres, "--job-workers", "0") as b, \
            a.client(key) as on_a, b.client(key) as on_b:
        assert on_b.post("/v1/stylize", files=files(), data={"size": "64"}).status_code == 200
        gatys = {"method": "gatys", "steps": "20", "size": "64"}
        job_id = on_b.post("/v1/jobs", files=files(), data=gatys).json()["id"]
        job = wait_for_job(on_b, job_id)  # b runs no jobs: a took it from the shared queue
        assert job["state"] == "done", job
        assert on_a.get(f"/v1/jobs/{job_id}/result").content == on_b.get(f"/v1/jobs/{job_id}/result").content
        usage = {row["method"]: row["calls"] for row in on_a.get("/v1/usage").json()["usage"]}
        assert usage == {"adain": 1, "gatys": 1}
    assert not list(tmp_path.glob("*/brushwork.sqlite3")), "a server with a database URL made an SQLite file"


def test_ray_serve_with_two_replicas(tmp_path):
    key = Store(Settings(data=tmp_path).url()).add_key("shop")
    with Server(tmp_path, "--ray", "--replicas", "2") as server, server.client(key) as client:
        replicas = subprocess.run(["pgrep", "-f", "ServeReplica:brushwork"], capture_output=True, text=True)
        assert len(replicas.stdout.split()) == 2, replicas.stdout
        painted = client.post("/v1/stylize", files=files(), data={"size": "64", "method": "fast"})
        assert painted.status_code == 200 and painted.headers["x-brushwork-method"] == "fast"
        gatys = {"method": "gatys", "steps": "10", "size": "64"}
        job_id = client.post("/v1/jobs", files=files(), data=gatys).json()["id"]
        assert wait_for_job(client, job_id)["state"] == "done"
        assert client.get(f"/v1/jobs/{job_id}/result").status_code == 200
        client.get("/v1/models")
        bad = client.post("/v1/stylize", files=files(b"junk"))
        assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_image"
