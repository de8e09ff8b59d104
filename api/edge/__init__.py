"""The edge every request passes before a route, and how errors are rendered.

Keys, rate limits, body size, the access log, admission and the last-resort handler.
"""
