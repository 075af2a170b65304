"""The same app as a Ray Serve deployment: each replica builds the app (and loads its models) once,
and all of them share one database (give several machines a PostgreSQL URL)."""

from __future__ import annotations

from .app import create_app
from .settings import Settings


def serve_on_ray(
    settings: Settings, host: str, port: int, replicas: int | str, address: str | None = None,
    gpus_per_replica: float = 0.0,
) -> None:
    """Serve on a local Ray (``address`` None) or the cluster at ``address`` until interrupted;
    ``replicas`` a number, or ``auto`` for Ray Serve's autoscaling."""
    import ray
    from ray import serve

    ray.init(address=address, include_dashboard=False, ignore_reinit_error=True, logging_level="ERROR")
    serve.start(http_options={"host": host, "port": port})
    ingress = serve.ingress(lambda: create_app(settings))()
    deployment = serve.deployment(ingress, name="brushwork", num_replicas=replicas, ray_actor_options={
        "num_cpus": 1, "num_gpus": gpus_per_replica})
    try:
        serve.run(deployment.bind(), name="brushwork", route_prefix="/", blocking=True)
    except KeyboardInterrupt:
        serve.shutdown()
    finally:
        ray.shutdown()
