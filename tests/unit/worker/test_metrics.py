"""Every spectrum_worker_* sample names the model its process serves."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest

from spectrum.worker.metrics import ModelLabelled


def test_each_sample_gets_the_model_and_one_that_names_a_model_keeps_it() -> None:
    source = CollectorRegistry()
    tasks = Counter("t_tasks", "tasks", ["state"], registry=source)
    info = Gauge("t_info", "info", ["model", "version"], registry=source)
    served = CollectorRegistry()
    labelled = ModelLabelled(source)
    served.register(labelled)
    tasks.labels(state="SUCCESS").inc(2)
    info.labels(model="card-name", version="v1").set(1)

    # Before the process knows its model, samples pass as they are.
    assert 't_tasks_total{state="SUCCESS"} 2.0' in generate_latest(served).decode()

    labelled.model = "toxicity"
    text = generate_latest(served).decode()

    assert 't_tasks_total{model="toxicity",state="SUCCESS"} 2.0' in text
    assert 't_info{model="card-name",version="v1"} 1.0' in text
    # The source itself is unchanged: a second scrape labels afresh, not twice.
    assert generate_latest(served).decode() == text
