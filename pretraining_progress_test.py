# coding=utf-8
"""Tests for run_pretraining's progress reports (issue 19): MLM and SOP
accuracy of the training batches in the log, and the warning when the MLM
loss sits at the unigram level."""

import logging
import types

import numpy as np
import tensorflow.compat.v1 as tf

import run_pretraining
import run_pretraining_test
from run_pretraining_test import data_dir  # pylint: disable=unused-import


class _Captured(logging.Handler):
  def __init__(self):
    super().__init__(logging.INFO)
    self.messages = []

  def emit(self, record):
    self.messages.append(record.getMessage())


def _hook(vocab_size=50, every=10, start_step=0, min_steps=100):
  with tf.Graph().as_default():
    zero = tf.constant(0.0)
    return run_pretraining.UnigramPlateauHook(
        zero, zero, zero, vocab_size, every, start_step, min_steps=min_steps)


def _feed(hook, steps, loss_fn, rng, first_step=1):
  """Feeds `steps` steps of Zipf-distributed labels; returns the steps at
  which the hook warned."""
  warned = []
  ranks = np.arange(1, 51)
  probabilities = (1.0 / ranks) / np.sum(1.0 / ranks)
  for step in range(first_step, first_step + steps):
    ids = rng.choice(50, size=64, p=probabilities)
    if hook.observe(step, loss_fn(step), ids, np.ones(64)):
      warned.append(step)
  return warned


def test_plateau_warning_fires_once_after_min_steps_at_unigram_level():
  rng = np.random.RandomState(0)
  hook = _hook()
  # Zipf over 50 ids: entropy ~3.3 nats. A loss at that level is the plateau.
  warned = _feed(hook, 400, lambda step: 3.3 + 0.05 * np.sin(step), rng)
  assert abs(hook.unigram_entropy() - 3.3) < 0.15
  # Plateau from the first window (step 0); warned once, >= 100 steps later.
  assert len(warned) == 1 and 100 <= warned[0] <= 120


def test_no_warning_when_the_loss_leaves_the_plateau_or_during_warmup():
  rng = np.random.RandomState(1)
  learning = _hook()
  # Falls below entropy - 0.5 nats by step 80.
  assert not _feed(learning, 400,
                   lambda step: max(3.3 - step / 80.0, 1.0), rng)
  in_warmup = _hook(start_step=1000)
  assert not _feed(in_warmup, 400, lambda step: 3.3, rng)
  # After warmup the plateau is timed from the first window past it.
  assert _feed(in_warmup, 200, lambda step: 3.3, rng, first_step=1001)


def test_training_log_has_batch_accuracies_and_plateau_warning(
    data_dir, tmp_path, monkeypatch):  # pylint: disable=redefined-outer-name
  # Random tokens: nothing but unigram statistics to learn, so the MLM loss
  # stays at the unigram level and the warning must fire.
  values = run_pretraining_test.flag_values(
      data_dir, tmp_path / "out", do_train=True, num_train_steps=30,
      num_warmup_steps=2, log_step_count_steps=2, save_checkpoints_steps=30,
      learning_rate=1e-3)
  captured = _Captured()
  tf.get_logger().addHandler(captured)
  # The product waits 500 steps; the test's run is 30 steps long.
  monkeypatch.setattr(run_pretraining, "PLATEAU_MIN_STEPS", 10)
  verbosity = tf.logging.get_verbosity()
  tf.logging.set_verbosity(tf.logging.INFO)
  try:
    run_pretraining.run(types.SimpleNamespace(**values))
  finally:
    tf.logging.set_verbosity(verbosity)
    tf.get_logger().removeHandler(captured)
  logged = [m for m in captured.messages if "masked_lm_accuracy = " in m]
  # One line every 2 steps, with both accuracies as numbers in [0, 1].
  assert len(logged) >= 10
  for message in logged:
    fields = dict(part.split(" = ") for part in message.split(", "))
    assert 0.0 <= float(fields["masked_lm_accuracy"]) <= 1.0
    assert 0.0 <= float(fields["sentence_order_accuracy"]) <= 1.0
  warnings = [m for m in captured.messages if "unigram level" in m]
  assert len(warnings) == 1, captured.messages[-5:]
