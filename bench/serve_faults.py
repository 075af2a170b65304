"""A soak of ``brushwork serve`` with a PostgreSQL restart in the middle: is every success billed once?

    python bench/serve_faults.py [--minutes 10] [--outage 8] [--clients 3]

Two servers on 127.0.0.1 share a throwaway PostgreSQL (Debian's). Clients of one key mix:

- **direct** calls of ``POST /v1/stylize`` without a key: a 200 is a success;
- **idempotent** calls with an ``Idempotency-Key``, a third of them cut by the client (a random
  timeout of 0.05-0.5 s) and repeated with the same key until an answer comes; some repeated once
  more after their answer, which must come back replayed;
- **jobs** submitted with an ``Idempotency-Key`` (repeated the same way) and polled until done.

Half way, PostgreSQL is stopped for ``--outage`` seconds and started again. It prints the statuses,
every 5xx other than 503 (there must be none), the jobs that never finished, the servers' resident
memory over the run, and the billed usage against the clients' count of successes (equal).
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import httpx
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.serve_load import resident_mib  # noqa: E402
from brushwork.service.schema import usage  # noqa: E402
from brushwork.service.store import Store  # noqa: E402
from tests.postgres import Postgres  # noqa: E402
from tests.serving import Server, image_bytes  # noqa: E402

PHOTO, PAINTING = image_bytes("photo.jpg", 96), image_bytes("painting.jpg", 64, "JPEG")
FILES = [("content", ("photo.png", PHOTO, "image/png")), ("style", ("painting.jpg", PAINTING, "image/jpeg"))]
DIRECT = {"size": "64", "method": "fast"}
IDEMPOTENT = {"size": "96"}
JOB = {"method": "gatys", "steps": "10", "size": "64"}
CUT_SHARE = 1 / 3
REPLAY_SHARE = 0.2
BACKOFF_SECONDS = 0.5
MEMORY_SECONDS = 30


class Tally:
    """What the clients saw, shared by their threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.statuses: Counter = Counter()
        self.server_errors: list[str] = []
        self.successes = 0
        self.replays = 0
        self.cuts = 0
        self.unfinished: list[str] = []

    def saw(self, response: httpx.Response) -> None:
        with self.lock:
            self.statuses[response.status_code] += 1
            if response.status_code >= 500 and response.status_code != 503:
                self.server_errors.append(f"{response.status_code} {response.text[:200]}")

    def add(self, field: str, amount: int = 1) -> None:
        with self.lock:
            setattr(self, field, getattr(self, field) + amount)


def until_answered(client: httpx.Client, tally: Tally, route: str, data: dict, token: str, cut: bool) -> httpx.Response:
    """POST with ``token`` until a 2xx: cut once by a short timeout when ``cut``; 409 and 503 wait and repeat."""
    while True:
        timeout = random.uniform(0.05, 0.5) if cut else 120
        cut = False
        try:
            answer = client.post(route, files=FILES, data=data, headers={"Idempotency-Key": token}, timeout=timeout)
        except httpx.TimeoutException:
            tally.add("cuts")
            continue
        except httpx.TransportError:
            time.sleep(BACKOFF_SECONDS)
            continue
        tally.saw(answer)
        if answer.is_success:
            return answer
        if answer.status_code not in (409, 429, 503):
            raise AssertionError(f"{route} answered {answer.status_code}: {answer.text}")
        time.sleep(float(answer.headers.get("retry-after", BACKOFF_SECONDS)))


def client_loop(url: str, key: str, tally: Tally, stop: threading.Event, seed: int) -> None:
    random.seed(seed)
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=120) as client:
        while not stop.is_set():
            kind = random.choice(("direct", "idempotent", "job"))
            if kind == "direct":
                try:
                    answer = client.post("/v1/stylize", files=FILES, data=DIRECT)
                except httpx.TransportError:
                    continue
                tally.saw(answer)
                tally.add("successes", answer.status_code == 200)
                if answer.status_code != 200:
                    time.sleep(BACKOFF_SECONDS)
            elif kind == "idempotent":
                token = uuid.uuid4().hex
                first = until_answered(client, tally, "/v1/stylize", IDEMPOTENT, token, random.random() < CUT_SHARE)
                tally.add("successes")
                if random.random() < REPLAY_SHARE:
                    again = until_answered(client, tally, "/v1/stylize", IDEMPOTENT, token, False)
                    assert again.headers.get("idempotent-replayed") == "true" and again.content == first.content
                    tally.add("replays")
            else:
                token = uuid.uuid4().hex
                job_id = until_answered(client, tally, "/v1/jobs", JOB, token, random.random() < CUT_SHARE).json()["id"]
                if finished(client, tally, job_id):
                    tally.add("successes")
                else:
                    with tally.lock:
                        tally.unfinished.append(job_id)


def finished(client: httpx.Client, tally: Tally, job_id: str, timeout: float = 300) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            answer = client.get(f"/v1/jobs/{job_id}")
        except httpx.TransportError:
            time.sleep(BACKOFF_SECONDS)
            continue
        tally.saw(answer)
        if answer.status_code == 200 and answer.json()["state"] == "done":
            return True
        if answer.status_code == 200 and answer.json()["state"] in ("failed", "cancelled"):
            return False
        time.sleep(float(answer.headers.get("retry-after", 0.25)))
    return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--outage", type=float, default=8, help="seconds PostgreSQL is down half way")
    parser.add_argument("--clients", type=int, default=3)
    args = parser.parse_args()
    cluster, tally, stop = Postgres(), Tally(), threading.Event()
    with cluster as url, tempfile.TemporaryDirectory() as folder:
        key = Store(url).add_key("soak")
        options = ("--database-url", url, "--rate", "100000", "--waiting", "16")
        with Server(Path(folder) / "a", *options) as a, Server(Path(folder) / "b", *options) as b:
            servers = (a, b)
            memory = [[resident_mib(s.process.pid) for s in servers]]
            clients = [threading.Thread(target=client_loop, args=(servers[n % 2].url, key, tally, stop, n))
                       for n in range(args.clients)]
            for thread in clients:
                thread.start()
            start, seconds, outage_done = time.monotonic(), args.minutes * 60, False
            while (elapsed := time.monotonic() - start) < seconds:
                if not outage_done and elapsed >= seconds / 2:
                    print(f"{elapsed:5.0f} s  stopping PostgreSQL for {args.outage:g} s", flush=True)
                    cluster.stop()
                    time.sleep(args.outage)
                    cluster.start()
                    outage_done = True
                time.sleep(MEMORY_SECONDS)
                memory.append([resident_mib(s.process.pid) for s in servers])
                print(f"{time.monotonic() - start:5.0f} s  {dict(tally.statuses)}  successes {tally.successes}  "
                      f"RSS {memory[-1][0]:.0f}/{memory[-1][1]:.0f} MiB", flush=True)
            stop.set()
            for thread in clients:
                thread.join()
        engine = sa.create_engine(url)
        with engine.connect() as db:
            billed = db.execute(sa.select(sa.func.coalesce(sa.func.sum(usage.c.calls), 0))).scalar_one()
        engine.dispose()
    early = memory[min(2, len(memory) - 1)]
    print(f"\nminutes {args.minutes:g}, clients {args.clients}, PostgreSQL down {args.outage:g} s half way")
    print(f"statuses: {dict(sorted(tally.statuses.items()))}")
    print(f"5xx other than 503: {len(tally.server_errors)}" + "".join(f"\n  {e}" for e in tally.server_errors[:5]))
    print(f"client cuts {tally.cuts}, replays {tally.replays}, unfinished jobs {len(tally.unfinished)}")
    print("resident MiB (a, b): start " + ", ".join(f"{m:.0f}" for m in memory[0]) + "; after a minute "
          + ", ".join(f"{m:.0f}" for m in early) + "; end " + ", ".join(f"{m:.0f}" for m in memory[-1]))
    print(f"successes the clients saw: {tally.successes}; calls billed: {billed}; "
          f"{'EQUAL' if billed == tally.successes else 'DIFFERENT'}")


if __name__ == "__main__":
    main()
