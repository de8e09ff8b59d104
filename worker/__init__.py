"""Celery workers: load the model once per process and classify batches."""
