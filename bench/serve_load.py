"""A bounded load test of ``brushwork serve`` on 127.0.0.1: throughput, latency, errors, memory, HTTP overhead.

    python bench/serve_load.py [--clients 4] [--seconds 60] [--rounds 2] [--size 512] [--methods fast adain]

Per method, painting the example photo and painting at ``--size``:

- **overhead**: one client's median round trip (upload, multipart parsing, painting, the response)
  over the median of the same order painted in this process (``brushwork.service.painting.paint``), the
  two alternated;
- **load**: ``--clients`` clients posting back to back for ``--seconds``: requests/s, p50/p95/p99
  latency and errors (anything but 200), over ``--rounds`` rounds of every method;
- **memory**: the server's resident memory after a warm-up call of every method (models loaded)
  and after each round: a leak grows every round, the allocator's caches only in the first.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from brushwork.service.painting import Order, paint  # noqa: E402
from brushwork.service.settings import Limits  # noqa: E402
from brushwork.service.store import Upload  # noqa: E402
from tests.serving import Server, image_bytes  # noqa: E402

REPEATS = 7
FIELDS = {"model": [], "style_weight": [], "strength": None, "color": "none", "color_when": "after", "tile": None,
          "steps": 200, "seed": 0, "format": "png"}


def resident_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def load(url: str, form: dict, uploads: list, clients: int, seconds: float) -> tuple[list[float], list[int]]:
    latencies, statuses, lock = [], [], threading.Lock()
    stop = time.monotonic() + seconds

    def client() -> None:
        with httpx.Client(base_url=url, timeout=600) as http:
            while time.monotonic() < stop:
                start = time.perf_counter()
                status = http.post("/v1/stylize", files=uploads, data=form).status_code
                with lock:
                    latencies.append(time.perf_counter() - start)
                    statuses.append(status)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, statuses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--methods", nargs="+", default=["fast", "adain"])
    args = parser.parse_args()
    photo, painting = image_bytes("photo.jpg", args.size), image_bytes("painting.jpg", args.size)
    uploads = [("content", ("photo.png", photo, "image/png")), ("style", ("painting.png", painting, "image/png"))]
    with tempfile.TemporaryDirectory() as data, Server(Path(data), "--waiting", str(args.clients)) as server:
        with server.client() as http:
            for method in args.methods:
                assert http.post("/v1/stylize", files=uploads, data={"method": method, "size": args.size}).is_success
        memory = [resident_mib(server.process.pid)]
        rows = {}
        for method in args.methods:
            form = {"method": method, "size": str(args.size)}
            order = Order(FIELDS | {"method": method, "size": args.size},
                          [Upload("content", "photo.png", photo), Upload("style", "painting.png", painting)])
            paint(order, Limits(), "auto")
            local, trips, painted = [], [], []
            with server.client() as http:
                for _ in range(REPEATS):  # alternated, so both see the same machine
                    local.append(paint(order, Limits(), "auto").seconds)
                    start = time.perf_counter()
                    response = http.post("/v1/stylize", files=uploads, data=form)
                    trips.append(time.perf_counter() - start)
                    painted.append(float(response.headers["x-brushwork-seconds"]))
            rows[method] = [*map(statistics.median, (local, painted, trips)), [], []]
        for _ in range(args.rounds):
            for method in args.methods:
                latencies, statuses = load(server.url, {"method": method, "size": str(args.size)}, uploads,
                                           args.clients, args.seconds)
                rows[method][3] += latencies
                rows[method][4] += statuses
            memory.append(resident_mib(server.process.pid))
    seconds = args.seconds * args.rounds
    print(f"{args.clients} clients, {args.rounds} rounds of {args.seconds:g} s per method at {args.size} px; "
          f"server: 1 worker; times in seconds")
    print("| method | in-process | server paint | round trip | overhead | req/s | p50 | p95 | p99 | errors |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for method, (local, painted, trip, latencies, statuses) in rows.items():
        errors = sum(status != 200 for status in statuses)
        print(f"| {method} | {local:.3f} | {painted:.3f} | {trip:.3f} | {trip / local:.2f}x | "
              f"{len(latencies) / seconds:.2f} | {percentile(latencies, 0.5):.2f} | "
              f"{percentile(latencies, 0.95):.2f} | {percentile(latencies, 0.99):.2f} | {errors} |")
    rounds = ", ".join(f"{m:.0f}" for m in memory[1:])
    print(f"server memory (MiB): {memory[0]:.0f} with the models loaded; after each round: {rounds}")


if __name__ == "__main__":
    main()
