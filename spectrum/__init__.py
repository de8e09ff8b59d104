"""Spectrum's import namespace.

The product's three packages live in the top-level folders the design names (`api/`,
`shared/`, `worker/`); the links in this folder make them `spectrum.api`,
`spectrum.shared` and `spectrum.worker`, in the checkout and in the installed wheel
alike, so that installing Spectrum adds one top-level name, `spectrum`, that cannot
collide with another distribution's `api` or `shared`.
"""
