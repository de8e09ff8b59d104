"""Open Inference Protocol v2 (KServe V2) over REST, beside /v1."""
