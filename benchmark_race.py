# coding=utf-8
"""Benchmark: run_race.py's dynamic batches vs fixed padding on C3-shaped input.

Measures, in one run, on the same synthetic C3-shaped questions (a context of
50 to 500 random Chinese characters, uniformly; a 5-15 character question;
2, 3 or 4 choices of 2-10 characters with probabilities 0.1, 0.2, 0.7), with
the same config and batch size:
  * training examples/sec of run_race's graph (its head on
    finetune_model.model_fn_builder, fed by finetune_data's input pipeline):
    batches drawn from length buckets, padded to their longest choice, padded
    choices not encoded -- vs. every choice padded to max_seq_length and every
    question to 4 choices (the static shapes TPUs need, --nodynamic_length);
  * prediction examples/sec, the same two ways (records sorted by length for
    the dynamic run, as run_race writes dev and test records).
Modes are timed in alternating chunks so load from other processes affects
both alike.

  python benchmark_race.py        # albert_config_tiny.json, max_seq_length 512

Not a test: it prints its figures (target: >= 2x for both).
"""

import os
import tempfile
import time

from absl import app
from absl import flags
import numpy as np
import tensorflow.compat.v1 as tf

import finetune_data
import finetune_model
import modeling
import race_utils
import run_race
import tokenization

FLAGS = flags.FLAGS
HERE = os.path.dirname(os.path.abspath(__file__))

# run_race declares --bert_config_file, --vocab_file, --max_seq_length and
# --max_qa_length; the benchmark gives them its own defaults.
FLAGS.set_default("bert_config_file", os.path.join(
    HERE, "albert_config", "albert_config_tiny.json"))
FLAGS.set_default("vocab_file", os.path.join(HERE, "albert_config",
                                             "vocab.txt"))
FLAGS.set_default("max_seq_length", 512)  # C3 contexts need 512
flags.DEFINE_integer("batch_size", 8, "Batch size for training and predict.")
flags.DEFINE_integer("train_chunks", 2,
                     "Timed training chunks per mode (train_chunk_steps each).")
flags.DEFINE_integer("train_chunk_steps", 3, "Training steps per chunk.")
flags.DEFINE_integer("num_train_examples", 256,
                     "Synthetic questions to draw training batches from.")
flags.DEFINE_integer("num_predict_examples", 48,
                     "Synthetic questions per timed prediction pass.")
flags.DEFINE_integer("predict_passes", 1,
                     "Timed prediction passes per mode.")
flags.DEFINE_integer("seed", 12345, "Seed of the synthetic data.")

CHOICE_COUNTS = (2, 3, 4)
CHOICE_COUNT_PROBABILITIES = (0.1, 0.2, 0.7)


def cjk_characters(tokenizer):
  return [token for token in tokenizer.vocab
          if len(token) == 1 and tokenization.is_chinese_char(ord(token))]


def c3_like_examples(characters, count, rng):
  """ChoiceExamples shaped like C3 (see the module docstring)."""
  def text(low, high):
    return "".join(rng.choice(characters, size=rng.randint(low, high + 1)))
  examples = []
  for index in range(count):
    num_choices = rng.choice(CHOICE_COUNTS, p=CHOICE_COUNT_PROBABILITIES)
    examples.append(race_utils.ChoiceExample(
        "b-%d" % index, [text(50, 500)], text(5, 15),
        [text(2, 10) for _ in range(num_choices)],
        label=int(rng.randint(num_choices)), subset=""))
  return examples


def write_records(examples, tokenizer, work_dir, name, sort_by_length):
  task = race_utils.get_task("c3")
  converter = race_utils.ChoiceConverter(
      task, tokenizer, FLAGS.max_seq_length,
      FLAGS.max_qa_length)
  return finetune_data.prepare_features_file(
      lambda stats: converter.records(examples, stats),
      run_race.feature_spec(task), name, work_dir, name,
      sort_by_length=sort_by_length)


def build(config, features_file, mode, dynamic_length):
  """run_race's model_fn on the input pipeline; returns (iterator, fetches):
  the train op or the probabilities, the batch size and the token positions
  the encoder processes."""
  task = race_utils.get_task("c3")
  is_training = mode == tf.estimator.ModeKeys.TRAIN
  dataset = finetune_data.features_dataset(
      features_file, run_race.feature_spec(task), FLAGS.batch_size,
      FLAGS.max_seq_length, is_training, drop_remainder=False,
      dynamic_length=dynamic_length,
      bucket_boundaries=run_race.bucket_boundaries(FLAGS.max_seq_length))
  iterator = tf.data.make_initializable_iterator(dataset)
  head_fn = run_race.head_fn_builder(task, config,
                                     skip_padded_choices=dynamic_length)
  model_fn = finetune_model.model_fn_builder(
      head_fn, config, init_checkpoint=None, learning_rate=1e-4,
      num_train_steps=1000, num_warmup_steps=0, use_tpu=False,
      use_fused_kernels=True)
  features = iterator.get_next()
  spec = model_fn(features, None, mode, {})
  shape = tf.shape(features["input_ids"])
  rows = (tf.reduce_sum(features["choice_mask"]) if dynamic_length else
          shape[0] * shape[1])
  return iterator, dict(
      work=spec.train_op if is_training else spec.predictions["probabilities"],
      examples=shape[0], tokens=rows * shape[2])


class Runner(object):
  """One mode's graph and session; `run_chunk` times part of its work in
  wall-clock and in CPU seconds of this process (the machine may be shared:
  CPU time is what the work itself costs)."""

  def __init__(self, config, features_file, mode, dynamic_length):
    self._graph = tf.Graph()
    with self._graph.as_default():
      self._iterator, self._fetches = build(config, features_file, mode,
                                            dynamic_length)
      self._session = tf.Session()
      self._session.run([tf.global_variables_initializer(),
                         self._iterator.initializer])
    self._is_training = mode == tf.estimator.ModeKeys.TRAIN
    self.examples, self.tokens, self.seconds, self.cpu_seconds = 0, 0, 0.0, 0.0
    self.run_chunk(timed=False)  # warm-up: graph optimisation, kernels

  def _run(self):
    fetched = self._session.run(self._fetches)
    return fetched["examples"], fetched["tokens"]

  def run_chunk(self, timed=True):
    """Training: train_chunk_steps steps. Prediction: one pass over the file."""
    start, cpu_start = time.time(), time.process_time()
    examples, tokens = 0, 0
    if self._is_training:
      for _ in range(FLAGS.train_chunk_steps):
        batch, batch_tokens = self._run()
        examples, tokens = examples + batch, tokens + batch_tokens
    else:
      self._session.run(self._iterator.initializer)
      while True:
        try:
          batch, batch_tokens = self._run()
        except tf.errors.OutOfRangeError:
          break
        examples, tokens = examples + batch, tokens + batch_tokens
    if timed:
      self.seconds += time.time() - start
      self.cpu_seconds += time.process_time() - cpu_start
      self.examples += examples
      self.tokens += tokens

  def rates(self):
    """(examples/sec, examples/CPU-sec, encoded tokens per example)."""
    return (self.examples / self.seconds, self.examples / self.cpu_seconds,
            self.tokens / self.examples)

  def close(self):
    self._session.close()


def compare(config, fixed_file, dynamic_file, mode, chunks):
  """The rates() of (fixed, dynamic), timed in alternating chunks."""
  runners = [Runner(config, fixed_file, mode, False),
             Runner(config, dynamic_file, mode, True)]
  for _ in range(chunks):
    for runner in runners:
      runner.run_chunk()
  for runner in runners:
    runner.close()
  return [runner.rates() for runner in runners]


def main(_):
  tf.logging.set_verbosity(tf.logging.WARN)
  config = modeling.AlbertConfig.from_json_file(FLAGS.bert_config_file)
  tokenizer = tokenization.FullTokenizer(FLAGS.vocab_file,
                                         do_lower_case=True)
  rng = np.random.RandomState(FLAGS.seed)
  characters = cjk_characters(tokenizer)
  train_examples = c3_like_examples(characters, FLAGS.num_train_examples, rng)
  predict_examples = c3_like_examples(characters, FLAGS.num_predict_examples,
                                      rng)
  work_dir = tempfile.mkdtemp(prefix="benchmark_race_")
  train_file = write_records(train_examples, tokenizer, work_dir, "train",
                             False).path
  predict_in_order = write_records(predict_examples, tokenizer, work_dir,
                                   "test", False).path
  predict_by_length = write_records(predict_examples, tokenizer, work_dir,
                                    "test_sorted", True).path

  rows = [("training", compare(config, train_file, train_file,
                               tf.estimator.ModeKeys.TRAIN,
                               FLAGS.train_chunks)),
          ("prediction", compare(config, predict_in_order, predict_by_length,
                                 tf.estimator.ModeKeys.PREDICT,
                                 FLAGS.predict_passes))]

  examples = train_examples + predict_examples
  mean_choices = np.mean([len(e.choices) for e in examples])
  mean_context = np.mean([len(e.context[0]) for e in examples])
  print("\nconfig %s, batch %d, C3-shaped questions (context mean %.0f "
        "chars, %.2f choices), %d CPU threads" % (
            os.path.basename(FLAGS.bert_config_file), FLAGS.batch_size,
            mean_context, mean_choices, os.cpu_count()))
  print("fixed = every question 4 choices x %d tokens; dynamic = real "
        "choices, padded to the batch's longest" % FLAGS.max_seq_length)
  print("| | examples/sec fixed | dynamic | speedup | examples/CPU-sec "
        "fixed | dynamic | speedup | tokens encoded/example fixed | dynamic |")
  print("|---|---|---|---|---|---|---|---|---|")
  for name, ((fixed, fixed_cpu, fixed_tokens),
             (dynamic, dynamic_cpu, dynamic_tokens)) in rows:
    print("| %s | %.2f | %.2f | %.2fx | %.2f | %.2f | %.2fx | %.0f | %.0f |" % (
        name, fixed, dynamic, dynamic / fixed, fixed_cpu, dynamic_cpu,
        dynamic_cpu / fixed_cpu, fixed_tokens, dynamic_tokens))


if __name__ == "__main__":
  app.run(main)
