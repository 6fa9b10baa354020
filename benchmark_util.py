# coding=utf-8
"""What the fine-tuning benchmarks share: fixed against dynamic padding.

Each task benchmark (benchmark_classifier, benchmark_ner, benchmark_race)
builds records shaped like its release, writes them as the task script does,
and asks `compare_padding` for training and prediction rates with every
sequence padded to max_seq_length against batches padded to their longest
sequence. The two graphs are timed in alternating chunks so that load from
other processes affects both alike; besides wall-clock examples/sec each
runner counts examples per CPU-second of this process, which on a shared
machine measures the work itself.
"""

import dataclasses
import os
import time
from typing import Callable, Optional

from absl import flags
import tensorflow.compat.v1 as tf

import finetune_data
import shared_flags
import tokenization

_HERE = os.path.dirname(os.path.abspath(__file__))


def define_padding_flags(batch_size, train_chunks, predict_passes,
                         max_seq_length=128):
  """The flags every padding benchmark has, with its own defaults.

  The model flags (bert_config_file, vocab_file, max_seq_length) are the
  task scripts' shared ones, defaulted to the tiny config and the project's
  vocab.
  """
  shared_flags.define("bert_config_file", "vocab_file", "max_seq_length",
                      "batch_size")
  flags.FLAGS.set_default("bert_config_file", os.path.join(
      _HERE, "albert_config", "albert_config_tiny.json"))
  flags.FLAGS.set_default("vocab_file", os.path.join(_HERE, "albert_config",
                                                     "vocab.txt"))
  flags.FLAGS.set_default("max_seq_length", max_seq_length)
  flags.FLAGS.set_default("batch_size", batch_size)
  flags.DEFINE_integer("train_chunks", train_chunks,
                       "Timed training chunks per mode (train_chunk_steps "
                       "steps each).")
  flags.DEFINE_integer("train_chunk_steps", 5, "Training steps per chunk.")
  flags.DEFINE_integer("predict_passes", predict_passes,
                       "Timed prediction passes over all examples per mode.")
  flags.DEFINE_integer("seed", 12345, "Seed of the synthetic data.")


def cjk_characters(tokenizer):
  """The vocabulary's single CJK characters (to draw synthetic text from)."""
  return [token for token in tokenizer.vocab
          if len(token) == 1 and tokenization.is_chinese_char(ord(token))]


def write_records(records, spec, work_dir, name, sort_by_length=False):
  """A features file of `records` as the scripts write them; returns it."""
  return finetune_data.prepare_features_file(
      lambda stats: records, spec, name, work_dir, name,
      sort_by_length=sort_by_length).path


@dataclasses.dataclass
class Variant:
  """One side of a comparison: a task graph over one features file.

  model_fn: the task's TPUEstimator model_fn for this variant.
  features_file: the records it reads (for prediction with dynamic lengths,
    sorted by length as the scripts write dev and test).
  dynamic_length: batches padded to their longest sequence, else to
    max_seq_length.
  counters_fn: optional counters_fn(features) -> {name: scalar tensor} summed
    over the timed batches (e.g. the token positions the encoder processes).
  """
  model_fn: Callable
  features_file: str
  dynamic_length: bool
  counters_fn: Optional[Callable] = None


class PaddingRunner(object):
  """One variant's graph and session; `run_chunk` times part of its work."""

  def __init__(self, variant, spec, mode, batch_size, max_seq_length,
               fetch_key, train_chunk_steps, bucket_boundaries=None):
    self._graph = tf.Graph()
    self._is_training = mode == tf.estimator.ModeKeys.TRAIN
    self._train_chunk_steps = train_chunk_steps
    with self._graph.as_default():
      dataset = finetune_data.features_dataset(
          variant.features_file, spec, batch_size, max_seq_length,
          self._is_training, drop_remainder=False,
          dynamic_length=variant.dynamic_length,
          bucket_boundaries=bucket_boundaries)
      self._iterator = tf.data.make_initializable_iterator(dataset)
      features = self._iterator.get_next()
      estimator_spec = variant.model_fn(features, None, mode, {})
      work = (estimator_spec.train_op if self._is_training
              else estimator_spec.predictions[fetch_key])
      counters = dict(variant.counters_fn(features) if variant.counters_fn
                      else {})
      counters["examples"] = tf.shape(features[spec.length_key])[0]
      self._fetches = dict(work=work, counters=counters)
      self._session = tf.Session()
      self._session.run([tf.global_variables_initializer(),
                         self._iterator.initializer])
    self.seconds, self.cpu_seconds = 0.0, 0.0
    self.counts = {name: 0 for name in counters}
    self.run_chunk(timed=False)  # warm-up: graph optimisation, kernels

  def _step(self, counts):
    fetched = self._session.run(self._fetches)["counters"]
    for name, value in fetched.items():
      counts[name] = counts.get(name, 0) + int(value)

  def run_chunk(self, timed=True):
    """Training: train_chunk_steps steps. Prediction: one pass over the file."""
    start, cpu_start = time.time(), time.process_time()
    counts = {}
    if self._is_training:
      for _ in range(self._train_chunk_steps):
        self._step(counts)
    else:
      self._session.run(self._iterator.initializer)
      while True:
        try:
          self._step(counts)
        except tf.errors.OutOfRangeError:
          break
    if timed:
      self.seconds += time.time() - start
      self.cpu_seconds += time.process_time() - cpu_start
      for name, value in counts.items():
        self.counts[name] += value

  def rates(self):
    """{"examples/sec", "examples/cpu-sec", and each counter per example}."""
    examples = self.counts["examples"]
    rates = {"examples/sec": examples / self.seconds,
             "examples/cpu-sec": examples / self.cpu_seconds}
    for name, value in self.counts.items():
      if name != "examples":
        rates[name + "/example"] = value / examples
    return rates

  def close(self):
    self._session.close()


def compare_padding(fixed, dynamic, spec, mode, chunks, batch_size,
                    max_seq_length, fetch_key, train_chunk_steps=5,
                    bucket_boundaries=None):
  """The rates() of the (fixed, dynamic) Variants of `mode`, timed in
  alternating chunks.

  Args:
    mode: tf.estimator.ModeKeys.TRAIN or PREDICT.
    fetch_key: the prediction output fetched in PREDICT mode.
    bucket_boundaries: the training length buckets the task script uses
      (default: finetune_data's).
  """
  runners = [PaddingRunner(variant, spec, mode, batch_size, max_seq_length,
                           fetch_key, train_chunk_steps, bucket_boundaries)
             for variant in (fixed, dynamic)]
  for _ in range(chunks):
    for runner in runners:
      runner.run_chunk()
  for runner in runners:
    runner.close()
  return [runner.rates() for runner in runners]


def print_padding_table(title, rows, max_seq_length):
  """rows: [(name, fixed rates, dynamic rates)] from compare_padding."""
  print("\n" + title)
  keys = list(rows[0][1])
  header = ["%s fixed %d | dynamic | speedup" % (key, max_seq_length)
            if key.startswith("examples") else "%s fixed | dynamic" % key
            for key in keys]
  print("| | " + " | ".join(header) + " |")
  print("|---" * (1 + sum(3 if k.startswith("examples") else 2
                          for k in keys)) + "|")
  for name, fixed, dynamic in rows:
    cells = []
    for key in keys:
      cells += ["%.1f" % fixed[key], "%.1f" % dynamic[key]]
      if key.startswith("examples"):
        cells.append("%.2fx" % (dynamic[key] / fixed[key]))
    print("| %s | %s |" % (name, " | ".join(cells)))
