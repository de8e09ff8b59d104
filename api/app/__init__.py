"""The app factory: builds the FastAPI app and the resources its routes share."""
