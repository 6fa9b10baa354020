# coding=utf-8
"""Held-out MLM and SOP accuracy against wall-clock minutes of pretraining.

Compares small-budget pretraining recipes on the bundled corpus
(data/sample_text_zh.txt: chapters 1-60 train, 61-65 held out, as in
run_demo.sh) on this machine's CPU. Each recipe names a config, the data it
is made with (sequence length, masking) and the optimizer settings; the
script builds the TFRecords with create_pretraining_data.py (cached in
--work_dir), trains in one process with run_pretraining's model, losses and
optimizer (fused CPU kernels included), and every --eval_every_minutes of
training evaluates the whole held-out set. Evaluation time is not counted in
the minutes; data creation is printed apart.

Held-out sets: every recipe is scored on held-out records made with its own
masking ("own"), and a recipe with other masking or lengths also on the small
recipe's (character masking, seq 64: "common"), so recipes can be compared
on one set.

  python benchmark_pretraining_recipe.py          # both recipes, up to 10 min each
  python benchmark_pretraining_recipe.py --recipes=small --minutes=3
  python benchmark_pretraining_recipe.py --recipes=small \\
      --override=learning_rate=3e-3,train_batch_size=64   # exploring
"""

import collections
import os
import subprocess
import sys
import time

from absl import app
from absl import flags
import numpy as np
import tensorflow.compat.v1 as tf

import estimator_utils
import modeling
import pretraining_input
import run_pretraining

FLAGS = flags.FLAGS

flags.DEFINE_list("recipes", ["albert_zh_tiny", "small"],
                  "Recipes to run, from RECIPES.")
flags.DEFINE_float("minutes", 10.0,
                   "Training wall-clock budget per recipe (evaluation not "
                   "counted); the learning-rate schedule is the recipe's "
                   "step count, so a run stops at whichever comes first.")
flags.DEFINE_float("eval_every_minutes", 1.0,
                   "Evaluate on the held-out set after this much training.")
flags.DEFINE_list(
    "override", [],
    "key=value settings that replace the recipe's (e.g. learning_rate=3e-3, "
    "num_train_steps=2000, config=albert_config/x.json), for exploring.")
flags.DEFINE_string("work_dir", "/tmp/albert_recipe_benchmark",
                    "Where the TFRecords are cached.")
flags.DEFINE_string("corpus_file", "data/sample_text_zh.txt",
                    "Text with blank lines between chapters.")
flags.DEFINE_integer("num_heldout_chapters", 5,
                     "Chapters at the end of the corpus held out.")
flags.DEFINE_integer("seed", 1, "Graph and data-order seed.")
flags.DEFINE_string(
    "save_dir", None,
    "If set, each recipe's final weights are saved as <save_dir>/<recipe>/"
    "model.ckpt-<step> (run_pretraining's variable names, so run_classifier "
    "can start from it with --init_checkpoint).")

# A recipe: what the model is, how its data is made, how it is optimised.
Recipe = collections.namedtuple("Recipe", [
    "config", "max_seq_length", "max_predictions_per_seq", "whole_word",
    "ngram", "dupe_factor", "optimizer", "learning_rate", "num_train_steps",
    "num_warmup_steps", "train_batch_size"])

RECIPES = {
    # albert_zh's recipe scaled down as run_demo.sh ran it before: the
    # released tiny shape (post-LN, H 312, 4 layers), seq 128, whole-word
    # n-gram masking, LAMB at 5e-3 with 10% warmup, batch 16.
    "albert_zh_tiny": Recipe(
        config="albert_config/albert_config_tiny.json", max_seq_length=128,
        max_predictions_per_seq=20, whole_word=True, ngram=3, dupe_factor=5,
        optimizer="lamb", learning_rate=5e-3, num_train_steps=1200,
        num_warmup_steps=120, train_batch_size=16),
    # The small-budget recipe (README, "Pretraining on a small budget").
    "small": Recipe(
        config="albert_config/albert_config_small_budget.json",
        max_seq_length=64, max_predictions_per_seq=10, whole_word=False,
        ngram=1, dupe_factor=10, optimizer="lamb", learning_rate=1e-2,
        num_train_steps=4000, num_warmup_steps=50, train_batch_size=32),
}


def parse_overrides(recipe, overrides):
  values = recipe._asdict()
  for item in overrides:
    key, _, value = item.partition("=")
    if key not in values:
      raise ValueError("--override: unknown key %r; keys: %s" % (
          key, ", ".join(values)))
    kind = type(values[key])
    values[key] = (value.lower() in ("1", "true") if kind is bool
                   else kind(float(value)) if kind is int else kind(value))
  return Recipe(**values)


# ----------------------------------------------------------------------------
# Data.


def split_corpus(work_dir):
  """train.txt / heldout.txt: whole chapters, the last ones held out."""
  with tf.io.gfile.GFile(FLAGS.corpus_file) as f:
    chapters = [c.strip() for c in f.read().split("\n\n") if c.strip()]
  paths = {}
  for name, part in (("train", chapters[:-FLAGS.num_heldout_chapters]),
                     ("heldout", chapters[-FLAGS.num_heldout_chapters:])):
    paths[name] = os.path.join(work_dir, name + ".txt")
    with tf.io.gfile.GFile(paths[name], "w") as f:
      f.write("\n\n".join(part) + "\n")
  return paths


def make_records(text_file, recipe, dupe_factor, work_dir):
  """Writes (once) the TFRecords of `text_file` with the recipe's masking."""
  name = "%s_seq%d_p%d_%s%d_x%d.tfrecord" % (
      os.path.basename(text_file)[:-4], recipe.max_seq_length,
      recipe.max_predictions_per_seq, "wwm" if recipe.whole_word else "char",
      recipe.ngram, dupe_factor)
  path = os.path.join(work_dir, name)
  if not tf.io.gfile.exists(path):
    start = time.time()
    subprocess.run([
        sys.executable, "create_pretraining_data.py",
        "--input_file=" + text_file, "--output_file=" + path,
        "--vocab_file=albert_config/vocab.txt", "--do_lower_case=True",
        "--max_seq_length=%d" % recipe.max_seq_length,
        "--max_predictions_per_seq=%d" % recipe.max_predictions_per_seq,
        "--masked_lm_prob=0.15", "--do_whole_word_mask=%s" % recipe.whole_word,
        "--ngram=%d" % recipe.ngram, "--dupe_factor=%d" % dupe_factor,
        "--random_seed=12345", "--num_workers=2"],
                   check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    print("  made %s in %.0f s" % (path, time.time() - start))
  return path


def load_records(path, recipe):
  """Every record of `path` as a dict of stacked numpy arrays."""
  rows = list(pretraining_input.read_pretraining_examples(
      [path], recipe.max_seq_length, recipe.max_predictions_per_seq))
  return {key: np.stack([row[key] for row in rows]) for key in rows[0]}


# ----------------------------------------------------------------------------
# Training and evaluation.


class Trainer(object):
  """run_pretraining's model, losses and train op, fed from numpy."""

  def __init__(self, recipe, seed):
    config = modeling.AlbertConfig.from_json_file(recipe.config)
    spec = pretraining_input.pretraining_feature_spec(
        recipe.max_seq_length, recipe.max_predictions_per_seq)
    self.graph = tf.Graph()
    with self.graph.as_default():
      tf.set_random_seed(seed)
      # Any length: a recipe is also scored on held-out records of another
      # sequence length (the common set, see run_recipe).
      self.inputs = {
          name: tf.placeholder(tf.float32 if feature.dtype == tf.float32
                               else tf.int32, [None] * (1 + len(feature.shape)),
                               name=name)
          for name, feature in spec.items()}
      # Dropout is 0 in every config used here, so the training graph's
      # forward pass is also the evaluation graph's.
      outputs = run_pretraining.pretraining_outputs(
          config, self.inputs, True, False, use_fused_kernels=True)
      self.train_op, _ = estimator_utils.guarded_train_op(
          outputs["total_loss"], init_lr=recipe.learning_rate,
          num_train_steps=recipe.num_train_steps,
          num_warmup_steps=recipe.num_warmup_steps, use_tpu=False,
          optimizer=recipe.optimizer, use_fused_kernels=True)
      self.eval_fetches = {
          "mlm_predictions": run_pretraining.predicted_ids(
              outputs["masked_lm_logits"]),
          "mlm_loss": outputs["masked_lm_example_loss"],
          "sop_predictions": run_pretraining.predicted_ids(
              outputs["sentence_order_logits"]),
      }
      self.session = tf.Session()
      self.session.run(tf.global_variables_initializer())
    self.num_parameters = modeling.count_parameters(
        self.graph.get_collection(tf.GraphKeys.TRAINABLE_VARIABLES))

  def save(self, directory, step):
    tf.io.gfile.makedirs(directory)
    with self.graph.as_default():
      return tf.train.Saver(tf.trainable_variables()).save(
          self.session, os.path.join(directory, "model.ckpt"),
          global_step=step)

  def feed(self, records, rows):
    return {self.inputs[name]: records[name][rows] for name in self.inputs}

  def train_step(self, records, rows):
    self.session.run(self.train_op, self.feed(records, rows))

  def evaluate(self, records, batch_size=128):
    """Held-out MLM accuracy, MLM loss and SOP accuracy over every record."""
    correct = total = loss = sop_correct = 0.0
    num_records = len(records["input_ids"])
    for start in range(0, num_records, batch_size):
      rows = np.arange(start, min(start + batch_size, num_records))
      out = self.session.run(self.eval_fetches, self.feed(records, rows))
      weights = records["masked_lm_weights"][rows].reshape(-1)
      labels = records["masked_lm_ids"][rows].reshape(-1)
      correct += np.sum((out["mlm_predictions"] == labels) * weights)
      loss += np.sum(out["mlm_loss"] * weights)
      total += np.sum(weights)
      sop_correct += np.sum(out["sop_predictions"] ==
                            records["next_sentence_labels"][rows].reshape(-1))
    return correct / total, loss / total, sop_correct / num_records


def run_recipe(name, recipe, paths):
  train_records = load_records(
      make_records(paths["train"], recipe, recipe.dupe_factor, FLAGS.work_dir),
      recipe)
  heldout = {"own": load_records(
      make_records(paths["heldout"], recipe, 4, FLAGS.work_dir), recipe)}
  # The common yardstick: the small recipe's held-out records (character
  # masking, seq 64), on which every recipe is scored too.
  common = RECIPES["small"]
  if recipe.max_seq_length >= common.max_seq_length and (
      recipe.whole_word, recipe.max_seq_length) != (
          common.whole_word, common.max_seq_length):
    heldout["common"] = load_records(
        make_records(paths["heldout"], common, 4, FLAGS.work_dir), common)
  trainer = Trainer(recipe, FLAGS.seed)
  print("\n== %s: %s\n   %d parameters, %d training records, held-out: %s" % (
      name, recipe, trainer.num_parameters, len(train_records["input_ids"]),
      ", ".join("%s %d records" % (k, len(v["input_ids"]))
                for k, v in heldout.items())))
  print("%-16s %-7s %6s %8s %9s %9s %8s" % (
      "recipe", "heldout", "step", "minutes", "mlm_acc", "mlm_loss",
      "sop_acc"))

  def report(step, seconds):
    """Prints every held-out set's scores; returns the own set's."""
    scores = {}
    for set_name, records in heldout.items():
      scores[set_name] = trainer.evaluate(records)
      print("%-16s %-7s %6d %8.2f %9.4f %9.4f %8.4f" % (
          (name, set_name, step, seconds / 60.0) + scores[set_name]))
      sys.stdout.flush()
    return scores["own"][0], scores["own"][2]

  rng = np.random.RandomState(FLAGS.seed)
  num_records = len(train_records["input_ids"])
  order = rng.permutation(num_records)
  position, step, trained_seconds = 0, 0, 0.0
  next_eval = FLAGS.eval_every_minutes * 60.0
  result, reported_step = report(0, 0.0), 0
  while step < recipe.num_train_steps and trained_seconds < FLAGS.minutes * 60:
    if position + recipe.train_batch_size > num_records:
      order, position = rng.permutation(num_records), 0
    rows = order[position:position + recipe.train_batch_size]
    position += recipe.train_batch_size
    start = time.time()
    trainer.train_step(train_records, rows)
    trained_seconds += time.time() - start
    step += 1
    if trained_seconds >= next_eval:
      result, reported_step = report(step, trained_seconds), step
      next_eval += FLAGS.eval_every_minutes * 60.0
  if step != reported_step:
    result = report(step, trained_seconds)
  if FLAGS.save_dir:
    print("  saved %s" % trainer.save(os.path.join(FLAGS.save_dir, name),
                                      step))
  return step, trained_seconds, result


def main(_):
  tf.logging.set_verbosity(tf.logging.ERROR)
  tf.io.gfile.makedirs(FLAGS.work_dir)
  paths = split_corpus(FLAGS.work_dir)
  print("load average at start: %.2f %.2f %.2f" % os.getloadavg())
  summary = []
  for name in FLAGS.recipes:
    if name not in RECIPES:
      raise ValueError("--recipes: unknown recipe %r; known: %s" % (
          name, ", ".join(RECIPES)))
    recipe = parse_overrides(RECIPES[name], FLAGS.override)
    step, seconds, (mlm_acc, sop_acc) = run_recipe(name, recipe, paths)
    summary.append((name, step, seconds, mlm_acc, sop_acc))
  print("\nload average at end: %.2f %.2f %.2f" % os.getloadavg())
  print("%-16s %6s %8s %9s %8s" % ("final", "steps", "minutes", "mlm_acc",
                                   "sop_acc"))
  for name, step, seconds, mlm_acc, sop_acc in summary:
    print("%-16s %6d %8.2f %9.4f %8.4f" % (name, step, seconds / 60.0, mlm_acc,
                                           sop_acc))


if __name__ == "__main__":
  app.run(main)
