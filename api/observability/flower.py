"""Flower for Spectrum's Celery app: `python -m spectrum.api.observability.flower`.

`make run` starts it beside the worker, and the compose file's flower service runs
the same command. It listens on SPECTRUM_FLOWER_HOST:SPECTRUM_FLOWER_PORT
(127.0.0.1:5555), asks for basic auth when SPECTRUM_FLOWER_BASIC_AUTH is set, and
serves its own Prometheus metrics at /metrics (open, like its pages without auth).
"""

from __future__ import annotations

import os

from spectrum.shared.celery_app import create_celery
from spectrum.shared.config import Settings, get_settings


def flower_argv(settings: Settings) -> list[str]:
    argv = [
        "flower",
        f"--address={settings.flower_host}",
        f"--port={settings.flower_port}",
        # Workers that stopped are dropped from the list (and from /metrics) after a minute.
        "--purge_offline_workers=60",
    ]
    if settings.flower_basic_auth and settings.flower_basic_auth.get_secret_value():
        argv.append(f"--basic_auth={settings.flower_basic_auth.get_secret_value()}")
    return argv


def main() -> None:
    settings = get_settings()
    if settings.flower_unauthenticated_api:
        # Flower reads this one switch from its own environment variable only.
        os.environ["FLOWER_UNAUTHENTICATED_API"] = "true"
    # Our app, so Flower speaks to the same broker with the same (JSON-only) settings.
    # The argv is ours, not the process's: the password never shows in `ps`.
    create_celery(settings).start([*flower_argv(settings)])


if __name__ == "__main__":
    main()
