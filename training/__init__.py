"""Build the shipped sentiment model offline from registry packages."""
