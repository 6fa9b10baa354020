# coding=utf-8
"""Shape and value tests of the v1 and v2 span heads (squad_model)."""

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

import squad_model

tf.disable_eager_execution()

BATCH, LENGTH, HIDDEN = 2, 7, 8
# Context at positions 3-5 in row 0, 2-6 in row 1.
CONTEXT_MASK = np.array([[0, 0, 0, 1, 1, 1, 0], [0, 0, 1, 1, 1, 1, 1]],
                        np.int32)


def _sequence_output(seed=0):
  return np.random.RandomState(seed).normal(
      size=[BATCH, LENGTH, HIDDEN]).astype(np.float32)


def _run(build, feeds=None, seed=3):
  with tf.Graph().as_default():
    tf.set_random_seed(seed)
    outputs = build()
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      return sess.run(outputs, feed_dict=feeds)


def _allowed():
  allowed = CONTEXT_MASK.astype(bool).copy()
  allowed[:, 0] = True
  return allowed


def test_v1_logits_masked_and_loss():
  values = _sequence_output()

  def build():
    start, end = squad_model.v1_logits(tf.constant(values),
                                       tf.constant(CONTEXT_MASK))
    loss = squad_model.v1_loss(start, end, tf.constant([3, 0]),
                               tf.constant([5, 0]))
    return start, end, loss, tf.trainable_variables()

  start, end, loss, variables = _run(build)
  assert start.shape == end.shape == (BATCH, LENGTH)
  allowed = _allowed()
  assert np.all(start[~allowed] < -1e29) and np.all(end[~allowed] < -1e29)
  weights, bias = variables
  expected = values @ weights.T + bias
  np.testing.assert_allclose(start[allowed], expected[..., 0][allowed],
                             rtol=1e-5, atol=1e-6)

  def nll(logits, position):  # masked entries add exp(-1e30) = 0
    shifted = logits - logits.max()
    return -(shifted[position] - np.log(np.exp(shifted).sum()))

  expected_loss = 0.5 * (np.mean([nll(start[0], 3), nll(start[1], 0)]) +
                         np.mean([nll(end[0], 5), nll(end[1], 0)]))
  assert loss == pytest.approx(expected_loss, rel=1e-5)


def _v2(is_training, start_positions=(3, 4), start_n_top=3, end_n_top=2):
  values = _sequence_output(1)

  def build():
    return squad_model.v2_outputs(
        tf.constant(values), tf.constant(CONTEXT_MASK), is_training,
        tf.constant(list(start_positions)), start_n_top=start_n_top,
        end_n_top=end_n_top)

  return _run(build)


def test_v2_training_outputs():
  outputs = _v2(True)
  assert outputs["start_log_probs"].shape == (BATCH, LENGTH)
  assert outputs["end_log_probs"].shape == (BATCH, LENGTH)
  assert outputs["cls_logits"].shape == (BATCH,)
  allowed = _allowed()
  for name in ("start_log_probs", "end_log_probs"):
    probs = np.exp(outputs[name])
    np.testing.assert_allclose(probs.sum(-1), 1.0, rtol=1e-5)
    assert np.all(probs[~allowed] == 0.0)


def test_v2_beam_matches_training_end_logits():
  """The end distribution of a beam start equals the one training computes
  from that start as the gold start (same variables, same seed)."""
  predicted = _v2(False, start_n_top=3, end_n_top=2)
  assert predicted["start_top_index"].shape == (BATCH, 3)
  assert predicted["end_top_index"].shape == (BATCH, 6)
  assert predicted["cls_logits"].shape == (BATCH,)
  allowed = _allowed()
  for row in range(BATCH):
    # The top starts are the allowed positions with the highest log-probs.
    assert all(allowed[row, i] for i in predicted["start_top_index"][row])
    assert np.all(np.diff(predicted["start_top_log_probs"][row]) <= 0)
  starts = predicted["start_top_index"][:, 0]
  trained = _v2(True, start_positions=starts)
  for row in range(BATCH):
    order = np.argsort(-trained["end_log_probs"][row])[:2]
    np.testing.assert_array_equal(predicted["end_top_index"][row, :2], order)
    np.testing.assert_allclose(predicted["end_top_log_probs"][row, :2],
                               trained["end_log_probs"][row][order],
                               rtol=1e-5)
  # Dropout is off (rate 0), so the answerability logit is the same.
  np.testing.assert_allclose(predicted["cls_logits"], trained["cls_logits"],
                             rtol=1e-5)


def test_v2_beam_capped_by_short_sequences():
  predicted = _v2(False, start_n_top=10, end_n_top=9)
  assert predicted["start_top_index"].shape == (BATCH, LENGTH)
  assert predicted["end_top_index"].shape == (BATCH, LENGTH * LENGTH)


def test_v2_loss_value():
  def build():
    outputs = {
        "start_log_probs": tf.math.log(tf.constant([[0.5, 0.25, 0.25],
                                                    [0.1, 0.1, 0.8]])),
        "end_log_probs": tf.math.log(tf.constant([[0.2, 0.4, 0.4],
                                                  [1.0, 1e-9, 1e-9]])),
        "cls_logits": tf.constant([0.0, 2.0])}
    return squad_model.v2_loss(outputs, tf.constant([1, 2]),
                               tf.constant([2, 0]), tf.constant([0, 1]))

  loss = _run(build)
  span = 0.5 * (-(np.log(0.25) + np.log(0.8)) / 2 +
                -(np.log(0.4) + np.log(1.0)) / 2)
  answer = (np.log(2.0) + np.log1p(np.exp(-2.0))) / 2
  assert loss == pytest.approx(span + 0.5 * answer, rel=1e-5)
