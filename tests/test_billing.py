"""Billing a customer can trust, on real servers over SQLite and a real PostgreSQL: idempotency keys,
calls billed once and only on success, monthly quotas, a rate shared by servers, migrations, the
invoice export, and a database restarted under load."""

from __future__ import annotations

import json
import re
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from brushwork.service import idempotency as idempotency_rules
from brushwork.service import migrate
from brushwork.service.errors import ApiError
from brushwork.service.schema import calls, idempotency, jobs, keys, usage
from brushwork.service.store import Store

from .postgres import Postgres
from .serving import LONG_STEPS, LONG_TIMEOUT, Server, brushwork, wait_for_job
from .test_serve import UNLIMITED_RATE, files

FIXTURES = Path(__file__).parent / "fixtures"
SMALL = {"size": "64"}
IDEMPOTENCY_HOURS = 0.002
"""7.2 s: long enough to repeat a small painting, short enough to watch a key expire."""


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def database(request, tmp_path_factory):
    """An SQLAlchemy URL of an empty database that servers share."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('billing') / 'brushwork.sqlite3'}"
    else:
        with Postgres() as url:
            yield url


@pytest.fixture(scope="module")
def server(database, tmp_path_factory):
    options = ("--database-url", database, "--idempotency-hours", str(IDEMPOTENCY_HOURS), *UNLIMITED_RATE)
    with Server(tmp_path_factory.mktemp("billing-server"), *options) as running:
        yield running


def new_key(database: str, name: str, *quota: str) -> str:
    """A key made as an operator makes one, with ``brushwork serve keys add``."""
    made = brushwork("serve", "--database-url", database, "keys", "add", name, *quota)
    assert made.returncode == 0, made.stderr
    return made.stdout.strip()


def ledger(database: str, name: str) -> Counter:
    """How the calls of key ``name`` ended: (state, code) -> count."""
    engine = sa.create_engine(database)
    with engine.connect() as db:
        rows = db.execute(sa.select(calls.c.state, calls.c.code).join(keys, keys.c.id == calls.c.key_id)
                          .where(keys.c.name == name))
        counted = Counter((row.state, row.code) for row in rows)
    engine.dispose()
    return counted


def billed(client: httpx.Client) -> dict[str, int]:
    return {row["method"]: row["calls"] for row in client.get("/v1/usage").json()["usage"]}


def _error(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code, response.text
    return response.json()["error"]


def test_an_idempotent_repeat_gets_the_first_answer_and_is_billed_once(database, server):
    with server.client(new_key(database, "repeat")) as client:
        first = client.post("/v1/stylize", files=files(), data=SMALL, headers={"Idempotency-Key": "order-1"})
        again = client.post("/v1/stylize", files=files(), data=SMALL, headers={"Idempotency-Key": "order-1"})
        assert first.status_code == again.status_code == 200
        assert again.content == first.content and again.headers["idempotent-replayed"] == "true"
        assert again.headers["content-type"] == "image/png" and again.headers["x-brushwork-method"] == "adain"
        assert billed(client) == {"adain": 1}
        other = client.post("/v1/stylize", files=files(), data={"size": "48"}, headers={"Idempotency-Key": "order-1"})
        _error(other, 422, "idempotency_mismatch")
        _error(client.post("/v1/stylize", files=files(), data=SMALL, headers={"Idempotency-Key": "k" * 256}),
               400, "invalid_idempotency_key")
        time.sleep(IDEMPOTENCY_HOURS * 3600 + 1)
        expired = client.post("/v1/stylize", files=files(), data=SMALL, headers={"Idempotency-Key": "order-1"})
        assert expired.status_code == 200 and "idempotent-replayed" not in expired.headers
        assert billed(client) == {"adain": 2}


def test_a_repeat_while_the_first_still_paints_is_told_to_wait(database, server):
    with server.client(new_key(database, "eager")) as client:
        slow = {"size": "768"}
        answers = {}
        first = threading.Thread(target=lambda: answers.update(first=client.post(
            "/v1/stylize", files=files(), data=slow, headers={"Idempotency-Key": "slow"})))
        first.start()
        _wait_for_claim(database, "eager", "slow")
        waiting = client.post("/v1/stylize", files=files(), data=slow, headers={"Idempotency-Key": "slow"})
        first.join()
        _error(waiting, 409, "idempotency_in_progress")
        assert int(waiting.headers["retry-after"]) >= 1
        assert answers["first"].status_code == 200
        later = client.post("/v1/stylize", files=files(), data=slow, headers={"Idempotency-Key": "slow"})
        assert later.content == answers["first"].content
        assert billed(client) == {"adain": 1}


def _wait_for_claim(database: str, name: str, token: str, seconds: float = 60.0) -> None:
    """Until the request with ``token`` under key ``name`` holds its claim."""
    engine = sa.create_engine(database)
    query = (sa.select(idempotency.c.state).join(keys, keys.c.id == idempotency.c.key_id)
             .where(keys.c.name == name, idempotency.c.token == token))
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            with engine.connect() as db:
                if db.execute(query).first() is not None:
                    return
            time.sleep(0.05)
        raise AssertionError(f"no claim of {token!r} in {seconds} s")
    finally:
        engine.dispose()


def test_a_claim_that_paints_longer_than_its_keep_still_stores_its_answer(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'keep.sqlite3'}")
    store.add_key("slow")
    with store.engine.connect() as db:
        key_id = db.execute(sa.select(keys.c.id).where(keys.c.name == "slow")).scalar_one()
    keep = 0.05
    held = store.claim_idempotency(key_id, "long", "same request", keep)
    time.sleep(2 * keep)
    store.expire(result_seconds=3600)
    with pytest.raises(ApiError, match="still running"):
        store.claim_idempotency(key_id, "long", "same request", keep)
    with store.engine.begin() as db:
        assert idempotency_rules.complete(db, held, 200, {"content-type": "image/png"}, b"painted")
    replay = store.claim_idempotency(key_id, "long", "same request", keep)
    assert replay.body == b"painted" and replay.status == 200
    time.sleep(2 * keep)
    store.expire(result_seconds=3600)
    assert isinstance(store.claim_idempotency(key_id, "long", "same request", keep), idempotency_rules.Claim)


def test_an_idempotent_job_is_queued_and_billed_once(database, server):
    with server.client(new_key(database, "jobs")) as client:
        order = {"method": "gatys", "steps": "10", **SMALL}
        first = client.post("/v1/jobs", files=files(), data=order, headers={"Idempotency-Key": "job-1"})
        again = client.post("/v1/jobs", files=files(), data=order, headers={"Idempotency-Key": "job-1"})
        assert first.status_code == again.status_code == 202
        assert again.json()["id"] == first.json()["id"] and again.headers["idempotent-replayed"] == "true"
        assert wait_for_job(client, first.json()["id"])["state"] == "done"
        replay = client.post("/v1/jobs", files=files(), data=order, headers={"Idempotency-Key": "job-1"})
        assert replay.json()["state"] == "done"
        assert billed(client) == {"gatys": 1}
    assert ledger(database, "jobs") == {("billed", None): 1}


def test_only_successes_are_billed_and_every_other_end_is_recorded(database, server):
    with server.client(new_key(database, "outcomes")) as client:
        assert client.post("/v1/stylize", files=files(), data=SMALL).status_code == 200
        _error(client.post("/v1/stylize", files=files(b"not an image"), data=SMALL), 400, "invalid_image")
        _error(client.post("/v1/stylize", files=files(), data={"method": "gatys"}), 400, "use_jobs")
        long = {"method": "gatys", "steps": "2000", **SMALL}
        job_id = client.post("/v1/jobs", files=files(), data=long).json()["id"]
        wait_for_job(client, job_id, ("running",))
        assert client.delete(f"/v1/jobs/{job_id}").json()["state"] in ("cancelling", "cancelled")
        assert wait_for_job(client, job_id)["state"] == "cancelled"
        assert billed(client) == {"adain": 1}
    assert ledger(database, "outcomes") == {("billed", None): 1, ("refused", "invalid_image"): 1,
                                            ("refused", "use_jobs"): 1, ("cancelled", "cancelled"): 1}


def test_a_client_that_hangs_up_while_its_image_is_painted_is_not_billed(database, server):
    key = new_key(database, "hangup")
    with server.client(key, timeout=0.5) as impatient, pytest.raises(httpx.ReadTimeout):
        impatient.post("/v1/stylize", files=files(), data={"size": "1024"})
    deadline = time.monotonic() + 60
    while not ledger(database, "hangup") or ("pending", None) in ledger(database, "hangup"):
        assert time.monotonic() < deadline, "the call was never recorded"
        time.sleep(0.5)
    assert ledger(database, "hangup") == {("cancelled", "client_disconnected"): 1}
    with server.client(key) as client:
        assert billed(client) == {}


def test_a_quota_refuses_before_painting_and_a_repeat_never_counts(database, server):
    key = new_key(database, "quota", "--monthly-calls", "2", "--monthly-megapixels", "0.02")
    with server.client(key) as client:
        first = client.post("/v1/stylize", files=files(), data=SMALL, headers={"Idempotency-Key": "q-1"})
        assert first.status_code == 200
        big = client.post("/v1/stylize", files=files(), data={"size": "256"})
        error = _error(big, 429, "quota_exceeded")
        assert "megapixels" in error["message"] and "retry-after" not in big.headers
        _error(client.post("/v1/jobs", files=files(), data={"method": "gatys", "size": "256"}), 429, "quota_exceeded")
        assert client.post("/v1/stylize", files=files(), data=SMALL).status_code == 200
        over = client.post("/v1/stylize", files=files(), data=SMALL)
        assert "2 calls" in _error(over, 429, "quota_exceeded")["message"] and "retry-after" not in over.headers
        repeat = client.post("/v1/stylize", files=files(), data=SMALL, headers={"Idempotency-Key": "q-1"})
        assert repeat.status_code == 200 and repeat.content == first.content
        month = client.get("/v1/usage").json()["month"]
        assert month["calls"] == {"quota": 2, "used": 2, "pending": 0, "remaining": 0}
        assert month["megapixels"]["quota"] == 0.02 and 0 < month["megapixels"]["remaining"] < 0.02
        raised = brushwork("serve", "--database-url", database, "keys", "set", "quota", "--monthly-calls", "3")
        assert raised.returncode == 0, raised.stderr
        assert client.post("/v1/stylize", files=files(), data=SMALL).status_code == 200
    assert ledger(database, "quota") == {("billed", None): 3, ("refused", "quota_exceeded"): 3}


def test_the_rate_holds_across_two_servers(database, tmp_path):
    per_minute = 30
    key = new_key(database, "rated")
    options = ("--database-url", database, "--rate", str(per_minute))
    with Server(tmp_path / "a", *options) as a, Server(tmp_path / "b", *options) as b, \
            a.client(key) as on_a, b.client(key) as on_b:
        start = time.monotonic()
        answers = [(on_a if n % 2 else on_b).get("/v1/models").status_code for n in range(80)]
        elapsed = time.monotonic() - start
    allowed = answers.count(200)
    assert answers.count(429) == len(answers) - allowed
    assert per_minute <= allowed <= per_minute + elapsed * per_minute / 60 + 1, (allowed, elapsed)


def test_a_job_whose_server_died_is_finished_elsewhere_and_billed_once(database, tmp_path):
    key = new_key(database, "survivor")
    options = ("--database-url", database, "--lease-seconds", "2", *UNLIMITED_RATE)
    with Server(tmp_path / "a", *options) as first, first.client(key) as client:
        long_job = {"method": "gatys", "steps": str(LONG_STEPS), **SMALL}
        job_id = client.post("/v1/jobs", files=files(), data=long_job).json()["id"]
        wait_for_job(client, job_id, ("running",))
        first.kill()
    with Server(tmp_path / "b", *options) as second, second.client(key) as client:
        job = wait_for_job(client, job_id, timeout=LONG_TIMEOUT)
        assert job["state"] == "done" and job["attempts"] == 2, job
        assert billed(client) == {"gatys": 1}
    assert ledger(database, "survivor") == {("billed", None): 1}


def test_usage_exports_per_key_day_and_method(database, server):
    with server.client(new_key(database, "invoice")) as client:
        for method in ("adain", "fast", "fast"):
            assert client.post("/v1/stylize", files=files(), data={"method": method, **SMALL}).status_code == 200
        own = client.get("/v1/usage").json()["usage"]
    exported = brushwork("serve", "--database-url", database, "usage", "--key", "invoice", "--format", "json")
    assert exported.returncode == 0, exported.stderr
    rows = json.loads(exported.stdout)
    assert rows == [{"key": "invoice", **row} for row in own]
    assert [row["calls"] for row in rows] == [1, 2] and all(row["megapixels"] > 0 for row in rows)
    table = brushwork("serve", "--database-url", database, "usage", "--key", "invoice", "--since", rows[0]["day"])
    assert table.stdout.splitlines()[0] == "key,day,method,calls,megapixels,seconds"
    assert table.stdout.splitlines()[1].startswith(f"invoice,{rows[0]['day']},adain,1,")
    future = brushwork("serve", "--database-url", database, "usage", "--since", "2999-01-01", "--format", "json")
    assert json.loads(future.stdout) == []
    _bad = brushwork("serve", "--database-url", database, "usage", "--since", "yesterday")
    assert _bad.returncode == 2 and "YYYY-MM-DD" in _bad.stderr


def _legacy_postgres(url: str) -> None:
    """The fixture's tables and rows as brushwork 0.1.0 made them on PostgreSQL (no alembic_version)."""
    engine = sa.create_engine(url)
    with engine.begin() as db:
        config = migrate._config(db)
        migrate.command.upgrade(config, migrate.BASELINE)
        db.execute(sa.text("DROP TABLE alembic_version"))
        for line in (FIXTURES / "serve-schema-0.1.0.sql").read_text().splitlines():
            if line.startswith("INSERT INTO"):
                db.execute(sa.text(re.sub(r"X'([0-9a-f]*)'", r"'\\x\1'::bytea", line)))
    engine.dispose()


def test_an_old_database_is_refused_until_migrated_and_loses_nothing(database, tmp_path):
    if database.startswith("sqlite"):
        legacy = tmp_path / "legacy.sqlite3"
        engine = sa.create_engine(f"sqlite:///{legacy}")
        with engine.begin() as db:
            db.connection.executescript((FIXTURES / "serve-schema-0.1.0.sql").read_text())
        engine.dispose()
        url = f"sqlite:///{legacy}"
    else:
        with Postgres() as url:
            _legacy_postgres(url)
            _migrate_and_check(url, tmp_path)
        return
    _migrate_and_check(url, tmp_path)


def _migrate_and_check(url: str, tmp_path: Path) -> None:
    refused = Server(tmp_path / "refused", "--database-url", url)
    with pytest.raises(RuntimeError, match="brushwork serve migrate"):
        refused.start()
    upgraded = brushwork("serve", "--database-url", url, "migrate")
    assert upgraded.returncode == 0 and "revision 0002 (was 0001)" in upgraded.stdout, upgraded.stderr
    engine = sa.create_engine(url)
    with engine.connect() as db:
        assert db.execute(sa.select(sa.func.count()).select_from(keys)).scalar_one() == 2
        assert db.execute(sa.select(sa.func.sum(usage.c.calls))).scalar_one() == 3
        states = sorted(db.execute(sa.select(jobs.c.state)).scalars())
        assert migrate.revision(db) == migrate.head()
    engine.dispose()
    assert states == ["done", "queued"]
    with Server(tmp_path / "upgraded", "--database-url", url, *UNLIMITED_RATE) as server, \
            server.client("bw_legacy-studio") as studio, server.client("bw_legacy-shop") as shop:
        assert {row["method"]: row["calls"] for row in studio.get("/v1/usage").json()["usage"]} == \
            {"adain": 2, "gatys": 1}
        _error(shop.get("/v1/usage"), 403, "forbidden")
        assert studio.post("/v1/stylize", files=files(), data=SMALL).status_code == 200
    again = brushwork("serve", "--database-url", url, "migrate")
    assert again.returncode == 0 and "(was" not in again.stdout


def test_a_database_restart_under_load_is_503_never_500_and_billing_matches(tmp_path):
    cluster = Postgres()
    with cluster as url:
        key = new_key(url, "outage")
        with Server(tmp_path, "--database-url", url, "--waiting", "16", *UNLIMITED_RATE) as server, \
                server.client(key) as client:
            job_id = client.post("/v1/jobs", files=files(), data={"method": "gatys", "steps": "80", **SMALL}
                                 ).json()["id"]
            statuses, bodies, lock, stop = Counter(), [], threading.Lock(), threading.Event()

            def caller() -> None:
                with server.client(key, timeout=60) as own:
                    while not stop.is_set():
                        answer = own.post("/v1/stylize", files=files(), data=SMALL)
                        with lock:
                            statuses[answer.status_code] += 1
                            if answer.status_code != 200:
                                bodies.append(answer.json()["error"]["code"])

            callers = [threading.Thread(target=caller) for _ in range(3)]
            for thread in callers:
                thread.start()
            time.sleep(3)
            cluster.stop()
            time.sleep(4)
            cluster.start()
            time.sleep(6)
            stop.set()
            for thread in callers:
                thread.join()
            assert set(statuses) == {200, 503} and statuses[503] > 0, statuses
            assert set(bodies) == {"database_unavailable"}, Counter(bodies)
            assert wait_for_job(client, job_id)["state"] == "done"
            assert billed(client) == {"adain": statuses[200], "gatys": 1}


def test_store_refuses_a_database_made_by_a_newer_brushwork(tmp_path):
    url = f"sqlite:///{tmp_path / 'newer.sqlite3'}"
    Store(url)
    engine = sa.create_engine(url)
    with engine.begin() as db:
        db.execute(sa.text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()
    with pytest.raises(migrate.SchemaError, match="newer brushwork"):
        Store(url)
