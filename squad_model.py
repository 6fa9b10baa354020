# coding=utf-8
"""The span-extraction heads of run_squad_v1.py and run_squad_v2.py.

v1 (BERT's): start and end logits from the sequence output, one dense layer
of two units (`cls/squad/output_weights`, `cls/squad/output_bias`, the names
google-research/albert uses). Positions outside the window's context are
masked, except [CLS] (position 0), which training windows without the answer
point at.

v2 (google-research/albert's, after XLNet), for questions that may have no
answer:
  * start logits: dense(1) of each position (masked like v1);
  * end logits: dense(H, tanh) -> LayerNorm -> dense(1) of [output at the
    position ; output at a start], the start being the gold one in training
    and each of the `start_n_top` most likely starts at prediction, of which
    the `end_n_top` best ends are kept (a beam of start_n_top * end_n_top);
  * an answerability logit: dense(H, tanh) -> dropout -> dense(1, no bias)
    of [start-probability-weighted sum of outputs ; output at [CLS]].
  Loss (albert's weighting): (start NLL + end NLL) / 2 + 0.5 * sigmoid
  cross-entropy of the answerability logit against is_impossible.

Inputs are a batch of windows of any length (dynamic shapes): the sequence
output [B, T, H] and context_mask [B, T].
"""

import tensorflow.compat.v1 as tf

import modeling

# Added to masked logits: far below any real logit, yet finite in float32 so
# log-softmax and top-k stay well defined.
_MASKED = -1e30


def answer_positions_mask(context_mask):
  """1.0 where a span may start or end: context tokens and [CLS]."""
  context_mask = tf.cast(context_mask, tf.float32)
  cls = tf.one_hot(tf.zeros_like(context_mask[:, 0], tf.int32),
                   tf.shape(context_mask)[1], dtype=tf.float32)
  return tf.maximum(context_mask, cls)


def _mask_logits(logits, allowed):
  return logits * allowed + _MASKED * (1.0 - allowed)


def _dense(inputs, units, name, initializer_range, activation=None,
           use_bias=True):
  return tf.layers.dense(
      inputs, units, activation=activation, use_bias=use_bias, name=name,
      kernel_initializer=modeling.create_initializer(initializer_range))


# ----------------------------------------------------------------------------
# v1.


def v1_logits(sequence_output, context_mask, initializer_range=0.02):
  """(start_logits, end_logits) [B, T], masked outside context and [CLS]."""
  sequence_output = tf.cast(sequence_output, tf.float32)
  hidden_size = sequence_output.shape[-1]
  with tf.variable_scope("cls/squad"):
    weights = tf.get_variable(
        "output_weights", [2, hidden_size],
        initializer=modeling.create_initializer(initializer_range))
    bias = tf.get_variable("output_bias", [2],
                           initializer=tf.zeros_initializer())
  logits = tf.einsum("bth,kh->btk", sequence_output, weights) + bias
  allowed = answer_positions_mask(context_mask)
  start_logits = _mask_logits(logits[:, :, 0], allowed)
  end_logits = _mask_logits(logits[:, :, 1], allowed)
  return start_logits, end_logits


def position_loss(logits, positions):
  """Mean softmax cross-entropy of logits [B, T] against positions [B]."""
  log_probs = tf.nn.log_softmax(logits, axis=-1)
  return -tf.reduce_mean(
      tf.gather(log_probs, positions, axis=1, batch_dims=1))


def v1_loss(start_logits, end_logits, start_positions, end_positions):
  """(start loss + end loss) / 2, as BERT's run_squad."""
  return 0.5 * (position_loss(start_logits, start_positions) +
                position_loss(end_logits, end_positions))


# ----------------------------------------------------------------------------
# v2.


def _end_logits(sequence_output, start_features, allowed, hidden_size,
                initializer_range):
  """End logits given start features.

  Args:
    sequence_output: [B, T, H].
    start_features: [B, K, H], the output at K starts per window.
    allowed: [B, T] answer_positions_mask.
  Returns:
    masked end logits [B, K, T].
  """
  seq_length = tf.shape(sequence_output)[1]
  num_starts = tf.shape(start_features)[1]
  tiled_output = tf.tile(sequence_output[:, None], [1, num_starts, 1, 1])
  tiled_starts = tf.tile(start_features[:, :, None], [1, 1, seq_length, 1])
  end_input = tf.concat([tiled_output, tiled_starts], axis=-1)
  hidden = _dense(end_input, hidden_size, "dense_0", initializer_range,
                  activation=tf.tanh)
  hidden = modeling.layer_norm(hidden)
  logits = tf.squeeze(_dense(hidden, 1, "dense_1", initializer_range), -1)
  return _mask_logits(logits, allowed[:, None])


def v2_outputs(sequence_output, context_mask, is_training, start_positions,
               start_n_top=5, end_n_top=5, initializer_range=0.02,
               dropout_prob=0.0):
  """Builds the v2 head.

  Args:
    sequence_output: [B, T, H] encoder output.
    context_mask: [B, T] 1 at context tokens.
    is_training: end logits from the gold start (start_positions [B]) with
      dropout; otherwise from the beam of top starts.
    start_n_top, end_n_top: the beam (capped at T for short batches).
    initializer_range, dropout_prob: from the ALBERT config.

  Returns:
    dict. Training: start_log_probs [B, T], end_log_probs [B, T],
    cls_logits [B]. Prediction: start_top_log_probs, start_top_index [B, K],
    end_top_log_probs, end_top_index [B, K * E] (sequence positions),
    cls_logits [B].
  """
  sequence_output = tf.cast(sequence_output, tf.float32)
  hidden_size = sequence_output.shape[-1]
  seq_length = tf.shape(sequence_output)[1]
  allowed = answer_positions_mask(context_mask)
  outputs = {}
  with tf.variable_scope("start_logits"):
    start_logits = tf.squeeze(
        _dense(sequence_output, 1, "dense", initializer_range), -1)
    start_logits = _mask_logits(start_logits, allowed)
    start_log_probs = tf.nn.log_softmax(start_logits, -1)
  with tf.variable_scope("end_logits"):
    if is_training:
      start_features = tf.gather(sequence_output, start_positions[:, None],
                                 axis=1, batch_dims=1)  # [B, 1, H]
      end_logits = _end_logits(sequence_output, start_features, allowed,
                               hidden_size, initializer_range)[:, 0]
      outputs["start_log_probs"] = start_log_probs
      outputs["end_log_probs"] = tf.nn.log_softmax(end_logits, -1)
    else:
      # A static k where the length is static (TPUs need it), else capped at
      # the batch's length (short dynamic batches).
      static_length = sequence_output.shape[1]
      if static_length is not None:
        num_starts = min(start_n_top, static_length)
        num_ends = min(end_n_top, static_length)
      else:
        num_starts = tf.minimum(start_n_top, seq_length)
        num_ends = tf.minimum(end_n_top, seq_length)
      start_top_log_probs, start_top_index = tf.nn.top_k(start_log_probs,
                                                         k=num_starts)
      start_features = tf.gather(sequence_output, start_top_index, axis=1,
                                 batch_dims=1)  # [B, K, H]
      end_logits = _end_logits(sequence_output, start_features, allowed,
                               hidden_size, initializer_range)
      end_log_probs = tf.nn.log_softmax(end_logits, -1)  # [B, K, T]
      end_top_log_probs, end_top_index = tf.nn.top_k(end_log_probs,
                                                     k=num_ends)
      batch_size = tf.shape(sequence_output)[0]
      outputs["start_top_log_probs"] = start_top_log_probs
      outputs["start_top_index"] = start_top_index
      outputs["end_top_log_probs"] = tf.reshape(end_top_log_probs,
                                                [batch_size, -1])
      outputs["end_top_index"] = tf.reshape(end_top_index, [batch_size, -1])
  with tf.variable_scope("answer_class"):
    # The start-weighted representation: no dependence on an end, so each
    # window gets one answerability logit.
    start_probs = tf.nn.softmax(start_logits, -1)
    start_summary = tf.einsum("bth,bt->bh", sequence_output, start_probs)
    cls_feature = sequence_output[:, 0]
    hidden = _dense(tf.concat([start_summary, cls_feature], -1), hidden_size,
                    "dense_0", initializer_range, activation=tf.tanh)
    if is_training and dropout_prob:
      hidden = tf.nn.dropout(hidden, rate=dropout_prob)
    outputs["cls_logits"] = tf.squeeze(
        _dense(hidden, 1, "dense_1", initializer_range, use_bias=False), -1)
  return outputs


def v2_loss(outputs, start_positions, end_positions, is_impossible):
  """albert's v2 loss: (start + end NLL) / 2 + 0.5 * answerability loss."""

  def nll(log_probs, positions):
    return -tf.reduce_mean(
        tf.gather(log_probs, positions, axis=1, batch_dims=1))

  span_loss = 0.5 * (nll(outputs["start_log_probs"], start_positions) +
                     nll(outputs["end_log_probs"], end_positions))
  answer_loss = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(
      labels=tf.cast(is_impossible, tf.float32),
      logits=outputs["cls_logits"]))
  return span_loss + 0.5 * answer_loss
