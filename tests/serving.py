"""A real ``brushwork serve`` on 127.0.0.1 in its own process, for the service tests and bench/serve_load.py."""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
START_SECONDS = 120


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def image_bytes(name: str, long_side: int, fmt: str = "PNG") -> bytes:
    """An example image brought to ``long_side`` pixels, encoded as ``fmt``."""
    image = Image.open(EXAMPLES / name).convert("RGB")
    image.thumbnail((long_side, long_side))
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return buffer.getvalue()


def brushwork(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "brushwork.cli", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)


class Server:
    """``brushwork serve --port P --data DATA ARGS...``; ``with`` waits until it answers and stops it
    after (``kill`` stops it the hard way, as a crash would)."""

    def __init__(self, data: Path, *args: str, log: Path | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.command = [sys.executable, "-m", "brushwork.cli", "serve", "--port", str(self.port),
                        "--data", str(data), *args]
        data.mkdir(parents=True, exist_ok=True)
        self.log = log or data / f"server-{self.port}.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> Server:
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(self.command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True, env=os.environ | {"PYTHONUNBUFFERED": "1"})
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited with {self.process.returncode}:\n{self.log.read_text()}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.25)
        self.stop()
        raise RuntimeError(f"the server did not answer in {START_SECONDS} s:\n{self.log.read_text()}")

    def stop(self, sig: int = signal.SIGINT, timeout: float = 60) -> None:
        """Stop the server's whole process group (a local Ray's processes too)."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, sig)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *_exc) -> None:
        self.stop()

    def client(self, key: str | None = None, timeout: float = 120) -> httpx.Client:
        headers = {} if key is None else {"Authorization": f"Bearer {key}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=timeout)


POLL_SECONDS = 0.25
LONG_STEPS = 300
"""Gram steps of a 64 px job that a test kills mid-way: seconds of painting, so that it cannot finish
between the poll that sees it running and the kill (60 steps once did, on a fast CI machine)."""
LONG_TIMEOUT = 600
"""Seconds to wait for such a job to be painted again elsewhere: about 15 on an idle 2-core CPU, but
a machine busy with other work once took over 120."""


def wait_for_job(client: httpx.Client, job_id: str, states=("done", "failed", "cancelled"), timeout=120) -> dict:
    """Poll a job until it is in one of ``states``, waiting as a 429's ``Retry-After`` says."""
    deadline, job = time.monotonic() + timeout, {"state": "unseen"}
    while time.monotonic() < deadline:
        response = client.get(f"/v1/jobs/{job_id}")
        if response.status_code == 429:
            time.sleep(float(response.headers["retry-after"]))
            continue
        job = response.json()
        if job["state"] in states:
            return job
        time.sleep(POLL_SECONDS)
    raise AssertionError(f"job {job_id} stayed {job['state']} for {timeout} s")
