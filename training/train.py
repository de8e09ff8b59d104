"""Fine-tune the MiniLM-L6 encoder as a NEGATIVE/POSITIVE sentence classifier on 2 CPU cores."""

from __future__ import annotations

import copy
import math
import random
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from training.data import LABELS, Example


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 3
    learning_rate: float = 5e-5
    warmup_share: float = 0.06
    batch_size: int = 32
    max_length: int = 64
    weight_decay: float = 0.01
    seed: int = 13
    threads: int = 2
    # bf16 autocast on CPUs with AMX roughly halves the step time;
    # master weights and the optimizer stay fp32.
    bf16_autocast: bool = False
    # Distillation (when the build has teacher targets): loss = alpha * CE(label)
    # + (1 - alpha) * tau^2 * KL(teacher || student), both at temperature tau; texts
    # without a label count in the KL term only.
    distil_alpha: float = 0.5
    distil_temperature: float = 2.0


@dataclass
class TrainReport:
    config: dict[str, Any]
    epochs: list[dict[str, Any]] = field(default_factory=list)
    best_epoch: int = 0
    seconds: float = 0.0


def set_seeds(seed: int) -> None:
    random.seed(seed)
    torch.manual_seed(seed)


def _batches(
    encoded: list[list[int]], labels: Sequence[int], batch_size: int, rng: random.Random
) -> list[list[int]]:
    """Shuffled batches of similar length: less padding, the same examples every epoch."""
    order = list(range(len(encoded)))
    rng.shuffle(order)
    chunk = batch_size * 50
    batches = []
    for start in range(0, len(order), chunk):
        window = sorted(order[start : start + chunk], key=lambda i: len(encoded[i]))
        batches += [window[i : i + batch_size] for i in range(0, len(window), batch_size)]
    rng.shuffle(batches)
    return batches


def _collate(
    ids: list[list[int]], pad_id: int, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(row) for row in ids)
    input_ids = torch.full((len(ids), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(ids), width), dtype=torch.long)
    for i, row in enumerate(ids):
        input_ids[i, : len(row)] = torch.tensor(row)
        mask[i, : len(row)] = 1
    return input_ids.to(device), mask.to(device)


@torch.inference_mode()
def predict_labels(
    model: torch.nn.Module, tokenizer: Any, texts: Sequence[str], max_length: int, batch: int = 64
) -> list[int]:
    model.eval()
    encoded = tokenizer(list(texts), truncation=True, max_length=max_length)["input_ids"]
    order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]))
    labels = [0] * len(encoded)
    device = next(model.parameters()).device
    for start in range(0, len(order), batch):
        chunk = order[start : start + batch]
        input_ids, mask = _collate([encoded[i] for i in chunk], tokenizer.pad_token_id, device)
        logits = model(input_ids=input_ids, attention_mask=mask).logits
        for i, label in zip(chunk, logits.argmax(dim=-1).tolist(), strict=True):
            labels[i] = int(label)
    return labels


def accuracy_by_source(
    model: torch.nn.Module, tokenizer: Any, examples: Sequence[Example], max_length: int
) -> dict[str, float]:
    predicted = predict_labels(model, tokenizer, [e.text for e in examples], max_length)
    hits: dict[str, list[int]] = defaultdict(list)
    for example, label in zip(examples, predicted, strict=True):
        hits[example.source].append(int(example.label == label))
        hits["all"].append(int(example.label == label))
    return {source: sum(values) / len(values) for source, values in sorted(hits.items())}


def load_classifier(encoder_dir: Path) -> tuple[Any, torch.nn.Module]:
    """The tokenizer and a NEGATIVE/POSITIVE classifier on the encoder, its head started fresh."""
    tokenizer = AutoTokenizer.from_pretrained(encoder_dir)
    model = AutoModelForSequenceClassification.from_pretrained(
        encoder_dir,
        num_labels=len(LABELS),
        id2label=dict(enumerate(LABELS)),
        label2id={label: i for i, label in enumerate(LABELS)},
        # The encoder has no head of ours yet (or one with other labels): start it fresh.
        ignore_mismatched_sizes=True,
    )
    return tokenizer, model


def make_optimizer(model: torch.nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """AdamW with no weight decay on biases and LayerNorm weights."""
    no_decay = ("bias", "LayerNorm.weight", "LayerNorm.bias")
    groups = [
        {
            "params": [p for n, p in model.named_parameters() if not n.endswith(no_decay)],
            "weight_decay": config.weight_decay,
        },
        {
            "params": [p for n, p in model.named_parameters() if n.endswith(no_decay)],
            "weight_decay": 0.0,
        },
    ]
    return torch.optim.AdamW(groups, lr=config.learning_rate)


NO_LABEL = -100  # cross_entropy's ignore_index: an unlabelled text of distillation
NO_TARGET = (math.nan, math.nan)  # the teacher row of a labelled text the teacher never saw


def distillation_loss(
    logits: torch.Tensor, target: torch.Tensor, teacher: torch.Tensor, alpha: float, tau: float
) -> torch.Tensor:
    """alpha * CE over the labelled rows + (1 - alpha) * tau^2 * KL(teacher || student).

    `teacher` holds log-probabilities; dividing them by tau before log_softmax gives
    the teacher's distribution at temperature tau. The tau^2 keeps the KL term's
    gradients on the scale of the CE term's (Hinton et al., 2015). A row of NaN
    (`NO_TARGET`: a hand-written text the teacher never saw) counts in the CE term only.
    """
    labelled = int((target != NO_LABEL).sum())
    ce = torch.nn.functional.cross_entropy(
        logits, target, ignore_index=NO_LABEL, reduction="sum"
    ) / max(1, labelled)
    taught = ~torch.isnan(teacher).any(dim=-1)
    kl = torch.nn.functional.kl_div(
        torch.log_softmax(logits[taught] / tau, dim=-1),
        torch.log_softmax(teacher[taught] / tau, dim=-1),
        log_target=True,
        reduction="sum",
    ) / max(1, int(taught.sum()))
    return alpha * ce + (1 - alpha) * tau**2 * kl


def train_step(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    input_ids: torch.Tensor,
    mask: torch.Tensor,
    target: torch.Tensor,
    bf16_autocast: bool,
    teacher: torch.Tensor | None = None,
    config: TrainConfig | None = None,
) -> float:
    """One optimizer step on one batch (gradients clipped at norm 1); the batch's loss.

    With `teacher` (log-probabilities per row), the distillation loss of `config`."""
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16_autocast):
        logits = model(input_ids=input_ids, attention_mask=mask).logits
    if teacher is None:
        loss = torch.nn.functional.cross_entropy(logits.float(), target)
    else:
        config = config or TrainConfig()
        loss = distillation_loss(
            logits.float(), target, teacher, config.distil_alpha, config.distil_temperature
        )
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return float(loss.item())


def train(
    encoder_dir: Path,
    train_set: Sequence[Example],
    validation: Sequence[Example],
    config: TrainConfig,
    *,
    progress: bool = True,
    unlabelled: Sequence[str] = (),
    teacher: Sequence[Sequence[float]] | None = None,
) -> tuple[torch.nn.Module, Any, TrainReport]:
    """Fine-tune and return the model of the epoch with the best validation accuracy.

    With `teacher` (log-probabilities, one row per training text and then one per
    `unlabelled` text), distil: the loss of `distillation_loss` on every text."""
    started = time.perf_counter()
    torch.set_num_threads(config.threads)
    set_seeds(config.seed)
    tokenizer, model = load_classifier(encoder_dir)
    device = torch.device("cpu")
    texts = [e.text for e in train_set] + list(unlabelled)
    encoded = tokenizer(texts, truncation=True, max_length=config.max_length)
    ids: list[list[int]] = encoded["input_ids"]
    labels = [e.label for e in train_set] + [NO_LABEL] * len(unlabelled)
    if teacher is None and unlabelled:
        raise ValueError("unlabelled texts train only with teacher targets")
    soft = None if teacher is None else torch.tensor(teacher, dtype=torch.float32)
    if soft is not None and len(soft) != len(ids):
        raise ValueError(f"{len(soft)} teacher rows for {len(ids)} training texts")

    optimizer = make_optimizer(model, config)
    steps_per_epoch = math.ceil(len(ids) / config.batch_size)
    total = steps_per_epoch * config.epochs
    warmup = max(1, int(total * config.warmup_share))

    def schedule(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return max(0.0, (total - step) / max(1, total - warmup))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    rng = random.Random(config.seed)
    report = TrainReport(config=asdict(config))
    best_accuracy, best_state = -1.0, copy.deepcopy(model.state_dict())
    bar = tqdm(total=total, desc="fine-tuning", unit="step", disable=not progress)
    for epoch in range(1, config.epochs + 1):
        model.train()
        losses = []
        for batch in _batches(ids, labels, config.batch_size, rng):
            input_ids, mask = _collate([ids[i] for i in batch], tokenizer.pad_token_id, device)
            target = torch.tensor([labels[i] for i in batch], device=device)
            rows = None if soft is None else soft[batch].to(device)
            loss = train_step(
                model, optimizer, input_ids, mask, target, config.bf16_autocast, rows, config
            )
            scheduler.step()
            losses.append(loss)
            bar.update(1)
            bar.set_postfix(epoch=epoch, loss=f"{sum(losses[-50:]) / len(losses[-50:]):.3f}")
        scores = accuracy_by_source(model, tokenizer, validation, config.max_length)
        report.epochs.append(
            {"epoch": epoch, "train_loss": sum(losses) / len(losses), "validation": scores}
        )
        bar.write(f"epoch {epoch}: validation accuracy {scores}")
        if scores["all"] > best_accuracy:
            best_accuracy, report.best_epoch = scores["all"], epoch
            best_state = copy.deepcopy(model.state_dict())
    bar.close()
    model.load_state_dict(best_state)
    model.eval()
    report.seconds = time.perf_counter() - started
    return model, tokenizer, report
