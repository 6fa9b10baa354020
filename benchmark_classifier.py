# coding=utf-8
"""Benchmark: dynamic-length batches vs fixed padding, and predictor latency.

Measures, in one run and on the same LCQMC-shaped data (two questions of 5 to
20 random Chinese characters each, uniformly), with the same config:
  * training examples/sec of run_classifier's graph (classifier_model.model_fn
    on finetune_data's input pipeline), batches bucketed by length and padded
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

import benchmark_util
import classifier_data
import classifier_model
import export
import finetune_data
import modeling
import similarity
import tokenization

FLAGS = flags.FLAGS

benchmark_util.define_padding_flags(batch_size=64, train_chunks=3,
                                    predict_passes=1)
flags.DEFINE_integer("num_examples", 2048, "Synthetic pairs to batch from.")
flags.DEFINE_integer("latency_runs", 300, "Timed single-pair predictions.")

SPEC = finetune_data.FeatureSpec.classifier()


def lcqmc_like_pairs(characters, count, rng):
  """Pairs of questions with 5..20 characters each (uniform), label 0/1."""
  def question():
    return "".join(rng.choice(characters, size=rng.randint(5, 21)))
  return [classifier_data.InputExample("b-%d" % i, question(), question(),
                                       str(rng.randint(2)))
          for i in range(count)]


def compare(config, fixed_file, dynamic_file, mode, chunks):
  model_fn = classifier_model.model_fn_builder(
      config, num_labels=2, init_checkpoint=None, learning_rate=1e-4,
      num_train_steps=1000, num_warmup_steps=0, use_tpu=False)
  return benchmark_util.compare_padding(
      benchmark_util.Variant(model_fn, fixed_file, False),
      benchmark_util.Variant(model_fn, dynamic_file, True), SPEC, mode,
      chunks, FLAGS.batch_size, FLAGS.max_seq_length,
      fetch_key="probabilities", train_chunk_steps=FLAGS.train_chunk_steps)


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
      benchmark_util.cjk_characters(tokenizer), FLAGS.latency_runs + 10, rng)]
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
  examples = lcqmc_like_pairs(benchmark_util.cjk_characters(tokenizer), FLAGS.num_examples,
                              rng)
  work_dir = tempfile.mkdtemp(prefix="benchmark_classifier_")
  # As run_classifier writes them: training records in file order, prediction
  # records sorted by length when batches are dynamic.
  records = list(classifier_data.classifier_records(
      examples, ["0", "1"], FLAGS.max_seq_length, tokenizer))
  in_order, by_length = [
      benchmark_util.write_records(records, SPEC, work_dir, split,
                                   sort_by_length=split == "test")
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
  benchmark_util.print_padding_table("", rows, FLAGS.max_seq_length)
  print("\nSimilarityPredictor, one pair: median %.2f ms, p99 %.2f ms "
        "(%d runs)" % (median, p99, FLAGS.latency_runs))


if __name__ == "__main__":
  app.run(main)
