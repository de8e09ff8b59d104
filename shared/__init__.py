"""Code both the gateway and the workers import: settings, contracts, Celery app, cache keys."""
