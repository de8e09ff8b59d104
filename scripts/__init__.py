"""Developer tooling: the local stack behind `make run`, and what the tests share with it."""
