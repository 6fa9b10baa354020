# coding=utf-8
"""Tests of crf.py against brute-force enumeration of every tag sequence."""

import itertools

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

import crf
import ner_metrics

tf.disable_eager_execution()


def _random_potentials(rng, batch, length, num_labels):
  unary = rng.normal(0, 1.5, [batch, length, num_labels]).astype(np.float32)
  transitions = rng.normal(0, 1.0, [num_labels, num_labels]).astype(np.float32)
  start = rng.normal(0, 1.0, [num_labels]).astype(np.float32)
  end = rng.normal(0, 1.0, [num_labels]).astype(np.float32)
  return unary, transitions, start, end


def _score(unary_row, tags, transitions, start, end):
  score = start[tags[0]] + end[tags[-1]]
  score += sum(unary_row[t, tag] for t, tag in enumerate(tags))
  score += sum(transitions[a, b] for a, b in zip(tags[:-1], tags[1:]))
  return score


def _enumerate(unary_row, length, transitions, start, end):
  """{tag sequence: score} over every sequence of `length` tags."""
  num_labels = unary_row.shape[1]
  return {tags: _score(unary_row, tags, transitions, start, end)
          for tags in itertools.product(range(num_labels), repeat=length)}


def _run(fetches, feed=None):
  with tf.Session() as sess:
    return sess.run(fetches, feed)


@pytest.mark.parametrize("max_length", [1, 5])
def test_log_partition_likelihood_and_viterbi_match_enumeration(max_length):
  rng = np.random.RandomState(max_length)
  num_labels = 3
  lengths = np.array([max_length, max(max_length - 2, 1), 1, 0], np.int32)
  unary, transitions, start, end = _random_potentials(
      rng, len(lengths), max_length, num_labels)
  tags = rng.randint(num_labels, size=[len(lengths), max_length]).astype(
      np.int32)
  with tf.Graph().as_default():
    args = [tf.constant(unary), tf.constant(lengths), tf.constant(transitions),
            tf.constant(start), tf.constant(end)]
    log_z = crf.log_partition(*args)
    likelihood = crf.log_likelihood(args[0], tf.constant(tags), *args[1:])
    best_tags, best_score = crf.viterbi_decode(*args)
    log_z, likelihood, best_tags, best_score = _run(
        [log_z, likelihood, best_tags, best_score])
  for row, length in enumerate(lengths):
    if length == 0:
      assert log_z[row] == 0 and likelihood[row] == 0
      continue
    scores = _enumerate(unary[row], length, transitions, start, end)
    expected_log_z = np.logaddexp.reduce(list(scores.values()))
    np.testing.assert_allclose(log_z[row], expected_log_z, rtol=1e-5)
    gold = tuple(tags[row, :length])
    np.testing.assert_allclose(likelihood[row],
                               scores[gold] - expected_log_z, rtol=1e-4,
                               atol=1e-4)
    best = max(scores, key=scores.get)
    assert tuple(best_tags[row, :length]) == best
    np.testing.assert_allclose(best_score[row], scores[best], rtol=1e-5)
    # Past the length the last real tag repeats.
    assert all(best_tags[row, length:] == best[-1])


def _valid(labels, tags, scheme):
  """Brute-force validity: the sequence is what entities_to_tags writes for
  its own entities (a scheme's canonical form)."""
  sequence = [labels[t] for t in tags]
  entities = ner_metrics.get_entities(sequence)
  return ner_metrics.entities_to_tags(entities, len(sequence),
                                      scheme) == sequence


@pytest.mark.parametrize("scheme,labels", [
    ("bio", ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]),
    ("bioes", ["O", "B-PER", "I-PER", "E-PER", "S-PER", "S-LOC"]),
    ("bmes", ["O", "B-PER", "M-PER", "E-PER", "S-PER"]),
])
def test_constrained_viterbi_is_best_valid_sequence(scheme, labels):
  rng = np.random.RandomState(7)
  num_labels = len(labels)
  length = 4
  unary, transitions, start, end = _random_potentials(rng, 6, length,
                                                      num_labels)
  # Push the unconstrained optimum towards invalid sequences.
  for label_id, label in enumerate(labels):
    if label[0] in "IME":
      unary[:, :, label_id] += 1.5
  allowed = crf.allowed_transitions(labels, scheme)
  lengths = np.full([6], length, np.int32)
  with tf.Graph().as_default():
    potentials = crf.constrain(tf.constant(transitions), tf.constant(start),
                               tf.constant(end), allowed)
    decoded, _ = crf.viterbi_decode(tf.constant(unary), tf.constant(lengths),
                                    *potentials)
    plain, _ = crf.viterbi_decode(tf.constant(unary), tf.constant(lengths),
                                  tf.constant(transitions), tf.constant(start),
                                  tf.constant(end))
    decoded, plain = _run([decoded, plain])
  num_invalid_plain = 0
  for row in range(6):
    scores = _enumerate(unary[row], length, transitions, start, end)
    valid = {tags: score for tags, score in scores.items()
             if _valid(labels, tags, scheme)}
    assert tuple(decoded[row]) == max(valid, key=valid.get)
    num_invalid_plain += not _valid(labels, tuple(plain[row]), scheme)
  # The test means something only if the constraints changed some answers.
  assert num_invalid_plain > 0


def test_allowed_transitions_bio_and_iob1():
  labels = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
  allowed, allowed_start, allowed_end = crf.allowed_transitions(labels, "bio")
  assert not allowed[0, 2]          # O -> I-PER
  assert not allowed[3, 2]          # B-LOC -> I-PER
  assert not allowed[4, 2]          # I-LOC -> I-PER
  assert allowed[1, 2] and allowed[2, 2] and allowed[2, 3]
  assert list(allowed_start) == [True, True, False, True, False]
  assert allowed_end.all()
  allowed, allowed_start, _ = crf.allowed_transitions(labels, "iob1")
  assert allowed[0, 2] and allowed[3, 2]   # IOB1: I- may start an entity
  assert not allowed[0, 1] and allowed[2, 1]  # B-X only right after X
  assert not allowed_start[1]
  io_allowed = crf.allowed_transitions(["O", "I-PER", "I-LOC"], "io")
  assert all(mask.all() for mask in io_allowed)


def test_pack_unpack_round_trip():
  values = np.arange(2 * 5).reshape([2, 5]).astype(np.float32)
  mask = np.array([[0, 1, 0, 1, 1], [1, 0, 0, 0, 0]], np.int32)
  with tf.Graph().as_default():
    packed, lengths, order = crf.pack(tf.constant(values), tf.constant(mask))
    restored = crf.unpack(packed, order)
    packed, lengths, restored = _run([packed, lengths, restored])
  assert list(lengths) == [3, 1]
  assert list(packed[0, :3]) == [1, 3, 4]
  assert packed[1, 0] == 5
  np.testing.assert_array_equal(restored, values)
