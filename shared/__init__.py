"""Code both the gateway and the workers import: settings, contracts, Celery app, cache keys."""

# The one place the version is written: pyproject.toml reads it from here (setuptools
# dynamic version), the API reports it in its OpenAPI document.
__version__ = "0.1.0"
