"""Start a worker for the configured model: `python -m spectrum.worker`."""

from __future__ import annotations

import os

import spectrum.worker.tasks  # noqa: F401  (registers the tasks on `app`)
from spectrum.worker.app import app, settings


def main() -> None:
    app.worker_main(
        [
            "worker",
            # Most urgent first: with the "priority" queue order the worker always
            # takes waiting interactive work before the next bulk chunk.
            f"--queues={','.join(settings.worker_queues)}",
            f"--pool={settings.worker_pool}",
            # `<model>-<n>@<host>`: Flower groups nodes by model; unique per process,
            # as several workers may share a machine.
            f"--hostname={settings.served_model_name}-{settings.worker_index or os.getpid()}@%h",
            f"--loglevel={settings.log_level}",
            # No gossip or mingle: workers need no knowledge of each other, and
            # mingle costs a second at start waiting for replies.
            "--without-gossip",
            "--without-mingle",
        ]
    )


if __name__ == "__main__":
    main()
