"""The routes: ``/v1`` (a key's work), ``/healthz``, ``/readyz``, ``/metrics``; ``/docs`` is FastAPI's."""

import asyncio
import io
import logging
import threading
from contextlib import asynccontextmanager
from functools import partial
from typing import Annotated

import anyio
import sqlalchemy as sa
from fastapi import Depends, FastAPI, File, Header, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from plugin_core import __version__, provenance
from plugin_core.controls import ONE_PASS
from plugin_core.errors import BrushworkError, Cancelled

from . import errors, idempotency, ledger, studio
from .access import Access, Authenticate, Caller
from .errors import ApiError
from .forms import multipart_only, order_form
from .gate import Gate
from .idempotency import Claim, Stored
from .jobs import JobRunner
from .limits import BodyLimit
from .metrics import Measure, Metrics
from .painting import FORMATS, Order, megapixels, offered_models, paint, style_request, thumbnail
from .pool import RETRY_SECONDS, KeyPlaces, Pool
from .settings import Settings
from .store import CANCELLED, DONE, EXPIRED, FAILED, Job, Store

CHECKS = 2
"""Submitted jobs whose uploads are being decoded (checked) at once."""
IMAGES = {"content": {media_type: {} for _, media_type in FORMATS.values()}, "description": "the painted image"}
REPLAYED = "Idempotent-Replayed"
"""Set on an answer stored for an earlier request with the same ``Idempotency-Key``."""
HANGUP_POLL_SECONDS = 0.25
log = logging.getLogger("brushwork.serve")


def _job_body(job: Job) -> dict:
    return {"id": job.id, "state": job.state, "progress": round(job.progress, 4), "error": job.error,
            "method": job.method, "attempts": job.attempts, "created": job.created, "started": job.started,
            "finished": job.finished, "result": f"/v1/jobs/{job.id}/result" if job.state == DONE else None}


def _outcome(error: BaseException) -> tuple[str, str]:
    """How a call that raised ``error`` ends in the ledger: its state and code."""
    if isinstance(error, ApiError):
        return ledger.REFUSED, error.code
    if isinstance(error, ledger.QuotaExceeded):
        return ledger.REFUSED, ledger.QUOTA_EXCEEDED
    if isinstance(error, (Cancelled, asyncio.CancelledError)):
        return ledger.CANCELLED, "client_disconnected"
    if isinstance(error, BrushworkError):
        return ledger.REFUSED, errors.core_error(error).code
    if isinstance(error, errors.DATABASE_AWAY):
        return ledger.FAILED, "database_unavailable"
    return ledger.FAILED, "internal"


async def _watch_hangup(request: Request, gone: threading.Event) -> None:
    """Set ``gone`` when the client hangs up: its painting stops and is not billed."""
    while not await request.is_disconnected():
        await asyncio.sleep(HANGUP_POLL_SECONDS)
    gone.set()


def create_app(settings: Settings) -> FastAPI:
    """The service over ``settings``' database; jobs run on this app's own workers."""
    settings.data.mkdir(parents=True, exist_ok=True)
    store, limits, metrics = Store(settings.url()), settings.limits, Metrics()
    access = Access(store, limits.rate_per_minute)
    signer = settings.signer()
    runner = JobRunner(store, settings, metrics, signer)
    places = KeyPlaces(limits.calls_per_key)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.pool = Pool(settings.workers, limits.waiting_requests)
        app.state.checks = anyio.CapacityLimiter(CHECKS)
        metrics.watch(lambda: app.state.pool.waiting, lambda: app.state.pool.busy, store.queued, lambda: runner.busy)
        runner.start()
        yield
        await run_in_threadpool(runner.stop)

    app = FastAPI(title="brushwork", version=__version__, lifespan=lifespan, redirect_slashes=False, description=(
        "Neural style transfer: paint a photo in the style of a painting. One-pass methods answer "
        "`POST /v1/stylize` with the image; long work (Gram optimisation, large images) goes through "
        "`POST /v1/jobs`. Every `/v1` route takes `Authorization: Bearer KEY`."))
    errors.install(app)
    studio.install(app)
    # the last added runs first: measure, gate on Host and Origin, identify the key, then the body
    app.add_middleware(BodyLimit, limit=limits.request_bytes, idle_seconds=limits.body_idle_seconds)
    app.add_middleware(Authenticate, access=access)
    app.add_middleware(Gate, allowed_hosts=settings.allowed_hosts, open_mode=lambda: not access.has_keys())
    app.add_middleware(Measure, metrics=metrics)
    CallerDep = Annotated[Caller, Depends(access)]
    OrderDep = Annotated[Order, Depends(order_form(limits))]
    IdempotencyDep = Annotated[str | None, Header(alias=idempotency.HEADER, description=(
        "repeat a request with the same key to get the first one's answer, painted and billed once "
        f"(kept {limits.idempotency_seconds / 3600:g} h)"))]

    def claimed(caller: Caller, route: str, order: Order, token: str | None) -> Claim | Stored | None:
        if token is None:
            return None
        return store.claim_idempotency(caller.key_id, idempotency.checked_token(token),
                                       idempotency.fingerprint(route, order), limits.idempotency_seconds)

    async def unbilled(call_id: str, caller: Caller, method: str, error: BaseException, claim) -> None:
        """Record a call that ended without a result, and release its idempotency key (best effort:
        a database that is away leaves them to expire)."""
        state, code = _outcome(error)
        try:
            await run_in_threadpool(store.unbilled, call_id, caller.key_id, method, state, code,
                                    claim if isinstance(claim, Claim) else None)
        except errors.DATABASE_AWAY:
            log.warning("call %s (%s) could not be recorded: the database is away", call_id, code)

    @app.post("/v1/stylize", dependencies=[Depends(multipart_only)], response_class=Response,
              responses={200: IMAGES}, summary="paint one image now (one-pass methods)")
    async def stylize(request: Request, caller: CallerDep, order: OrderDep,
                      idempotency_key: IdempotencyDep = None) -> Response:
        method, call_id, claim = order.fields["method"], ledger.new_call(), None
        gone = threading.Event()
        watcher = asyncio.create_task(_watch_hangup(request, gone))
        try:
            if method not in ONE_PASS:
                raise ApiError(400, "use_jobs", f"{method} optimises for minutes: POST the same form to /v1/jobs")
            claim = await run_in_threadpool(claimed, caller, "stylize", order, idempotency_key)
            if isinstance(claim, Stored):
                headers = dict(claim.headers)
                media_type = headers.pop("content-type")
                return Response(claim.body, claim.status, headers=headers | {REPLAYED: "true"}, media_type=media_type)
            work = partial(paint, cancel=gone.is_set, serial=settings.serial(caller.key_id), signer=signer,
                           reserve=partial(store.reserve, call_id, caller.key_id, method))
            with places.held(caller.key_id):
                painted = await app.state.pool.run(work, order, limits, settings.device)
            if gone.is_set() and claim is None:
                raise Cancelled("the client hung up")
            headers = {"X-Brushwork-Method": method, "X-Brushwork-Seconds": f"{painted.seconds:.3f}",
                       "Server-Timing": f"paint;dur={painted.seconds * 1000:.1f}"}
            answer = {"status": 200, "headers": headers | {"content-type": painted.media_type}, "body": painted.data}
            if not await run_in_threadpool(store.bill, call_id, painted.megapixels, painted.seconds, claim, answer):
                raise ApiError(409, "idempotency_in_progress", "a later request with the same Idempotency-Key "
                                                               "took this one over; repeat it for its answer")
        except BaseException as error:
            await unbilled(call_id, caller, method, error, claim)
            raise
        finally:
            watcher.cancel()
        metrics.images.labels(method).inc()
        return Response(painted.data, media_type=painted.media_type, headers=headers)

    @app.post("/v1/jobs", status_code=202, dependencies=[Depends(multipart_only)], summary="queue long work")
    async def submit(caller: CallerDep, order: OrderDep, idempotency_key: IdempotencyDep = None) -> JSONResponse:
        method, call_id, claim = order.fields["method"], ledger.new_call(), None
        try:
            claim = await run_in_threadpool(claimed, caller, "jobs", order, idempotency_key)
            if isinstance(claim, Stored):
                job = await run_in_threadpool(store.job, claim.job_id, caller.key_id)
                if job is None:
                    raise ApiError(410, "deleted", f"job {claim.job_id}, made by the first request with this "
                                                   f"{idempotency.HEADER}, was deleted")
                return JSONResponse(_job_body(job), 202, headers={"Location": f"/v1/jobs/{job.id}", REPLAYED: "true"})
            if await run_in_threadpool(store.queued) >= limits.queued_jobs:
                raise ApiError(503, "busy", f"the job queue is full ({limits.queued_jobs} jobs); retry later",
                               {"Retry-After": str(RETRY_SECONDS)})
            request, _ = await anyio.to_thread.run_sync(style_request, order, limits, settings.device,
                                                        limiter=app.state.checks)
            job = await run_in_threadpool(store.add_job, call_id, caller.key_id, method, order.fields, order.uploads,
                                          megapixels(request), (limits.queued_jobs, limits.jobs_per_key), claim)
        except BaseException as error:
            await unbilled(call_id, caller, method, error, claim)
            raise
        runner.wake.set()
        return JSONResponse(_job_body(job), 202, headers={"Location": f"/v1/jobs/{job.id}"})

    def owned(job_id: str, caller: Caller) -> Job:
        job = store.job(job_id, caller.key_id)
        if job is None:
            raise ApiError(404, "not_found", f"no job {job_id!r} for this key")
        return job

    @app.get("/v1/jobs/{job_id}", summary="a job's state and progress (0..1)")
    def job_state(job_id: str, caller: CallerDep) -> dict:
        return _job_body(owned(job_id, caller))

    @app.get("/v1/jobs/{job_id}/result", response_class=Response, responses={200: IMAGES},
             summary="a finished job's image")
    def job_result(job_id: str, caller: CallerDep) -> Response:
        job = owned(job_id, caller)
        if job.state == EXPIRED:
            raise ApiError(410, "expired", f"job {job_id} finished more than {limits.result_seconds:g} s ago; "
                                           "its result was dropped")
        if job.state in (FAILED, CANCELLED):
            raise ApiError(409, job.state, f"job {job_id} is {job.state}" + (f": {job.error}" if job.error else ""))
        if job.state != DONE:
            raise ApiError(409, "not_ready", f"job {job_id} is {job.state} ({job.progress:.0%})",
                           {"Retry-After": "1"})
        return Response(store.result(job_id), media_type=job.media_type, headers={"X-Brushwork-Method": job.method})

    @app.delete("/v1/jobs/{job_id}", summary="cancel a job, or delete a finished one and its result")
    def job_cancel(job_id: str, caller: CallerDep) -> dict:
        owned(job_id, caller)
        return {"id": job_id, "state": store.cancel(job_id)}

    @app.post("/v1/verify", dependencies=[Depends(multipart_only)],
              summary="read brushwork's invisible watermark and metadata from images (not billed)")
    async def verify(_caller: CallerDep, image: Annotated[list[UploadFile], File(
            description="an image to read (repeatable)")]) -> dict:
        results = []
        for upload in image:
            data, name = await upload.read(), upload.filename or "image"
            findings = await anyio.to_thread.run_sync(
                partial(provenance.inspect, io.BytesIO(data), f"image {name!r}", limits.pixels),
                limiter=app.state.checks)
            results.append({"file": name, **findings.as_dict()})
        return {"results": results}

    @app.get("/v1/models", summary="the models this server paints with")
    def models(_caller: CallerDep) -> dict:
        return {"methods": list(ONE_PASS) + ["gatys"],
                "models": [{"name": name, "family": family or "own"} for name, family in offered_models().items()]}

    @app.get("/v1/models/{name}/thumbnail", response_class=Response, responses={200: {"content": {"image/png": {}}}},
             summary="a feed-forward style's look: a swatch painted with it (not billed)")
    async def model_thumbnail(name: str, _caller: CallerDep) -> Response:
        painted = await app.state.pool.run(thumbnail, name, settings.device)
        return Response(painted, media_type="image/png", headers={"Cache-Control": "private, max-age=86400"})

    @app.get("/v1/usage", summary="this key's billed calls, megapixels and compute seconds by day and method, "
                                  "and what its monthly quotas leave")
    def usage(caller: CallerDep) -> dict:
        return {"key": caller.name, "usage": store.usage(caller.key_id), "month": store.month(caller.key_id).as_dict()}

    @app.get("/healthz", summary="the server answers (even while every worker is busy)")
    async def healthz() -> dict:
        return {"status": "ok"}

    @app.get("/readyz", summary="the database answers and the job workers run")
    async def readyz() -> JSONResponse:
        def check() -> None:
            with store.engine.connect() as db:
                db.execute(sa.text("SELECT 1"))

        try:
            await asyncio.wait_for(run_in_threadpool(check), timeout=5)
        except Exception as error:
            return JSONResponse(errors.body("not_ready", f"the database does not answer: {type(error).__name__}"),
                                503)
        if runner.stopping.is_set():
            return JSONResponse(errors.body("not_ready", "the server is shutting down"), 503)
        return JSONResponse({"status": "ready"})

    @app.get("/metrics", response_class=Response, summary="Prometheus metrics")
    def prometheus() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app
