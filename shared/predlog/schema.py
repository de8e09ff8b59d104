"""The `prediction_log` table, defined once (SQLAlchemy 2 Core).

Invariants: one row per answered text; `text_hash` is the sha256 hex of the normalized
text (the cache key's digest), so rows join across models without storing the text;
`text` is NULL unless SPECTRUM_LOG_TEXTS=true; `key_id` is an API key's id, never the
key. The Alembic migrations under `shared/predlog/migrations` create exactly this table;
a change here needs a new migration.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

TABLE_NAME = "prediction_log"
SOURCES = ("predict", "job", "compare", "shadow")

metadata = MetaData()

prediction_log = Table(
    TABLE_NAME,
    metadata,
    # SQLite autoincrements only an INTEGER PRIMARY KEY, hence the variant.
    Column(
        "id",
        BigInteger().with_variant(Integer(), "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("model", String(128), nullable=False),
    Column("version", String(64), nullable=False),
    Column("label", String(64), nullable=False),
    Column("score", Float, nullable=False),
    Column("probabilities", JSON, nullable=False),
    Column("latency_ms", Float, nullable=True),
    Column("cached", Boolean, nullable=False),
    Column("truncated", Boolean, nullable=False),
    Column("source", String(16), nullable=False),
    Column("alias", String(128), nullable=True),
    Column("request_id", String(64), nullable=True),
    Column("job_id", String(64), nullable=True),
    Column("key_id", String(64), nullable=True),
    Column("text_hash", String(64), nullable=False),
    Column("text", Text, nullable=True),
    Index("ix_prediction_log_model_at", "model", "at"),
    Index("ix_prediction_log_at", "at"),
    Index("ix_prediction_log_text_hash_model", "text_hash", "model"),
)
