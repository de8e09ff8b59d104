"""The FastAPI gateway: validates, answers cache hits, hands the rest to workers."""
