"""Start the gateway: `python -m api`."""

from __future__ import annotations

import uvicorn

from shared.config import get_settings


def main() -> None:
    settings = get_settings()
    uvicorn.run(
        "api.app.factory:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        log_config=None,  # our structlog setup, not uvicorn's
        access_log=False,  # api.edge.access_log writes one line per request
    )


if __name__ == "__main__":
    main()
