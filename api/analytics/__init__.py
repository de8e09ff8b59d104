"""Analytics over the prediction log: volume, latency, keys, A/B agreement, drift, export."""
