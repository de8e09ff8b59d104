"""The served models: GET /v1/models and the registry of live workers it reads."""
