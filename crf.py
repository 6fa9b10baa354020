# coding=utf-8
"""A linear-chain CRF in TensorFlow graph ops (run_ner.py --use_crf).

Potentials: per-token label scores `unary` [batch, time, num_labels] (the
model's logits), a learned `transitions` [num_labels, num_labels] matrix
(from -> to), and learned `start`/`end` scores [num_labels] for the first and
the last label of a sequence. Sequences have their own lengths; positions at or
past a sequence's length take no part.

  * `log_likelihood`: log p(tags | unary) = score(tags) - log Z (forward
    algorithm in log space), the training objective.
  * `viterbi_decode`: the best label sequence (max-product, backtracking).
  * `allowed_transitions` + `constrain`: what a tag scheme forbids (`I-X`
    after `O` or after another type in BIO; in BIOES, `B-X`/`I-X` must go on
    with `I-X`/`E-X` and nothing may end on them), turned into large
    negative scores added at decode time, so Viterbi never returns a sequence
    the scheme cannot write. Training keeps the unconstrained potentials: a
    window of an over-long sentence may legitimately start with `I-X`.
  * `pack` / `unpack`: move the labelled positions of each row (the first
    piece of every word) to the front, so the chain links consecutive words
    and not word pieces or [CLS]/[SEP].

Written for tf.compat.v1 graph mode; no tensorflow_addons.
"""

import numpy as np
import tensorflow.compat.v1 as tf

import ner_metrics

# Added to forbidden transitions at decode time. Finite, so a row of
# forbidden scores still has a defined maximum (never NaN), and far below any
# score a trained model produces.
FORBIDDEN_SCORE = -10000.0


def create_parameters(num_labels, scope="crf"):
  """The CRF's variables: transitions [N, N], start [N], end [N] (zeros).

  Reused when called again in a graph (the loss and the decoder share them).
  """
  with tf.variable_scope(scope, reuse=tf.AUTO_REUSE):
    zeros = tf.zeros_initializer()
    transitions = tf.get_variable("transitions", [num_labels, num_labels],
                                  initializer=zeros)
    start = tf.get_variable("start_scores", [num_labels], initializer=zeros)
    end = tf.get_variable("end_scores", [num_labels], initializer=zeros)
  return transitions, start, end


def _time_major(tensor):
  """[batch, time, ...] -> [time, batch, ...]."""
  rank = tensor.shape.ndims
  return tf.transpose(tensor, [1, 0] + list(range(2, rank)))


def _step_mask(lengths, max_length):
  """[time - 1, batch] bool: whether step t + 1 is inside each sequence."""
  mask = tf.sequence_mask(lengths, max_length)
  return _time_major(mask[:, 1:])


def sequence_score(unary, tags, lengths, transitions, start, end):
  """Unnormalised score of `tags` [B, T] (int32) under the potentials; [B]."""
  max_length = tf.shape(unary)[1]
  num_labels = tf.shape(unary)[2]
  mask = tf.sequence_mask(lengths, max_length, dtype=unary.dtype)
  emitted = tf.gather(unary, tags, batch_dims=2)  # [B, T]
  unary_score = tf.reduce_sum(emitted * mask, axis=1)
  flat_pairs = tags[:, :-1] * num_labels + tags[:, 1:]
  pair_scores = tf.gather(tf.reshape(transitions, [-1]), flat_pairs)
  transition_score = tf.reduce_sum(pair_scores * mask[:, 1:], axis=1)
  last_index = tf.maximum(lengths - 1, 0)
  last_tags = tf.gather(tags, last_index[:, None], batch_dims=1)[:, 0]
  boundary = tf.gather(start, tags[:, 0]) + tf.gather(end, last_tags)
  score = unary_score + transition_score + boundary
  return tf.where(lengths > 0, score, tf.zeros_like(score))


def log_partition(unary, lengths, transitions, start, end):
  """log Z: log-sum-exp of the scores of every tag sequence; [B]."""
  max_length = tf.shape(unary)[1]
  alpha = unary[:, 0] + start[None]

  def step(previous, inputs):
    emit, inside = inputs
    scores = previous[:, :, None] + transitions[None]  # [B, from, to]
    current = tf.reduce_logsumexp(scores, axis=1) + emit
    return tf.where(inside, current, previous)

  elems = (_time_major(unary[:, 1:]), _step_mask(lengths, max_length))
  # foldl returns the initializer when the sequences have one step.
  alpha = tf.foldl(step, elems, initializer=alpha)
  log_z = tf.reduce_logsumexp(alpha + end[None], axis=1)
  return tf.where(lengths > 0, log_z, tf.zeros_like(log_z))


def log_likelihood(unary, tags, lengths, transitions, start, end):
  """log p(tags | unary) per sequence, [B] (0 for empty sequences)."""
  return (sequence_score(unary, tags, lengths, transitions, start, end) -
          log_partition(unary, lengths, transitions, start, end))


def viterbi_decode(unary, lengths, transitions, start, end):
  """Best tag sequences [B, T] (int32; past a length, the last tag repeats)
  and their scores [B]."""
  max_length = tf.shape(unary)[1]
  num_labels = tf.shape(unary)[2]
  batch_size = tf.shape(unary)[0]
  identity = tf.tile(tf.range(num_labels)[None], [batch_size, 1])

  def step(carry, inputs):
    previous, _ = carry
    emit, inside = inputs
    scores = previous[:, :, None] + transitions[None]  # [B, from, to]
    best_from = tf.argmax(scores, axis=1, output_type=tf.int32)
    current = tf.reduce_max(scores, axis=1) + emit
    # Past a sequence's end the score is carried unchanged and every tag
    # points to itself, so backtracking copies the last real tag.
    return (tf.where(inside, current, previous),
            tf.where(inside, best_from, identity))

  first = unary[:, 0] + start[None]
  elems = (_time_major(unary[:, 1:]), _step_mask(lengths, max_length))
  scores, backpointers = tf.scan(step, elems, initializer=(first, identity))
  final = tf.concat([first[None], scores], axis=0)[-1] + end[None]
  best_last = tf.argmax(final, axis=1, output_type=tf.int32)
  best_score = tf.reduce_max(final, axis=1)

  def back(next_tag, pointers):
    return tf.gather(pointers, next_tag[:, None], batch_dims=1)[:, 0]

  earlier = tf.scan(back, backpointers, initializer=best_last, reverse=True)
  tags = tf.concat([earlier, best_last[None]], axis=0)
  return tf.transpose(tags), best_score


def allowed_transitions(labels, scheme):
  """What a tag scheme allows, as numpy bool arrays.

  Args:
    labels: tag strings in label-id order.
    scheme: one of ner_metrics.SCHEMES.

  Returns:
    (allowed [N, N] from -> to, allowed_start [N], allowed_end [N]).
  """
  scheme = ner_metrics.check_scheme(scheme)
  parsed = [ner_metrics.parse_tag(label) for label in labels]
  num_labels = len(labels)
  allowed = np.ones([num_labels, num_labels], bool)
  allowed_start = np.ones([num_labels], bool)
  allowed_end = np.ones([num_labels], bool)
  for to, (to_prefix, to_type) in enumerate(parsed):
    for source, (from_prefix, from_type) in enumerate(parsed):
      continues = from_prefix in ("B", "I") and from_type == to_type
      if scheme == "bio" and to_prefix == "I":
        allowed[source, to] = continues
      elif scheme == "iob1" and to_prefix == "B":
        # IOB1 writes B-X only to separate X from a preceding X.
        allowed[source, to] = continues
      elif scheme in ("bioes", "bmes"):
        if from_prefix in ("B", "I"):
          allowed[source, to] = continues and to_prefix in ("I", "E")
        else:
          allowed[source, to] = to_prefix in ("B", "S", ner_metrics.OUTSIDE)
    if scheme == "bio" and to_prefix == "I":
      allowed_start[to] = False
    if scheme == "iob1" and to_prefix == "B":
      allowed_start[to] = False
    if scheme in ("bioes", "bmes"):
      allowed_start[to] = to_prefix in ("B", "S", ner_metrics.OUTSIDE)
      allowed_end[to] = to_prefix in ("E", "S", ner_metrics.OUTSIDE)
  return allowed, allowed_start, allowed_end


def constrain(transitions, start, end, allowed):
  """Potentials with FORBIDDEN_SCORE added where `allowed` (the triple of
  allowed_transitions) says no."""
  def penalty(mask):
    return tf.constant(np.where(mask, 0.0, FORBIDDEN_SCORE), tf.float32)
  allowed_pairs, allowed_start, allowed_end = allowed
  return (transitions + penalty(allowed_pairs), start + penalty(allowed_start),
          end + penalty(allowed_end))


def pack(values, mask):
  """Moves each row's masked positions to the front, in order.

  Args:
    values: [B, T, ...] tensor.
    mask: [B, T] 0/1 (int or float) tensor.

  Returns:
    (packed [B, T, ...], lengths [B] int32, order [B, T]); `unpack` with the
    same `order` puts packed values back in place.
  """
  mask = tf.cast(mask, tf.int32)
  max_length = tf.shape(mask)[1]
  # Masked positions sort by position, then unmasked ones after them.
  keys = (1 - mask) * max_length + tf.range(max_length)[None]
  order = tf.argsort(keys, axis=1, stable=True)
  packed = tf.gather(values, order, batch_dims=1)
  return packed, tf.reduce_sum(mask, axis=1), order


def unpack(packed, order):
  """Inverse of `pack`: values back at their original positions."""
  inverse = tf.argsort(order, axis=1)
  return tf.gather(packed, inverse, batch_dims=1)
