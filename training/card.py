"""The model card's Markdown: MODEL_CARD.md rendered from the fields of model_card.json.

training/build.py writes the whole card; training/evaluate.py merges a new evaluation
into it and renders it again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from training.written import MAX_OVERLAP


def calibration_section(card: dict[str, Any]) -> str:
    calibration = card.get("calibration")
    if not calibration:
        return ""
    figures = " ".join(
        f"![reliability on {name}](reliability/{file})"
        for name, file in calibration["figures"].items()
    )
    return f"""
## Calibration

Served probabilities are the softmax of logits x margin^(exponent - 1) / T (margin:
the top logit less the second, so a two-label margin m is served as m^exponent / T)
with **T = {calibration["temperature"]:.3f}** and **exponent
{calibration.get("exponent", 1.0):.2f}** (1 is plain temperature scaling), stored in
`calibration.json` and applied by every runtime that serves the model
(`worker/runtimes/batching.py`); both were fitted on the validation split alone by
least negative log-likelihood, each of its sources weighing the same (it is 71%
Rotten Tomatoes). Labels never change with the calibration, only how sure they
are. ECE: {calibration["bins"]} equal-width bins of the top-class probability;
the goal is 0.03 or less on every set, and a set above it is marked. The chance
column is the median ECE a perfectly calibrated model would show on as many
texts: a set's ECE near it cannot tell calibration from luck. One calibration
serves every set, so where the model is right at different rates for the same
score (the hard set's sarcasm), no map of the score can suit them all; the bins
behind each figure are in `model_card.json` (`calibration.reliability`).

{calibration["table"]}

Reliability diagrams (orange: as trained, blue: calibrated; the dashed diagonal
is perfect calibration; below it, bars are the texts per bin):

{figures}
"""


def distillation_line(card: dict[str, Any]) -> str:
    distillation = card.get("distillation") or {}
    if not distillation.get("used"):
        return "Trained on the labels alone (no teacher)."
    teacher = distillation["teacher"]
    sources = ", ".join(f"{k} {v}" for k, v in distillation["unlabelled"].items())
    return (
        f"Distilled from **{teacher['model']}** (weights sha256 "
        f"`{str(teacher['weights_sha256'])[:16]}...`, its soft labels at T = 1 from "
        f"{teacher['runtime']}, `{distillation['targets']}`): loss = "
        f"{distillation['alpha']} x cross-entropy on the labels + "
        f"{1 - distillation['alpha']:g} x tau^2 x KL(teacher || student) at tau = "
        f"{distillation['temperature']}, over the labelled split and "
        f"{sum(distillation['unlabelled'].values())} unlabelled texts, read or made "
        f"(training/unlabelled.py: {sources})."
    )


def hard2_note(card: dict[str, Any]) -> str:
    if "hard2" not in card.get("test_accuracy", {}):
        return ""  # a card from before the second round
    return (
        " `hard2` is its second round\n(`training/sets/hard2.jsonl`), written after the "
        "training sentences and kept clear\nof their wording."
    )


def hard_caveat(card: dict[str, Any]) -> str:
    if not (card.get("written") or {}).get("texts"):
        return ""
    return (
        " This model also trained on the hand-written sentences of\n"
        "`training/sets/written.jsonl`: the same phenomena by the same kind of author (no\n"
        f"text shares more than {MAX_OVERLAP:.0%} of its words with a hard-set one), so its\n"
        "`hard` figures are an optimistic measure of those phenomena; `hard2` is the\n"
        "fresher test."
    )


def written_line(card: dict[str, Any]) -> str:
    written = card.get("written") or {}
    if not written.get("texts"):
        return ""
    phenomena = ", ".join(f"{k} {v}" for k, v in written["phenomena"].items())
    return (
        f"\nAlso {written['texts']} hand-written sentences (`{written['file']}`: {phenomena}), "
        f"each {written['repeat']} times, on their labels alone (training/written.py)."
    )


def hard_section(card: dict[str, Any]) -> str:
    hard = card.get("hard_set")
    if not hard:
        return ""
    return f"""
## The hard set

{hard["table"]}

The most confident of its {hard["mistakes"]} mistakes:

{hard["mistakes_table"]}
"""


def write_card_markdown(card: dict[str, Any], path: Path) -> None:
    training = card["training"]
    sources = list(training["epochs"][0]["validation"]) if training["epochs"] else []
    curve = "\n".join(
        f"| {e['epoch']} | {e['train_loss']:.4f} | "
        + " | ".join(f"{e['validation'][s]:.3f}" for s in sources)
        + " |"
        for e in training["epochs"]
    )
    data = "\n".join(
        f"- **{d['name']}**: {d['origin']} ({d['licence']}); sha256 `{d['sha256'][:16]}...`"
        for d in card["data"]
    )
    splits = ", ".join(f"{k} {v}" for k, v in card["splits"].items())
    hyper = ", ".join(f"{k}={v}" for k, v in card["hyperparameters"].items())
    encoder = card["encoder"]
    upstream = ""
    if "upstream" in encoder:
        upstream = (
            f": the weights of {encoder['upstream']}, reassembled from the parts and checked "
            f"by sha256 `{encoder['source']['weights_sha256'][:16]}...` "
            "(training/teacher_source.py)"
        )
    default = card["default_runtime"]
    text = f"""# {card["name"]}

{card["summary"]}

Labels: {", ".join(card["labels"])}. Fastest on the build machine: **{default["name"]}**
({default["why"]}). The worker serves it as **{card["served_runtime"]}** here: OpenVINO
when it is installed, bf16 only where the CPU has AMX, fp32 elsewhere.

Rebuild: `{card["command"]}` · evaluate: `make eval` ·
calibrate (and this card's figures): `make calibrate`

## Test accuracy (held-out, looked at once)

{card["accuracy_table"]}

Intervals are 95% Wilson intervals. `hard` is the hand-written hard set
(`training/sets/hard.jsonl`, how it was written: `training/sets/HARD.md`), never
used for training, validation or any choice of model.{hard2_note(card)}{hard_caveat(card)}
{calibration_section(card)}{hard_section(card)}
## Data

{data}

Splits (texts): {splits}.
Rotten Tomatoes is split by movie; every VADER set in halves by tweet, product or
article (train half: |rating| > 0.5, test half: |rating| > 1, labelled by sign);
VADER movie snippets that also occur in Rotten Tomatoes are left out, and a check
fails the build if any test text occurs in training.

## Training

Encoder `{encoder["package"]}` {encoder["version"]} ({encoder["licence"]}){upstream}.
Hyper-parameters: {hyper}.
{distillation_line(card)}{written_line(card)}
Best epoch on validation: {training["best_epoch"]};
{training["seconds"]:.0f} s on the build machine.

| epoch | train loss | {" | ".join(f"val {s}" for s in sources)} |
|---|---:|{"---:|" * len(sources)}
{curve}

## Runtimes on the build machine

{card["runtime_table"]}

Versions: {", ".join(f"{k} {v}" for k, v in card["versions"].items())}.
"""
    path.write_text(text, encoding="utf-8")
