"""Apply the prediction log's Alembic migrations: `python -m spectrum.shared.predlog.migrate`.

The writer runs the same `upgrade` at its start, so `make run` needs no extra step;
this command is for a database that the writer should find ready (or to check one).
Alembic's own version table is `prediction_log_version`, so the log can share a
database with other applications' migrations.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from alembic import command
from alembic.config import Config

from spectrum.shared.config import get_settings
from spectrum.shared.predlog.db import engine_for

MIGRATIONS = Path(__file__).with_name("migrations")
VERSION_TABLE = "prediction_log_version"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # ConfigParser interpolation: a URL's % (percent-encoding) must be doubled.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at `url` to `revision` (idempotent)."""
    engine = engine_for(url)
    try:
        with engine.begin() as connection:
            config = alembic_config(url)
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    finally:
        engine.dispose()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--url", help="database URL (default: SPECTRUM_DATABASE_URL)")
    args = parser.parse_args(argv)
    url = args.url or get_settings().database_url
    upgrade(url)
    print(f"prediction log migrated: {engine_for(url).url.render_as_string(hide_password=True)}")


if __name__ == "__main__":
    main()
