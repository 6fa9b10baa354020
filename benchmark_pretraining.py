# coding=utf-8
"""Measures pretraining-step throughput and model FLOP utilisation (MFU).

For each model it builds run_pretraining's model_fn train op (LAMB, clipping,
schedule, both heads) on a fixed in-memory batch and times session steps:

  sequences/sec = batch_size * steps / seconds
  MFU = model FLOPs/sec / fp32 matmul FLOPs/sec
  HFU = executed FLOPs/sec / fp32 matmul FLOPs/sec

The denominator is measured in the same process on a 2048x2048 fp32 matmul,
after every trial; the best trial of each is reported (on a shared machine, the
one least slowed down by other processes: many short trials catch its quiet
moments). Each trial prints its pair to stderr as it ends.
Model FLOPs count 2 per multiply-add; training = 3 x forward; forward per
sequence = 2T(L(4H^2 + 2HI) + EH) + 4LT^2H + the MLM head at the masked
positions only (brightmart: H->H transform, H->E and E->V; google: H->E, E->V).
The graph computes the last block only at the masked positions and the first
token (its other outputs feed nothing), so it executes fewer FLOPs than the
model count; HFU reports utilisation by the FLOPs actually executed.

  python benchmark_pretraining.py                # tiny b32 and base b8, seq 128
  python benchmark_pretraining.py --steps=400 --trials=200  # on a shared machine
  python benchmark_pretraining.py --use_xla      # with XLA auto-clustering
  python benchmark_pretraining.py --nofused_kernels  # TensorFlow's composites
"""

import sys
import time

from absl import app
from absl import flags
import numpy as np
import tensorflow.compat.v1 as tf

import estimator_utils
import fused_ops
import modeling
import run_pretraining

FLAGS = flags.FLAGS
flags.DEFINE_list(
    "models", ["albert_config/albert_config_tiny.json:32",
               "albert_config/albert_config_base.json:8"],
    "config_path:batch_size pairs to measure.")
flags.DEFINE_integer("warmup_steps", 5, "Untimed steps (graph compilation).")
flags.DEFINE_integer("steps", 20, "Timed steps per model.")
flags.DEFINE_integer("trials", 5, "Timed trials the steps are spread over.")
flags.DEFINE_bool(
    "fused_kernels", True,
    "Use fused_ops' CPU kernels (GELU, LayerNorm, gradients, cross-entropy, "
    "LAMB), as run_pretraining does on CPU (--nofused_kernels measures "
    "TensorFlow's composites, as on GPU/TPU).")
# --max_seq_length (128), --max_predictions_per_seq (20), --optimizer and
# --use_xla are run_pretraining's flags.

MATMUL_SIZE = 2048


def session_config(use_xla):
  config = tf.ConfigProto()
  if use_xla:
    config.graph_options.optimizer_options.global_jit_level = (
        tf.OptimizerOptions.ON_1)
  return config


class MatmulPeak(object):
  """Times a chain of fp32 2048x2048 matmuls in its own graph and session."""

  def __init__(self, chain_length=10):
    self._flops = chain_length * 2.0 * MATMUL_SIZE**3
    graph = tf.Graph()
    with graph.as_default():
      a = tf.Variable(tf.random.normal([MATMUL_SIZE, MATMUL_SIZE]))
      product = tf.Variable(tf.random.normal([MATMUL_SIZE, MATMUL_SIZE]))
      # A chain keeps every product needed, so none is pruned or overlapped.
      for _ in range(chain_length):
        product = tf.matmul(a, product) * 1e-3
      self._result = tf.reduce_sum(product)
      init = tf.global_variables_initializer()
    self._sess = tf.Session(graph=graph, config=session_config(False))
    self._sess.run(init)
    self._sess.run(self._result)

  def flops_per_sec(self):
    start = time.time()
    self._sess.run(self._result)
    return self._flops / (time.time() - start)


def training_flops_per_sequence(config, seq_length, num_predictions):
  """3 x forward FLOPs of one sequence, as the issue defines them."""
  t, h, e = seq_length, config.hidden_size, config.embedding_size
  layers, inter, vocab = (config.num_hidden_layers, config.intermediate_size,
                          config.vocab_size)
  encoder = 2 * t * (layers * (4 * h * h + 2 * h * inter) + e * h)
  attention = 4 * layers * t * t * h
  if config.layout == "brightmart":
    head_macs = h * h + h * e + e * vocab
  else:
    head_macs = h * e + e * vocab
  mlm_head = 2 * num_predictions * head_macs
  return 3 * (encoder + attention + mlm_head)


def skipped_flops_per_sequence(config, seq_length, num_predictions):
  """Training FLOPs the pruned last block does not execute (3 x forward).

  At each of the T - P - 1 skipped positions the last block still projects
  keys and values, but no query, attention output or feed-forward.
  """
  t, h, inter = seq_length, config.hidden_size, config.intermediate_size
  skipped = t - num_predictions - 1
  per_position = 2 * (2 * h * h + 2 * h * inter) + 4 * t * h
  return 3 * skipped * per_position


def random_features(batch_size, seq_length, num_predictions, vocab_size):
  rng = np.random.RandomState(0)
  half = seq_length // 2
  return {
      "input_ids": tf.constant(rng.randint(1, vocab_size,
                                           (batch_size, seq_length)), tf.int32),
      "input_mask": tf.ones([batch_size, seq_length], tf.int32),
      "segment_ids": tf.constant(
          np.tile(np.arange(seq_length) >= half, (batch_size, 1)), tf.int32),
      "masked_lm_positions": tf.constant(
          np.sort(rng.randint(1, seq_length, (batch_size, num_predictions))),
          tf.int32),
      "masked_lm_ids": tf.constant(
          rng.randint(1, vocab_size, (batch_size, num_predictions)), tf.int32),
      "masked_lm_weights": tf.ones([batch_size, num_predictions], tf.float32),
      "next_sentence_labels": tf.constant(
          rng.randint(0, 2, (batch_size, 1)), tf.int32),
  }


def measure(config, batch_size, peak):
  """Times run_pretraining's training step on one fixed batch.

  Each trial times FLAGS.steps / FLAGS.trials steps and then the matmul peak.

  Returns:
    (sequences/sec, matmul FLOP/s), both the best over the trials.
  """
  steps_per_trial = max(1, FLAGS.steps // FLAGS.trials)
  rates, peaks = [], []
  with tf.Graph().as_default():
    features = random_features(batch_size, FLAGS.max_seq_length,
                               FLAGS.max_predictions_per_seq, config.vocab_size)
    model_fn = run_pretraining.model_fn_builder(
        config, init_checkpoint=None, learning_rate=1e-4,
        num_train_steps=100000, num_warmup_steps=0, use_tpu=False,
        use_one_hot_embeddings=False, optimizer=FLAGS.optimizer,
        use_fused_kernels=FLAGS.fused_kernels)
    train_op = model_fn(features, None, tf.estimator.ModeKeys.TRAIN,
                        {}).train_op
    with tf.Session(config=session_config(FLAGS.use_xla)) as sess:
      sess.run(tf.global_variables_initializer())
      for _ in range(FLAGS.warmup_steps):
        sess.run(train_op)
      for _ in range(FLAGS.trials):
        start = time.time()
        for _ in range(steps_per_trial):
          sess.run(train_op)
        rates.append(batch_size * steps_per_trial / (time.time() - start))
        peaks.append(peak.flops_per_sec())
        print("trial %d/%d: %.2f sequences/sec, matmul %.1f GFLOP/s" % (
            len(rates), FLAGS.trials, rates[-1], peaks[-1] / 1e9),
              file=sys.stderr, flush=True)
  return max(rates), max(peaks)


def main(_):
  tf.logging.set_verbosity(tf.logging.WARN)
  if FLAGS.use_xla:
    estimator_utils.enable_xla_auto_clustering()
  peak = MatmulPeak()
  if FLAGS.fused_kernels and fused_ops.library() is None:
    raise SystemExit("The fused kernels could not be built (see the warning "
                     "above); rerun with --nofused_kernels.")
  print("| model | batch | seq | XLA | fused kernels | sequences/sec | "
        "model GFLOP/s | matmul GFLOP/s | MFU | HFU |")
  print("|---|---|---|---|---|---|---|---|---|---|")
  for entry in FLAGS.models:
    config_path, batch_size = entry.rsplit(":", 1)
    config = modeling.AlbertConfig.from_json_file(config_path)
    shape = (config, FLAGS.max_seq_length, FLAGS.max_predictions_per_seq)
    model_flops = training_flops_per_sequence(*shape)
    executed_flops = model_flops - skipped_flops_per_sequence(*shape)
    rate, peak_rate = measure(config, int(batch_size), peak)
    print("| %s | %s | %d | %s | %s | %.2f | %.1f | %.1f | %.1f%% | %.1f%% |" % (
        config_path.rsplit("/", 1)[-1], batch_size, FLAGS.max_seq_length,
        "on" if FLAGS.use_xla else "off",
        "on" if FLAGS.fused_kernels else "off", rate, rate * model_flops / 1e9,
        peak_rate / 1e9, 100.0 * rate * model_flops / peak_rate,
        100.0 * rate * executed_flops / peak_rate))


if __name__ == "__main__":
  app.run(main)
