# coding=utf-8
"""Benchmark: dynamic-length batches vs fixed padding, and predictor latency.

Measures, in one run and on the same LCQMC-shaped data (two questions of 5 to
20 random Chinese characters each, uniformly), with the same config:
  * training examples/sec of run_classifier's graph (classifier_model.model_fn
    on classifier_data's input pipeline), batches bucketed by length and padded
    to their longest example vs. every example padded to max_seq_length;
  * prediction examples/sec, the same two ways;
  * SimilarityPredictor latency for one pair (median and p99), from a
    SavedModel written by export.py.

  python benchmark_classifier.py                  # tiny config, 2 CPU cores
  python benchmark_classifier.py --bert_config_file=albert_config/albert_config_base.json

Not a test: it prints its figures (targets: >= 3x for both speedups, median
latency < 10 ms with the tiny config).
"""

import os
import tempfile
import time

from absl import app
from absl import flags
import numpy as np
import tensorflow.compat.v1 as tf

import classifier_data
import classifier_model
import export
import modeling
import similarity
import tokenization

FLAGS = flags.FLAGS
HERE = os.path.dirname(os.path.abspath(__file__))

flags.DEFINE_string("bert_config_file",
                    os.path.join(HERE, "albert_config", "albert_config_tiny.json"),
                    "Model config to benchmark.")
flags.DEFINE_string("vocab_file", os.path.join(HERE, "albert_config",
                                               "vocab.txt"),
                    "Vocab; its single CJK characters make the questions.")
flags.DEFINE_integer("max_seq_length", 128, "Fixed padding length compared.")
flags.DEFINE_integer("batch_size", 64, "Batch size for training and predict.")
flags.DEFINE_integer("train_chunks", 3,
                     "Timed training chunks of 5 steps per mode.")
flags.DEFINE_integer("predict_passes", 1,
                     "Timed prediction passes over all examples per mode.")
flags.DEFINE_integer("num_examples", 2048, "Synthetic pairs to batch from.")
flags.DEFINE_integer("latency_runs", 300, "Timed single-pair predictions.")
flags.DEFINE_integer("seed", 12345, "Seed of the synthetic questions.")

# Training steps per timed chunk (and untimed warm-up).
_TRAIN_CHUNK = 5


def lcqmc_like_pairs(characters, count, rng):
  """Pairs of questions with 5..20 characters each (uniform), label 0/1."""
  def question():
    return "".join(rng.choice(characters, size=rng.randint(5, 21)))
  return [classifier_data.InputExample("b-%d" % i, question(), question(),
                                       str(rng.randint(2)))
          for i in range(count)]


def cjk_characters(tokenizer):
  return [token for token in tokenizer.vocab
          if len(token) == 1 and tokenization.is_chinese_char(ord(token))]


def build(config, features_file, mode, dynamic_length):
  """The model_fn's graph on the input pipeline; returns the fetch tensor."""
  is_training = mode == tf.estimator.ModeKeys.TRAIN
  dataset = classifier_data.features_dataset(
      features_file, FLAGS.batch_size, FLAGS.max_seq_length, is_training,
      drop_remainder=False, dynamic_length=dynamic_length)
  iterator = tf.data.make_initializable_iterator(dataset)
  model_fn = classifier_model.model_fn_builder(
      config, num_labels=2, init_checkpoint=None, learning_rate=1e-4,
      num_train_steps=1000, num_warmup_steps=0, use_tpu=False)
  spec = model_fn(iterator.get_next(), None, mode, {})
  fetch = spec.train_op if is_training else spec.predictions["probabilities"]
  return iterator, fetch


class Runner(object):
  """One mode's graph and session; `run_chunk` times part of its work."""

  def __init__(self, config, features_file, mode, dynamic_length):
    self._graph = tf.Graph()
    with self._graph.as_default():
      self._iterator, self._fetch = build(config, features_file, mode,
                                          dynamic_length)
      self._session = tf.Session()
      self._session.run([tf.global_variables_initializer(),
                         self._iterator.initializer])
    self._is_training = mode == tf.estimator.ModeKeys.TRAIN
    self.examples, self.seconds = 0, 0.0
    self.run_chunk(timed=False)

  def run_chunk(self, timed=True):
    """Training: 5 steps. Prediction: one full pass over the file."""
    start, examples = time.time(), 0
    if self._is_training:
      for _ in range(_TRAIN_CHUNK):
        self._session.run(self._fetch)
      examples = _TRAIN_CHUNK * FLAGS.batch_size
    else:
      self._session.run(self._iterator.initializer)
      while True:
        try:
          examples += len(self._session.run(self._fetch))
        except tf.errors.OutOfRangeError:
          break
    if timed:
      self.seconds += time.time() - start
      self.examples += examples

  def close(self):
    self._session.close()


def compare(config, fixed_file, dynamic_file, mode, chunks):
  """(fixed, dynamic) examples/sec, timed in alternating chunks so that load
  from other processes affects both alike."""
  runners = [Runner(config, fixed_file, mode, False),
             Runner(config, dynamic_file, mode, True)]
  for _ in range(chunks):
    for runner in runners:
      runner.run_chunk()
  for runner in runners:
    runner.close()
  return [runner.examples / runner.seconds for runner in runners]


def random_classifier_checkpoint(config, directory):
  with tf.Graph().as_default():
    input_ids = tf.placeholder(tf.int32, [None, None])
    classifier_model.create_model(config, False, input_ids, input_ids,
                                  input_ids, None, 2)
    tf.train.get_or_create_global_step()
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      return tf.train.Saver().save(sess, os.path.join(directory, "model.ckpt"))


def time_predictor(config, tokenizer, work_dir, rng):
  checkpoint = random_classifier_checkpoint(config, work_dir)
  saved_model = export.export_classifier(
      config, checkpoint, ["0", "1"], os.path.join(work_dir, "export"),
      [FLAGS.vocab_file, None], True, FLAGS.max_seq_length)
  predictor = similarity.SimilarityPredictor(saved_model)
  pairs = [(e.text_a, e.text_b) for e in lcqmc_like_pairs(
      cjk_characters(tokenizer), FLAGS.latency_runs + 10, rng)]
  for pair in pairs[:10]:
    predictor.predict_pair(*pair)
  latencies = []
  for pair in pairs[10:]:
    start = time.perf_counter()
    predictor.predict_pair(*pair)
    latencies.append((time.perf_counter() - start) * 1000.0)
  predictor.close()
  return np.median(latencies), np.percentile(latencies, 99)


def main(_):
  tf.logging.set_verbosity(tf.logging.WARN)
  config = modeling.AlbertConfig.from_json_file(FLAGS.bert_config_file)
  tokenizer = tokenization.FullTokenizer(FLAGS.vocab_file, do_lower_case=True)
  rng = np.random.RandomState(FLAGS.seed)
  examples = lcqmc_like_pairs(cjk_characters(tokenizer), FLAGS.num_examples,
                              rng)
  work_dir = tempfile.mkdtemp(prefix="benchmark_classifier_")
  # As run_classifier writes them: training records in file order, prediction
  # records sorted by length when batches are dynamic.
  in_order, by_length = [classifier_data.prepare_features_file(
      lambda: examples, "benchmark", work_dir, split, ["0", "1"],
      FLAGS.max_seq_length, tokenizer, sort_by_length=split == "test").path
                         for split in ("train", "test")]
  mean_tokens = np.mean([len(e.text_a) + len(e.text_b) + 3 for e in examples])

  rows = []
  for name, mode, chunks, dynamic_file in (
      ("training", tf.estimator.ModeKeys.TRAIN, FLAGS.train_chunks, in_order),
      ("prediction", tf.estimator.ModeKeys.PREDICT, FLAGS.predict_passes,
       by_length)):
    rows.append((name,) + tuple(compare(config, in_order, dynamic_file, mode,
                                        chunks)))
  median, p99 = time_predictor(config, tokenizer, work_dir, rng)

  print("\nconfig %s, batch %d, LCQMC-shaped pairs (mean %.1f tokens), %d "
        "CPU threads" % (os.path.basename(FLAGS.bert_config_file),
                         FLAGS.batch_size, mean_tokens, os.cpu_count()))
  print("| examples/sec | fixed %d | dynamic | speedup |" %
        FLAGS.max_seq_length)
  print("|---|---|---|---|")
  for name, fixed, dynamic in rows:
    print("| %s | %.1f | %.1f | %.2fx |" % (name, fixed, dynamic,
                                           dynamic / fixed))
  print("\nSimilarityPredictor, one pair: median %.2f ms, p99 %.2f ms "
        "(%d runs)" % (median, p99, FLAGS.latency_runs))


if __name__ == "__main__":
  app.run(main)
