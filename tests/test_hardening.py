"""What an attack probe of the service found, fixed: large images are decoded no larger than they
are used, a request's images have a budget, and every door reads large styles within it."""

from __future__ import annotations

import contextlib
import io
import json
import socket
import stat
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from brushwork.service.settings import Settings
from brushwork.service.store import Store
from plugin_core.image import header_size, load_image, open_image

from . import clips
from .serving import EXAMPLES, ROOT, Server, brushwork, image_bytes
from .test_serve import UNLIMITED_RATE, files

HUGE_SIDE = 6000
"""36 megapixels: about 430 MB as float32 RGB, about 100 kB as a flat PNG."""
BUDGET_MB = 300
"""What reading a 36-megapixel style may add to a process's peak memory (it used to add over 1 GB)."""
REFUSED_MB = 50
"""What a request refused from its images' headers may add (decoding one of them would add over 100 MB)."""


@pytest.fixture(scope="module")
def huge_png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (HUGE_SIDE, HUGE_SIDE), (200, 120, 40)).save(buffer, "PNG")
    return buffer.getvalue()


def jpeg(width: int, height: int, orientation: int | None = None) -> bytes:
    buffer = io.BytesIO()
    exif = Image.Exif()
    if orientation:
        exif[0x0112] = orientation
    pixels = np.random.default_rng(0).integers(0, 255, (height, width, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(buffer, "JPEG", exif=exif)
    return buffer.getvalue()


@pytest.mark.parametrize("kind", ["jpeg", "png"])
def test_a_large_image_is_decoded_reduced_to_no_less_than_its_use(kind):
    if kind == "jpeg":
        data = jpeg(4000, 3000)
    else:
        buffer = io.BytesIO()
        Image.new("RGBA", (4000, 3000), (10, 20, 30, 128)).save(buffer, "PNG")
        data = buffer.getvalue()
    image = open_image(io.BytesIO(data), "style", longest=500)
    assert 500 <= max(image.size) < 1000 and image.size[0] * 3 == image.size[1] * 4
    assert load_image(io.BytesIO(data), "style", longest=3000).rgb.shape[-1] == 4000, "reduced by less than 2"
    assert load_image(io.BytesIO(data), "style").rgb.shape[-2:] == (3000, 4000)


def test_a_reduced_image_keeps_its_colours_and_orientation():
    data = jpeg(1200, 800, orientation=6)
    assert header_size(io.BytesIO(data)) == (800, 1200)
    whole, reduced = load_image(io.BytesIO(data), "style"), load_image(io.BytesIO(data), "style", longest=200)
    assert whole.rgb.shape[-2:] == (1200, 800) and reduced.rgb.shape[-2] > reduced.rgb.shape[-1]
    assert abs(whole.rgb.mean() - reduced.rgb.mean()) < 0.01
    assert header_size(io.BytesIO(b"not an image")) is None


def peak_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmHWM for {pid}")


def test_the_server_decodes_large_styles_small_and_refuses_a_request_over_its_budget(tmp_path, huge_png):
    photo = image_bytes("photo.jpg", 96)
    with Server(tmp_path, *UNLIMITED_RATE) as server, server.client() as client:
        def send(styles: int):
            return client.post("/v1/stylize", data={"size": "64", "method": "fast"}, files=[
                ("content", ("photo.png", photo)), *[("style", (f"huge{n}.png", huge_png)) for n in range(styles)]])

        small = client.post("/v1/stylize", data={"size": "64", "method": "fast"}, files=[
            ("content", ("photo.png", photo)), ("style", ("small.jpg", image_bytes("painting.jpg", 64, "JPEG")))])
        assert small.status_code == 200
        before = peak_mb(server.process.pid)
        assert send(2).status_code == 200
        grown = peak_mb(server.process.pid) - before
        over = send(6)
        assert over.status_code == 400 and "megapixels" in over.json()["error"]["message"]
        many = client.post("/v1/stylize", data={"size": "64", "method": "fast"}, files=[
            ("content", ("photo.png", photo)),
            *[("style", (f"s{n}.jpg", image_bytes("painting.jpg", 64, "JPEG"))) for n in range(9)]])
        assert many.status_code == 400 and "9 style images" in many.json()["error"]["message"]
        assert peak_mb(server.process.pid) - before < grown + REFUSED_MB, "a refused request was decoded"
    print(f"two 36-megapixel styles raised the server's peak by {grown:.0f} MB")
    assert grown < BUDGET_MB


PEAK_OF = """
import resource, runpy, sys
sys.argv = ["brushwork", *sys.argv[1:]]
try:
    runpy.run_module("brushwork.cli", run_name="__main__")
finally:
    print("peak-kb", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)
"""


def cli_peak_mb(*args: str) -> float:
    done = subprocess.run([sys.executable, "-c", PEAK_OF, *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    return int(done.stderr.rsplit("peak-kb", 1)[1].split()[0]) / 1024


def door(name: str, folder: Path, style: Path) -> list[str]:
    """The arguments that paint one small picture through the command line's ``name`` door."""
    out = folder / f"{name}-{style.stem}"
    if name == "stylize":
        return ["stylize", str(EXAMPLES / "photo.jpg"), "--size", "64", "--method", "fast", "--style", str(style),
                "-o", f"{out}.png"]
    if name == "batch":
        photos = folder / "photos"
        photos.mkdir(exist_ok=True)
        (photos / "photo.jpg").write_bytes((EXAMPLES / "photo.jpg").read_bytes())
        return ["batch", str(photos), "-o", str(out), "--size", "64", "--method", "fast", "--style", str(style),
                "--engine", "local", "-q"]
    clip = clips.write(folder / "pan.mp4", clips.pan(frames=3))
    return ["video", str(clip), "--size", "64", "--method", "fast", "--style", str(style), "-o", f"{out}.mp4", "-q"]


@pytest.mark.parametrize("name", ["stylize", "batch", "video"])
def test_every_command_reads_a_large_style_within_the_budget(name, tmp_path, huge_png):
    (tmp_path / "huge.png").write_bytes(huge_png)
    small = cli_peak_mb(*door(name, tmp_path, EXAMPLES / "painting.jpg"))
    large = cli_peak_mb(*door(name, tmp_path, tmp_path / "huge.png"))
    print(f"{name}: peak {small:.0f} MB with a small style, {large:.0f} MB with a 36-megapixel one")
    assert large - small < BUDGET_MB


def test_a_thin_image_and_overflowing_weights_are_a_400_naming_them(tmp_path):
    thin = io.BytesIO()
    Image.new("RGB", (20000, 32), (90, 120, 150)).save(thin, "PNG")
    painting = image_bytes("painting.jpg", 64, "JPEG")
    with Server(tmp_path, *UNLIMITED_RATE) as server, server.client() as client:
        answer = client.post("/v1/stylize", data={"size": "512"}, files=[
            ("content", ("thin.png", thin.getvalue())), ("style", ("painting.jpg", painting))])
        assert answer.status_code == 400, answer.text
        assert "512x1" in answer.json()["error"]["message"] and "at least 32" in answer.json()["error"]["message"]
        job = client.post("/v1/jobs", data={"size": "512", "method": "gatys"}, files=[
            ("content", ("thin.png", thin.getvalue())), ("style", ("painting.jpg", painting))])
        assert job.status_code == 400, job.text
        huge = client.post("/v1/stylize", data={"size": "64", "style_weight": ["1e308", "1e308"]}, files=[
            ("content", ("photo.png", image_bytes("photo.jpg", 96))), ("style", ("a.jpg", painting)),
            ("style", ("b.jpg", painting))])
        assert huge.status_code == 400 and "finite" in huge.json()["error"]["message"], huge.text


def raw(server: Server, request: bytes, wait: float = 5.0) -> bytes:
    """Send ``request`` bytes as they are and read the answer (the connection left open meanwhile)."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=wait) as connection:
        connection.sendall(request)
        answer = b""
        with contextlib.suppress(TimeoutError, ConnectionResetError):
            while chunk := connection.recv(65536):
                answer += chunk
    return answer


def status_and_error(answer: bytes) -> tuple[int, dict]:
    head, _, payload = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(payload)["error"]


@pytest.fixture(scope="module")
def keyed(tmp_path_factory):
    data = tmp_path_factory.mktemp("hardened")
    keys = {name: brushwork("serve", "--data", str(data), "keys", "add", name).stdout.strip()
            for name in ("ann", "ben", "cat")}
    options = ("--jobs-per-key", "2", "--calls-per-key", "1", "--job-workers", "0", "--body-idle-seconds", "2",
               *UNLIMITED_RATE)
    with Server(data, *options) as server:
        yield server, keys, data


def test_one_key_cannot_take_every_place_or_job_while_another_is_served(keyed):
    server, keys, _data = keyed
    gatys = {"method": "gatys", "size": "64", "steps": "10"}
    with server.client(keys["ann"]) as ann, server.client(keys["ben"]) as ben:
        assert [ann.post("/v1/jobs", files=files(), data=gatys).status_code for _ in range(3)] == [202, 202, 429]
        assert ann.post("/v1/jobs", files=files(), data=gatys).json()["error"]["code"] == "too_many_jobs"
        assert ben.post("/v1/jobs", files=files(), data=gatys).status_code == 202
        answers = {}
        slow = threading.Thread(target=lambda: answers.update(first=ann.post(
            "/v1/stylize", files=files(), data={"size": "768"})))
        slow.start()
        time.sleep(1.0)
        second = ann.post("/v1/stylize", files=files(), data={"size": "64"})
        other = ben.post("/v1/stylize", files=files(), data={"size": "64"})
        slow.join()
    assert second.status_code == 429 and second.json()["error"]["code"] == "too_many_calls"
    assert other.status_code == 200 and answers["first"].status_code == 200


def test_the_queue_cap_holds_for_parallel_submissions(tmp_path):
    with Server(tmp_path, "--queued-jobs", "3", "--job-workers", "0", *UNLIMITED_RATE) as server:
        def submit(_n):
            with server.client() as client:
                return client.post("/v1/jobs", files=files(), data={"method": "gatys", "size": "256"}).status_code

        with ThreadPoolExecutor(8) as pool:
            statuses = sorted(pool.map(submit, range(8)))
    assert statuses == [202] * 3 + [503] * 5
    assert Store(Settings(data=tmp_path).url()).queued() == 3


def test_a_wrong_key_is_answered_before_its_body_and_a_stalled_body_is_cut(keyed):
    server, keys, _data = keyed
    head = (f"POST /v1/stylize HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nAuthorization: Bearer bw_wrong\r\n"
            f"Content-Type: multipart/form-data; boundary=x\r\nContent-Length: {40 * 2**20}\r\n\r\n").encode()
    start = time.monotonic()
    status, error = status_and_error(raw(server, head + b"--x\r\n" + b"a" * 65536))
    assert status == 401 and error["code"] == "unauthorized" and time.monotonic() - start < 5
    stalled = head.replace(b"bw_wrong", keys["cat"].encode()).replace(str(40 * 2**20).encode(), b"100000")
    start = time.monotonic()
    status, error = status_and_error(raw(server, stalled + b"--x\r\n" + b"a" * 1000, wait=30))
    assert status == 408 and error["code"] == "timeout" and 2 <= time.monotonic() - start < 20


def test_uvicorns_own_refusals_are_json_and_headers_have_a_limit(keyed):
    server, _keys, _data = keyed
    assert status_and_error(raw(server, b"NOT HTTP AT ALL\r\n\r\n"))[0] == 400
    huge_header = f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: {'a' * 200_000}\r\n\r\n".encode()
    status, error = status_and_error(raw(server, huge_header))
    assert status == 400 and error["code"] == "bad_request"


def test_wrong_keys_from_one_address_are_slowed_whatever_it_forwards(keyed):
    server, keys, _data = keyed
    answers = []
    for n in range(12):
        with server.client("bw_guess") as guesser:
            answers.append(guesser.get("/v1/models", headers={"X-Forwarded-For": f"203.0.113.{n}"}))
    assert [a.status_code for a in answers[:10]] == [401] * 10
    assert answers[-1].status_code == 429 and answers[-1].json()["error"]["code"] == "too_many_failures"
    with server.client(keys["cat"]) as cat:
        assert cat.get("/v1/models").status_code == 200, "a right key always passes"


def test_head_works_and_the_database_is_private(keyed):
    server, keys, data = keyed
    with server.client(keys["cat"]) as cat:
        for route in ("/healthz", "/v1/models", "/"):
            answer = cat.head(route)
            assert answer.status_code == 200 and answer.content == b"", route
    files_ = sorted(data.glob("brushwork.sqlite3*"))
    assert len(files_) >= 2 and all(stat.S_IMODE(path.stat().st_mode) == 0o600 for path in files_), \
        [(path.name, oct(path.stat().st_mode)) for path in files_]


def test_hosts_origins_and_slashes(tmp_path):
    with Server(tmp_path / "open", *UNLIMITED_RATE) as open_server, open_server.client() as client:
        evil = client.get("/healthz/", headers={"Host": "evil.example"})
        assert evil.status_code == 400 and evil.json()["error"]["code"] == "invalid_host"
        assert client.get("/healthz/").status_code == 404 and "location" not in client.get("/healthz/").headers
        cross = client.post("/v1/stylize", files=files(), data={"size": "64"}, headers={"Origin": "http://evil.example"})
        assert cross.status_code == 403 and cross.json()["error"]["code"] == "cross_origin"
        same = client.post("/v1/stylize", files=files(), data={"size": "64"},
                           headers={"Origin": f"http://127.0.0.1:{open_server.port}"})
        assert same.status_code == 200
    data = tmp_path / "keyed"
    key = brushwork("serve", "--data", str(data), "keys", "add", "shop").stdout.strip()
    with Server(data, "--allowed-hosts", "api.example.com,127.0.0.1", *UNLIMITED_RATE) as server, \
            server.client(key) as client:
        assert client.get("/v1/models", headers={"Host": "api.example.com"}).status_code == 200
        other = client.get("/v1/models", headers={"Host": "evil.example"})
        assert other.status_code == 400 and other.json()["error"]["code"] == "invalid_host"
