"""Synchronous prediction: POST /v1/predict, its micro-batcher and the result waiter."""
