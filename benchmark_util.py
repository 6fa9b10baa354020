# coding=utf-8
"""What the fine-tuning benchmarks share: fixed against dynamic padding.

Each task benchmark (benchmark_classifier, benchmark_ner, benchmark_race)
builds records shaped like its release, writes them as the task script does,
and asks `compare_padding` for training and prediction examples/sec with every
sequence padded to max_seq_length against batches padded to their longest
sequence. The two graphs are timed in alternating chunks so that load from
other processes affects both alike.
"""

import time

import tensorflow.compat.v1 as tf

import finetune_data
import tokenization

# Training steps per timed chunk (and per untimed warm-up).
TRAIN_CHUNK = 5


def cjk_characters(tokenizer):
  """The vocabulary's single CJK characters (to draw synthetic text from)."""
  return [token for token in tokenizer.vocab
          if len(token) == 1 and tokenization.is_chinese_char(ord(token))]


def write_records(records, spec, work_dir, name, sort_by_length=False):
  """A features file of `records` as the scripts write them; returns it."""
  return finetune_data.prepare_features_file(
      lambda stats: records, spec, name, work_dir, name,
      sort_by_length=sort_by_length).path


class PaddingRunner(object):
  """One mode's graph over one features file; `run_chunk` times its work."""

  def __init__(self, model_fn, spec, features_file, mode, batch_size,
               max_seq_length, dynamic_length, fetch_key):
    self._graph = tf.Graph()
    self._is_training = mode == tf.estimator.ModeKeys.TRAIN
    self._batch_size = batch_size
    with self._graph.as_default():
      dataset = finetune_data.features_dataset(
          features_file, spec, batch_size, max_seq_length, self._is_training,
          drop_remainder=False, dynamic_length=dynamic_length)
      self._iterator = tf.data.make_initializable_iterator(dataset)
      estimator_spec = model_fn(self._iterator.get_next(), None, mode, {})
      self._fetch = (estimator_spec.train_op if self._is_training
                     else estimator_spec.predictions[fetch_key])
      self._session = tf.Session()
      self._session.run([tf.global_variables_initializer(),
                         self._iterator.initializer])
    self.examples, self.seconds = 0, 0.0
    self.run_chunk(timed=False)

  def run_chunk(self, timed=True):
    """Training: TRAIN_CHUNK steps. Prediction: one pass over the file."""
    start, examples = time.time(), 0
    if self._is_training:
      for _ in range(TRAIN_CHUNK):
        self._session.run(self._fetch)
      examples = TRAIN_CHUNK * self._batch_size
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


def compare_padding(model_fn, spec, fixed_file, dynamic_file, mode, chunks,
                    batch_size, max_seq_length, fetch_key):
  """(fixed, dynamic) examples/sec of `mode` ("train" or "infer").

  Args:
    model_fn: the task's TPUEstimator model_fn.
    fixed_file, dynamic_file: the features files each variant reads (for
      prediction the dynamic one is sorted by length, as the scripts write it).
    fetch_key: the prediction output fetched in PREDICT mode.
  """
  runners = [PaddingRunner(model_fn, spec, path, mode, batch_size,
                           max_seq_length, dynamic, fetch_key)
             for path, dynamic in ((fixed_file, False), (dynamic_file, True))]
  for _ in range(chunks):
    for runner in runners:
      runner.run_chunk()
  for runner in runners:
    runner.close()
  return [runner.examples / runner.seconds for runner in runners]


def print_padding_table(title, rows, max_seq_length):
  """rows: [(name, fixed, dynamic)] examples/sec, printed as a table."""
  print("\n" + title)
  print("| examples/sec | fixed %d | dynamic | speedup |" % max_seq_length)
  print("|---|---|---|---|")
  for name, fixed, dynamic in rows:
    print("| %s | %.1f | %.1f | %.2fx |" % (name, fixed, dynamic,
                                           dynamic / fixed))
