"""The service scaled out: two servers sharing a real PostgreSQL (started here on 127.0.0.1 from Debian's
``postgresql``), and a Ray Serve deployment with two replicas on a local Ray."""

from __future__ import annotations

import subprocess
import time

import pytest

from brushwork.service.settings import Settings
from brushwork.service.store import Store

from .postgres import Postgres
from .serving import Server, wait_for_job
from .test_serve import files


@pytest.fixture(scope="module")
def postgres():
    with Postgres() as url:
        yield url


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
    store = Store(Settings(data=tmp_path).url())
    key, rated = store.add_key("shop"), store.add_key("rated")
    per_minute = 40
    with Server(tmp_path, "--ray", "--replicas", "2", "--rate", str(per_minute)) as server, \
            server.client(key) as client, server.client(rated) as burst:
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
        start = time.monotonic()
        answers = [burst.get("/v1/models").status_code for _ in range(2 * per_minute)]
        elapsed = time.monotonic() - start
        assert set(answers) == {200, 429}
        assert per_minute <= answers.count(200) <= per_minute + elapsed * per_minute / 60 + 1, (answers, elapsed)
