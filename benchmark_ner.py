# coding=utf-8
"""Benchmark: run_ner's dynamic-length batches vs fixed padding to 128.

Measures, in one run and on the same MSRA-shaped data (sentences of 10 to 100
random Chinese characters, uniformly, one tag per character with PER/LOC/ORG
entities in BIO), with the same config and head (softmax, or the CRF with
--use_crf):
  * training examples/sec of run_ner's graph (its head in finetune_model's
    model_fn, on finetune_data's input pipeline), batches drawn from length
    buckets and padded to their longest sentence vs. every sentence padded to
    --max_seq_length;
  * prediction examples/sec, the same two ways (dynamic: records sorted by
    length, as run_ner stores dev/test records).
Timed in alternating chunks, each mode's best chunk reported, so load from
other processes distorts the comparison as little as possible.

  python benchmark_ner.py                 # tiny config, softmax head
  python benchmark_ner.py --use_crf

Not a test: it prints its figures (target: >= 3x for both).
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
import fused_ops
import modeling
import ner_data
import ner_metrics
import run_ner
import tokenization

FLAGS = flags.FLAGS

benchmark_util.define_padding_flags(batch_size=32, train_chunks=4,
                                    predict_passes=3)
flags.DEFINE_integer("num_examples", 1024, "Synthetic sentences.")

_TYPES = ("PER", "LOC", "ORG")


def msra_like_examples(characters, count, rng):
  """Sentences of 10..100 characters with entities of 2..4 characters."""
  examples = []
  for index in range(count):
    length = rng.randint(10, 101)
    entities, position = [], int(rng.randint(0, 5))
    while position + 4 < length:
      size = int(rng.randint(2, 5))
      entities.append((_TYPES[rng.randint(3)], position, position + size))
      position += size + int(rng.randint(3, 15))
    words = list(rng.choice(characters, size=length))
    tags = ner_metrics.entities_to_tags(entities, length, "bio")
    examples.append(ner_data.NerExample("b-%d" % index, words, tags))
  return examples


def compare(config, tagger, fixed_path, dynamic_path, mode, chunks):
  """(fixed, dynamic) rates of benchmark_util.compare_padding."""
  model_fn = finetune_model.model_fn_builder(
      run_ner.head_fn_builder(tagger), config, init_checkpoint=None,
      learning_rate=1e-4, num_train_steps=1000, num_warmup_steps=0,
      use_fused_kernels=fused_ops.library() is not None)
  return benchmark_util.compare_padding(
      benchmark_util.Variant(model_fn, fixed_path, False),
      benchmark_util.Variant(model_fn, dynamic_path, True), run_ner.SPEC,
      mode, chunks, FLAGS.batch_size, FLAGS.max_seq_length,
      fetch_key="tag_ids", train_chunk_steps=FLAGS.train_chunk_steps)


def main(_):
  tf.logging.set_verbosity(tf.logging.WARN)
  config = modeling.AlbertConfig.from_json_file(FLAGS.bert_config_file)
  tokenizer = tokenization.FullTokenizer(FLAGS.vocab_file, do_lower_case=True)
  rng = np.random.RandomState(FLAGS.seed)
  examples = msra_like_examples(benchmark_util.cjk_characters(tokenizer), FLAGS.num_examples,
                                rng)
  labels = ner_metrics.labels_for_scheme(_TYPES, "bio")
  label_map = {label: i for i, label in enumerate(labels)}
  tagger = run_ner.Tagger(config, labels, "bio", FLAGS.use_crf)
  work_dir = tempfile.mkdtemp(prefix="benchmark_ner_")
  # As run_ner writes them: training records in file order, prediction
  # records sorted by length when batches are dynamic.
  in_order, by_length = [finetune_data.prepare_features_file(
      lambda stats: ner_data.example_records(examples, tokenizer, label_map,
                                             FLAGS.max_seq_length, stats),
      run_ner.SPEC, "benchmark", work_dir, split,
      sort_by_length=split == "test") for split in ("train", "test")]
  mean_tokens = np.mean([len(e.words) + 2 for e in examples])
  rows = []
  for name, mode, chunks, dynamic_file in (
      ("training", tf.estimator.ModeKeys.TRAIN, FLAGS.train_chunks, in_order),
      ("prediction", tf.estimator.ModeKeys.PREDICT, FLAGS.predict_passes,
       by_length)):
    rows.append((name,) + tuple(compare(config, tagger, in_order.path,
                                        dynamic_file.path, mode, chunks)))
  print("\nconfig %s, %s head, batch %d, MSRA-shaped sentences (10-100 "
        "characters, mean %.1f tokens; %d sentences, %d longer than "
        "max_seq_length split into windows), %d CPU threads" % (
            os.path.basename(FLAGS.bert_config_file),
            "CRF" if FLAGS.use_crf else "softmax", FLAGS.batch_size,
            mean_tokens, len(examples),
            in_order.stats.get("split_sentences", 0), os.cpu_count()))
  benchmark_util.print_padding_table("", rows, FLAGS.max_seq_length)

if __name__ == "__main__":
  app.run(main)
