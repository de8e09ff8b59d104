"""Spectrum's development harness: start, watch and stop the stack's real processes.

`harness` runs and supervises child processes (`make run`, the integration tests, the
benchmarks); `private_redis` and `rabbitmq_node` start private brokers on free loopback
ports; `netns` puts workers in network namespaces; `containers` drives podman. None of
it is part of the installed server.
"""
