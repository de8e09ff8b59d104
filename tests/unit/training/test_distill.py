"""Distillation: the loss, the teacher-target file and the unlabelled texts it trains on."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from training.data import (
    DEFAULT_CACHE,
    Text,
    leak_key,
    read_hard_set,
    read_vader_sets,
    vader_archive,
)
from training.distill import read_targets, text_key, write_targets
from training.splits import DEFAULT_SALT, Splits, bucket, load_splits
from training.train import NO_LABEL, NO_TARGET, distillation_loss
from training.unlabelled import unlabelled_texts


@pytest.fixture(scope="module")
def splits() -> Splits:
    return load_splits(DEFAULT_CACHE)


@pytest.fixture(scope="module")
def unlabelled(splits: Splits) -> list[Text]:
    return unlabelled_texts(splits, read_vader_sets(vader_archive(DEFAULT_CACHE)))


def test_alpha_one_is_the_cross_entropy_of_the_labelled_rows() -> None:
    logits = torch.tensor([[2.0, -1.0], [0.5, 0.2], [-3.0, 1.0]])
    target = torch.tensor([0, NO_LABEL, 1])
    teacher = torch.log_softmax(torch.randn(3, 2), dim=-1)

    got = distillation_loss(logits, target, teacher, alpha=1.0, tau=2.0)

    want = torch.nn.functional.cross_entropy(logits[[0, 2]], target[[0, 2]])
    assert math.isclose(float(got), float(want), rel_tol=1e-6)


def test_the_kl_term_is_zero_when_the_student_is_the_teacher_and_grows_apart() -> None:
    logits = torch.tensor([[1.5, -0.5], [0.1, 0.3]])
    target = torch.tensor([NO_LABEL, NO_LABEL])
    same = torch.log_softmax(logits, dim=-1)
    opposite = torch.log_softmax(-logits, dim=-1)

    assert float(distillation_loss(logits, target, same, alpha=0.0, tau=2.0)) < 1e-6
    assert float(distillation_loss(logits, target, opposite, alpha=0.0, tau=2.0)) > 0.05


def test_a_row_without_a_teacher_target_counts_in_the_cross_entropy_only() -> None:
    logits = torch.tensor([[1.5, -0.5], [0.1, 0.3], [-2.0, 2.0]])
    target = torch.tensor([NO_LABEL, NO_LABEL, 0])
    teacher = torch.log_softmax(-logits, dim=-1)
    teacher[2] = torch.tensor(NO_TARGET)

    kl_only = distillation_loss(logits, target, teacher, alpha=0.0, tau=2.0)
    ce_only = distillation_loss(logits, target, teacher, alpha=1.0, tau=2.0)

    want_kl = distillation_loss(logits[:2], target[:2], teacher[:2], alpha=0.0, tau=2.0)
    assert math.isclose(float(kl_only), float(want_kl), rel_tol=1e-6)  # the mean of rows 0, 1
    want_ce = torch.nn.functional.cross_entropy(logits[2:], target[2:])
    assert math.isclose(float(ce_only), float(want_ce), rel_tol=1e-6)
    untaught = distillation_loss(logits[2:], target[2:], teacher[2:], alpha=0.5, tau=2.0)
    assert math.isclose(float(untaught), 0.5 * float(want_ce), rel_tol=1e-6)  # no NaN


def test_targets_round_trip_and_a_missing_text_is_named(tmp_path: Path) -> None:
    path = tmp_path / "targets.json.gz"
    teacher = {"model": "t", "weights_sha256": "abc"}
    write_targets(path, teacher, {text_key("good"): [-0.1, -2.4], text_key("bad"): [-3.0, -0.05]})
    first = path.read_bytes()
    write_targets(path, teacher, {text_key("bad"): [-3.0, -0.05], text_key("good"): [-0.1, -2.4]})

    assert path.read_bytes() == first  # the same targets are the same bytes
    targets = read_targets(path)
    assert targets.teacher == teacher
    assert targets.for_texts(["bad", "good"]) == [(-3.0, -0.05), (-0.1, -2.4)]
    with pytest.raises(KeyError, match="1 of 2 training texts have no teacher target"):
        targets.for_texts(["good", "unseen"])


def test_unlabelled_texts_come_from_every_source_and_leak_nothing(
    splits: Splits, unlabelled: list[Text]
) -> None:
    sources = {t.source.split(":")[0] for t in unlabelled}
    assert sources == {"vader-mild", "rt-plots", "headlines", "augmented"}
    assert len(unlabelled) > 5_000
    held = [*splits.train, *splits.validation, *read_hard_set()]
    held += [e for items in splits.test.values() for e in items]
    held_keys = {leak_key(e.text) for e in held}
    keys = [leak_key(t.text) for t in unlabelled]
    assert not held_keys & set(keys)
    assert len(set(keys)) == len(keys)
    assert all(4 <= len(t.text.split()) <= 60 for t in unlabelled)


def test_unlabelled_texts_come_only_from_training_groups(
    splits: Splits, unlabelled: list[Text]
) -> None:
    mild = [t for t in unlabelled if t.source.startswith("vader-mild")]
    plots = [t for t in unlabelled if t.source == "rt-plots"]
    assert mild
    assert plots
    for item in mild:  # the training half, and not its validation share
        assert bucket(item.group, DEFAULT_SALT) < 0.5
        assert bucket(item.group, f"{DEFAULT_SALT}:validation") >= 0.1
    held = [*splits.validation, *(e for items in splits.test.values() for e in items)]
    held_groups = {e.group for e in held}
    train_movies = {e.group for e in splits.train if e.source == "rt"}
    assert held_groups.isdisjoint(t.group for t in [*mild, *plots])
    assert {t.group for t in plots} & train_movies
    assert all(bucket(t.group, f"{DEFAULT_SALT}:rt") >= 0.2 for t in plots)  # rt's train bucket
