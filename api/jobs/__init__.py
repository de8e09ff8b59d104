"""Batch jobs: submit a file or a list, poll, cancel, fetch results, webhooks."""
