"""`make run` starts workers for every model of SPECTRUM_MODELS, the gateway's model first."""

from __future__ import annotations

from scripts.devstack import model_envs
from spectrum.shared.config import Settings


def test_every_model_gets_its_own_id_and_name_and_the_gateways_model_keeps_its_settings() -> None:
    settings = Settings(model_name="mine", runtime="openvino")
    env = {"SPECTRUM_MODEL_NAME": "mine", "SPECTRUM_RUNTIME": "openvino", "PATH": "/bin"}

    found = model_envs(settings, env)

    assert [served.served_model_name for served, _ in found] == ["mine", "toxicity", "emotion"]
    assert found[0] == (settings, env)
    for served, worker_env in found[1:]:
        assert worker_env["SPECTRUM_MODEL_ID"] == served.model_id
        # Another model's name comes from its id, its runtime from the registry.
        assert worker_env["SPECTRUM_MODEL_NAME"] == ""
        assert worker_env["SPECTRUM_RUNTIME"] == "auto"
        assert worker_env["PATH"] == "/bin"


def test_a_model_listed_twice_or_as_the_gateways_own_is_served_once() -> None:
    settings = Settings(model_id="toxicity", models="toxicity,emotion,emotion,vader")

    found = model_envs(settings, {})

    assert [served.model_id for served, _ in found] == ["toxicity", "emotion", "vader"]
