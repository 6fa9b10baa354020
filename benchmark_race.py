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
both alike. Besides wall-clock examples/sec it prints examples per CPU-second
of this process (on a shared machine the wall clock mostly measures the other
processes) and the token positions encoded per example, which the speedup
follows.

  python benchmark_race.py        # albert_config_tiny.json, max_seq_length 512

Not a test: it prints its figures (target: >= 2x for both).
"""

import os
import tempfile

from absl import app
from absl import flags
import numpy as np
import tensorflow.compat.v1 as tf

import benchmark_util
import finetune_data
import finetune_model
import modeling
import race_utils
import run_race
import tokenization

FLAGS = flags.FLAGS

# C3 contexts need 512 positions.
benchmark_util.define_padding_flags(batch_size=8, train_chunks=6,
                                    predict_passes=6, max_seq_length=512)
FLAGS.set_default("train_chunk_steps", 2)
flags.DEFINE_integer("num_train_examples", 256,
                     "Synthetic questions to draw training batches from.")
flags.DEFINE_integer("num_predict_examples", 16,
                     "Synthetic questions per timed prediction pass.")

CHOICE_COUNTS = (2, 3, 4)
CHOICE_COUNT_PROBABILITIES = (0.1, 0.2, 0.7)


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


def compare(config, fixed_file, dynamic_file, mode, chunks):
  """The rates of (fixed, dynamic): fixed pads every question to 4 choices of
  max_seq_length tokens; dynamic encodes only real choices, padded to the
  batch's longest."""
  task = race_utils.get_task("c3")

  def variant(path, dynamic):
    head_fn = run_race.head_fn_builder(task, config,
                                       skip_padded_choices=dynamic)
    model_fn = finetune_model.model_fn_builder(
        head_fn, config, init_checkpoint=None, learning_rate=1e-4,
        num_train_steps=1000, num_warmup_steps=0, use_tpu=False,
        use_fused_kernels=True)

    def counters(features):
      shape = tf.shape(features["input_ids"])
      rows = (tf.reduce_sum(features["choice_mask"]) if dynamic else
              shape[0] * shape[1])
      return {"tokens encoded": rows * shape[2]}

    return benchmark_util.Variant(model_fn, path, dynamic, counters)

  return benchmark_util.compare_padding(
      variant(fixed_file, False), variant(dynamic_file, True),
      run_race.feature_spec(task), mode, chunks, FLAGS.batch_size,
      FLAGS.max_seq_length, fetch_key="probabilities",
      train_chunk_steps=FLAGS.train_chunk_steps,
      bucket_boundaries=run_race.bucket_boundaries(FLAGS.max_seq_length))


def main(_):
  tf.logging.set_verbosity(tf.logging.WARN)
  config = modeling.AlbertConfig.from_json_file(FLAGS.bert_config_file)
  tokenizer = tokenization.FullTokenizer(FLAGS.vocab_file,
                                         do_lower_case=True)
  rng = np.random.RandomState(FLAGS.seed)
  characters = benchmark_util.cjk_characters(tokenizer)
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

  try:
    rows = [("training", compare(config, train_file, train_file,
                                 tf.estimator.ModeKeys.TRAIN,
                                 FLAGS.train_chunks)),
            ("prediction", compare(config, predict_in_order,
                                   predict_by_length,
                                   tf.estimator.ModeKeys.PREDICT,
                                   FLAGS.predict_passes))]
  finally:
    tf.io.gfile.rmtree(work_dir)

  examples = train_examples + predict_examples
  mean_choices = np.mean([len(e.choices) for e in examples])
  mean_context = np.mean([len(e.context[0]) for e in examples])
  print("\nconfig %s, batch %d, C3-shaped questions (context mean %.0f "
        "chars, %.2f choices), %d CPU threads" % (
            os.path.basename(FLAGS.bert_config_file), FLAGS.batch_size,
            mean_context, mean_choices, os.cpu_count()))
  print("fixed = every question 4 choices x %d tokens; dynamic = real "
        "choices, padded to the batch's longest" % FLAGS.max_seq_length)
  benchmark_util.print_padding_table("", [
      (name, fixed, dynamic) for name, (fixed, dynamic) in rows],
                                      FLAGS.max_seq_length)

if __name__ == "__main__":
  app.run(main)
