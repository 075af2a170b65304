"""``brushwork serve`` for real on 127.0.0.1: images, jobs, keys, limits, metrics, and more than twenty
kinds of bad input, each a 4xx with a JSON error while the server keeps serving."""

from __future__ import annotations

import io
import json
import socket
import struct
import threading
import time
import zlib

import httpx
import numpy as np
import pytest
from PIL import Image

from brushwork.service.settings import Settings
from brushwork.service.store import Store

from .serving import LONG_STEPS, LONG_TIMEOUT, Server, brushwork, image_bytes, wait_for_job

PHOTO = image_bytes("photo.jpg", 96)
PAINTING = image_bytes("painting.jpg", 64, "JPEG")
PHOTO_SIZE = Image.open(io.BytesIO(PHOTO)).size
UNLIMITED_RATE = ("--rate", "100000")
"""For the servers whose tests are not about rates, which poll jobs fast."""
LIMITS = ("--max-request-mb", "1", "--max-megapixels", "1", "--max-size", "1024", "--waiting", "0", *UNLIMITED_RATE)


def files(content: bytes = PHOTO, style: bytes | None = PAINTING, name: str = "photo.png", **extra) -> list:
    parts = [("content", (name, content, "image/png"))]
    if style is not None:
        parts.append(("style", ("painting.jpg", style, "image/jpeg")))
    return parts + [(field, value) for field, values in extra.items() for value in values]


def grey_png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (width, height), 255).save(buffer, "PNG")
    return buffer.getvalue()


def bomb_png(side: int) -> bytes:
    """A valid PNG of ``side``x``side`` black pixels that compresses to a few kilobytes."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = zlib.compress(b"\0" * (side + 1) * side, 9)
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A server without keys (open, on loopback), one worker and no waiting place, small limits."""
    with Server(tmp_path_factory.mktemp("serve-open"), *LIMITS) as running:
        yield running


@pytest.fixture(scope="module")
def client(server):
    with server.client() as open_client:
        yield open_client


def _error(response: httpx.Response, status: int, code: str, words: str = "") -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    error = response.json()["error"]
    assert error["code"] == code and words.lower() in error["message"].lower(), error
    assert "Traceback" not in response.text


def test_a_photo_painted_with_its_provenance_in_each_format(client):
    for fmt, pil_format in (("png", "PNG"), ("jpeg", "JPEG"), ("webp", "WEBP")):
        response = client.post("/v1/stylize", files=files(), data={"size": "80", "format": fmt})
        assert response.status_code == 200, response.text
        assert response.headers["x-brushwork-method"] == "adain" and float(response.headers["x-brushwork-seconds"]) > 0
        image = Image.open(io.BytesIO(response.content))
        assert image.format == pil_format and max(image.size) == 80
        pixels = np.asarray(image.convert("RGB"), float)
        photo = np.asarray(Image.open(io.BytesIO(PHOTO)).convert("RGB").resize(image.size), float)
        assert pixels.std() > 10 and np.abs(pixels - photo).mean() > 10  # painted, not the photo back
    png = Image.open(io.BytesIO(client.post("/v1/stylize", files=files(), data={"method": "fast"}).content))
    assert json.loads(png.info["brushwork"])["method"] == "fast" and "AI-generated" in png.info


def test_every_result_carries_the_mark_that_verify_reads(client):
    painted = client.post("/v1/stylize", files=files(), data={"size": "256", "format": "jpeg"})
    assert painted.status_code == 200, painted.text
    read = client.post("/v1/verify", files=[("image", ("painted.jpg", painted.content, "image/jpeg")),
                                            ("image", ("photo.png", PHOTO, "image/png"))])
    assert read.status_code == 200, read.text
    marked, unmarked = read.json()["results"]
    assert marked["file"] == "painted.jpg" and marked["watermark"]["serial"] == 0
    assert marked["metadata"]["software"].startswith("brushwork") and marked["metadata"]["ai_generated"]
    assert marked["c2pa"]["state"] == "untrusted" and "development" in marked["c2pa"]["signer"]
    assert unmarked["watermark"] is None and unmarked["metadata"] is None and unmarked["c2pa"]["state"] == "absent"
    _error(client.post("/v1/verify", files=[("image", ("broken.png", b"nope", "image/png"))]), 400,
           "invalid_image", "'broken.png'")


def test_a_server_may_put_the_callers_key_in_the_mark(tmp_path):
    store = Store(Settings(data=tmp_path).url())
    key = store.add_key("shop")
    with Server(tmp_path, "--watermark-serials") as running, running.client(key) as shop:
        painted = shop.post("/v1/stylize", files=files(), data={"size": "256"})
        read = shop.post("/v1/verify", files=[("image", ("painted.png", painted.content, "image/png"))])
    assert read.json()["results"][0]["watermark"]["serial"] == store.key(key).id > 0


def test_odd_file_names_are_names_only(client):
    for name, shown in (("../../etc/passwd", "passwd"), ("C:\\Users\\me\\фото 🎨.png", "фото 🎨.png")):
        response = client.post("/v1/stylize", files=files(name=name), data={"size": "64"})
        assert response.status_code == 200, response.text
        assert json.loads(Image.open(io.BytesIO(response.content)).info["brushwork"])["content"] == shown
        broken = client.post("/v1/stylize", files=files(b"nope", name=name))
        _error(broken, 400, "invalid_image", repr(shown))


BAD_REQUESTS = {
    "empty upload": (dict(files=files(b"")), 400, "invalid_image", "empty"),
    "truncated png": (dict(files=files(PHOTO[: len(PHOTO) // 2])), 400, "invalid_image", "truncated"),
    "garbage bytes": (dict(files=files(bytes(range(256)) * 8)), 400, "invalid_image", "not an image"),
    "a text file": (dict(files=files(b"%PDF-1.7 hello")), 400, "invalid_image", "not an image"),
    "a garbage style": (dict(files=files(style=b"GIF89a...")), 400, "invalid_image", "style"),
    "a tiny image": (dict(files=files(grey_png(8, 8))), 400, "invalid_image", "at least 32"),
    "json body": (dict(json={"content": "photo.png"}), 415, "unsupported_media_type", "multipart"),
    "urlencoded form": (dict(data={"method": "adain"}), 415, "unsupported_media_type", "multipart"),
    "no content": (dict(files=[("style", ("s.jpg", PAINTING, "image/jpeg"))]), 422, "invalid_field", "content"),
    "no style": (dict(files=files(style=None)), 400, "invalid_request", "style"),
    "unknown method": (dict(files=files(), data={"method": "picasso"}), 422, "invalid_field", "method"),
    "unknown model": (dict(files=files(), data={"model": "monet"}), 400, "unknown_model", "monet"),
    "a model path": (dict(files=files(), data={"model": "/etc/passwd"}), 400, "unknown_model", "offers"),
    "a model of another family": (dict(files=files(), data={"model": "waves"}), 400, "unknown_model", "adain"),
    "unknown colour mode": (dict(files=files(), data={"color": "sepia"}), 422, "invalid_field", "color"),
    "NaN strength": (dict(files=files(), data={"strength": "nan"}), 422, "invalid_field", "strength"),
    "strength above 1": (dict(files=files(), data={"strength": "5"}), 422, "invalid_field", "strength"),
    "negative size": (dict(files=files(), data={"size": "-3"}), 422, "invalid_field", "size"),
    "huge size": (dict(files=files(), data={"size": str(10**30)}), 422, "invalid_field", "size"),
    "huge steps": (dict(files=files(), data={"steps": "1000000000000"}), 422, "invalid_field", "steps"),
    "size not a number": (dict(files=files(), data={"size": "big"}), 422, "invalid_field", "size"),
    "negative style weight": (dict(files=files(), data={"style_weight": "-1"}), 400, "invalid_request", "weight"),
    "a mask of another size": (dict(files=files() + [("mask", ("m.png", grey_png(40, 40), "image/png"))]),
                               400, "invalid_mask", "content's size"),
    "a decompression bomb": (dict(files=files(bomb_png(8000))), 400, "invalid_image", "megapixels"),
    "gatys on the direct route": (dict(files=files(), data={"method": "gatys"}), 400, "use_jobs", "/v1/jobs"),
    "style images for feedforward": (dict(files=files(), data={"method": "feedforward", "model": "waves"}),
                                     400, "invalid_request", "model"),
    "an oversized body": (dict(files=files(bytes(2 * 2**20))), 413, "too_large", "limit"),
}


@pytest.mark.parametrize("kind", BAD_REQUESTS)
def test_bad_input_is_a_4xx_naming_it(client, kind):
    request, status, code, words = BAD_REQUESTS[kind]
    _error(client.post("/v1/stylize", **request), status, code, words)
    assert client.get("/healthz").json() == {"status": "ok"}


def test_a_streamed_body_is_cut_at_the_limit(client):
    def chunks():  # a 4 MiB upload to a 1 MiB limit, without a Content-Length
        yield b'--zzz\r\nContent-Disposition: form-data; name="content"; filename="a.png"\r\n\r\n'
        for _ in range(64):
            yield b"x" * 2**16

    response = client.post("/v1/stylize", content=chunks(),
                           headers={"content-type": "multipart/form-data; boundary=zzz"})
    _error(response, 413, "too_large")


def test_a_client_that_leaves_mid_upload_does_not_harm_the_server(server, client):
    before = client.get("/metrics").text
    for _ in range(3):
        with socket.create_connection(("127.0.0.1", server.port)) as raw:
            raw.sendall(b"POST /v1/stylize HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n"
                        b"Content-Length: 500000\r\n\r\n--b\r\nContent-Disposition: form-data; name=\"content\"; "
                        b"filename=\"a.png\"\r\n\r\n" + PHOTO[:2000])
    assert client.get("/healthz").status_code == 200
    assert client.post("/v1/stylize", files=files(), data={"size": "64"}).status_code == 200
    assert "brushwork_busy_workers" in before


def test_the_one_worker_busy_turns_the_next_request_away_and_health_still_answers(server, client):
    slow = {}

    def paint_large():
        slow["response"] = client.post("/v1/stylize", files=files(image_bytes("photo.jpg", 900)),
                                       data={"size": "900"})

    worker = threading.Thread(target=paint_large)
    worker.start()
    deadline = time.monotonic() + 60
    while 'brushwork_busy_workers{pool="requests"} 1.0' not in client.get("/metrics").text:
        assert time.monotonic() < deadline and worker.is_alive(), "the large request never started"
        time.sleep(0.05)
    start = time.perf_counter()
    assert client.get("/healthz").status_code == 200
    answered = time.perf_counter() - start
    turned_away = client.post("/v1/stylize", files=files(), data={"size": "64"})
    still_busy = worker.is_alive()
    worker.join()
    _error(turned_away, 503, "busy")
    assert turned_away.headers["retry-after"].isdigit() and still_busy and answered < 1.0
    assert slow["response"].status_code == 200


def test_metrics_count_routes_statuses_and_images(client):
    client.get("/v1/jobs/nonexistent")
    metrics = client.get("/metrics").text
    assert 'brushwork_requests_total{route="/v1/stylize",status="200"}' in metrics
    assert 'brushwork_requests_total{route="/v1/jobs/{job_id}",status="404"}' in metrics
    assert 'brushwork_images_total{method="adain"}' in metrics and 'brushwork_request_seconds_bucket' in metrics
    assert 'brushwork_queue_depth{kind="jobs"} 0.0' in metrics


def test_the_docs_show_the_typed_fields_with_this_servers_limits(client):
    api = client.get("/openapi.json").json()
    assert {"/v1/stylize", "/v1/jobs", "/v1/jobs/{job_id}", "/v1/jobs/{job_id}/result", "/v1/models", "/v1/usage",
            "/healthz", "/readyz", "/metrics"} <= set(api["paths"])
    form_ref = api["paths"]["/v1/stylize"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]["$ref"]
    form = api["components"]["schemas"][form_ref.split("/")[-1]]["properties"]
    assert form["size"]["maximum"] == 1024 and form["steps"]["maximum"] == 2000
    assert set(form["method"]["enum"]) == {"gatys", "adain", "feedforward", "fast"}
    assert client.get("/docs").status_code == 200


def test_a_job_runs_reports_progress_and_is_metered(client):
    submitted = client.post("/v1/jobs", files=files(), data={"method": "gatys", "steps": "30", "size": "64"})
    assert submitted.status_code == 202 and submitted.headers["location"] == f"/v1/jobs/{submitted.json()['id']}"
    job_id = submitted.json()["id"]
    early = client.get(f"/v1/jobs/{job_id}/result")
    job = wait_for_job(client, job_id)
    assert job["state"] == "done" and job["progress"] == 1.0 and job["attempts"] == 1, job
    assert early.status_code in (200, 409)
    result = client.get(job["result"])
    assert result.status_code == 200 and Image.open(io.BytesIO(result.content)).size[0] == 64
    usage = {row["method"]: row for row in client.get("/v1/usage").json()["usage"]}
    assert usage["gatys"]["calls"] == 1 and usage["gatys"]["seconds"] > 0
    width, height = PHOTO_SIZE
    assert usage["gatys"]["megapixels"] == pytest.approx(64 * round(64 * height / width) / 1e6)
    assert usage["adain"]["calls"] >= 3


def test_a_running_job_is_cancelled(client):
    job_id = client.post("/v1/jobs", files=files(), data={"method": "gatys", "steps": "2000"}).json()["id"]
    wait_for_job(client, job_id, ("running",))
    assert client.delete(f"/v1/jobs/{job_id}").json()["state"] in ("cancelling", "cancelled")
    job = wait_for_job(client, job_id, timeout=30)
    assert job["state"] == "cancelled", job
    _error(client.get(f"/v1/jobs/{job_id}/result"), 409, "cancelled")
    assert client.delete(f"/v1/jobs/{job_id}").json()["state"] == "deleted"
    _error(client.get(f"/v1/jobs/{job_id}"), 404, "not_found")


def test_a_bad_job_is_refused_at_submission(client):
    _error(client.post("/v1/jobs", files=files(b"junk"), data={"method": "gatys"}), 400, "invalid_image")
    too_large_whole = {"size": "0", "tile": "off", "method": "gatys"}  # 4 GB of Gram work in one piece
    _error(client.post("/v1/jobs", files=files(grey_png(1000, 1000)), data=too_large_whole),
           400, "invalid_request", "needs tiles")
    _error(client.get("/v1/jobs/../../etc/passwd"), 404, "not_found")


def test_without_keys_the_server_listens_on_loopback_only(tmp_path):
    refused = brushwork("serve", "--host", "0.0.0.0", "--data", str(tmp_path))
    assert refused.returncode == 2 and "only listens on loopback" in refused.stderr


@pytest.fixture(scope="module")
def keyed(tmp_path_factory):
    """A server with keys for alice, bob and erin (rate-limited to 20 a minute) and a revoked one."""
    data = tmp_path_factory.mktemp("serve-keys")
    store = Store(Settings(data=data).url())
    keys = {name: store.add_key(name) for name in ("alice", "bob", "erin")}
    keys["mallory"] = brushwork("serve", "keys", "add", "mallory", "--data", str(data)).stdout.strip()
    assert brushwork("serve", "keys", "revoke", "mallory", "--data", str(data)).returncode == 0
    listing = brushwork("serve", "keys", "list", "--data", str(data)).stdout
    assert "mallory" in listing and "revoked" in listing and not any(key in listing for key in keys.values())
    stored = b"".join(path.read_bytes() for path in data.glob("brushwork.sqlite3*"))  # the WAL too
    assert keys["mallory"].startswith("bw_") and not any(key.encode() in stored for key in keys.values())
    with Server(data, "--rate", "20") as running:
        yield running, keys


def test_keys_guard_every_v1_route(keyed):
    server, keys = keyed
    with server.client() as anonymous, server.client("bw_not-a-key") as stranger, \
            server.client(keys["mallory"]) as revoked:
        for route in ("/v1/models", "/v1/usage", "/v1/jobs/x"):
            _error(anonymous.get(route), 401, "unauthorized", "bearer")
            _error(stranger.get(route), 401, "unauthorized", "unknown")
            _error(revoked.get(route), 403, "forbidden", "revoked")
        _error(anonymous.post("/v1/stylize", files=files()), 401, "unauthorized")
        assert anonymous.get("/healthz").status_code == 200 and anonymous.get("/metrics").status_code == 200


def test_a_key_sees_only_its_own_jobs_and_usage(keyed):
    server, keys = keyed
    with server.client(keys["alice"]) as alice, server.client(keys["bob"]) as bob:
        assert alice.post("/v1/stylize", files=files(), data={"size": "64"}).status_code == 200
        job_id = alice.post("/v1/jobs", files=files(), data={"method": "fast", "size": "64"}).json()["id"]
        assert wait_for_job(alice, job_id)["state"] == "done"
        _error(bob.get(f"/v1/jobs/{job_id}"), 404, "not_found")
        _error(bob.get(f"/v1/jobs/{job_id}/result"), 404, "not_found")
        _error(bob.delete(f"/v1/jobs/{job_id}"), 404, "not_found")
        usage = bob.get("/v1/usage").json()
        assert (usage["key"], usage["usage"], usage["month"]["calls"]["used"]) == ("bob", [], 0)
        calls = {row["method"]: row["calls"] for row in alice.get("/v1/usage").json()["usage"]}
        assert calls == {"adain": 1, "fast": 1}


def test_a_key_past_its_rate_waits(keyed):
    server, keys = keyed
    with server.client(keys["erin"]) as erin:
        statuses = [erin.get("/v1/models") for _ in range(21)]
    assert [r.status_code for r in statuses[:20]] == [200] * 20
    _error(statuses[20], 429, "rate_limited", "erin")
    assert int(statuses[20].headers["retry-after"]) >= 1


def test_jobs_outlive_a_crashed_server_and_results_expire(tmp_path):
    """A server killed mid-job: the next one on the same data runs the job again once the lease lapses."""
    options = ("--lease-seconds", "2", "--result-hours", str(8 / 3600), *UNLIMITED_RATE)
    with Server(tmp_path, *options) as first, first.client() as client:
        job_id = client.post("/v1/jobs", files=files(), data={"method": "gatys", "steps": str(LONG_STEPS), "size": "64"}
                             ).json()["id"]
        wait_for_job(client, job_id, ("running",))
        first.kill()
    with Server(tmp_path, *options) as second, second.client() as client:
        job = wait_for_job(client, job_id, timeout=LONG_TIMEOUT)
        assert job["state"] == "done" and job["attempts"] == 2, job
        assert client.get(f"/v1/jobs/{job_id}/result").status_code == 200
        deadline = time.monotonic() + 30
        while client.get(f"/v1/jobs/{job_id}").json()["state"] != "expired":
            assert time.monotonic() < deadline, "the result never expired"
            time.sleep(0.5)
        _error(client.get(f"/v1/jobs/{job_id}/result"), 410, "expired")


def test_a_job_past_its_time_limit_fails(tmp_path):
    with Server(tmp_path, "--job-seconds", "2", *UNLIMITED_RATE) as server, server.client() as client:
        job_id = client.post("/v1/jobs", files=files(), data={"method": "gatys", "steps": "2000"}).json()["id"]
        job = wait_for_job(client, job_id, timeout=60)
        assert job["state"] == "failed" and "limit of 2 s" in job["error"], job
