"""The prediction log: one row per answered text, appended to a Redis stream off the
request path and inserted into SQL (SQLite by default, PostgreSQL by URL) by a writer."""
