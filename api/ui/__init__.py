"""The page at / that tries the API."""
