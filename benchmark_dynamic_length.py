# coding=utf-8
"""Dev accuracy with dynamic-length batches against fixed padding, over seeds.

Dynamic-length training draws each batch from one length bucket, so a batch
holds examples of similar length; fixed padding batches examples in shuffled
order. This checks that the bucketing costs no accuracy, on a task of
realistic shape: the LCQMC-like pairs of make_demo_pairs.py (sentences of the
bundled novel, 2-150 characters, "is B a retelling of A"), fine-tuned from
random initialisation with the released tiny shape and the settings the demo
used to fine-tune it (learning rate 1e-4, one epoch of 4000 pairs, seq 64).
Each seed runs both modes; the script prints every run, each mode's mean and
standard deviation over seeds, and the paired difference with its standard
error (noise = the spread over seeds: initialisation and data order).

  python benchmark_dynamic_length.py                 # 3 seeds, ~10 min
  python benchmark_dynamic_length.py --seeds=1,2,3,4,5
"""

import os
import subprocess
import sys
import time

from absl import app
from absl import flags
import numpy as np
import tensorflow.compat.v1 as tf

import make_demo_pairs

FLAGS = flags.FLAGS

flags.DEFINE_list("seeds", ["1", "2", "3"], "Seeds (--random_seed) to run.")
flags.DEFINE_string("work_dir", "/tmp/albert_dynamic_length_benchmark",
                    "Where the task and the runs go.")
flags.DEFINE_string("config_file", "albert_config/albert_config_tiny.json",
                    "The model config.")
flags.DEFINE_integer("train_pairs", 4000, "Training pairs.")
flags.DEFINE_integer("dev_pairs", 1000, "Dev pairs.")
flags.DEFINE_integer("epochs", 1, "Training epochs.")
flags.DEFINE_float("learning_rate", 1e-4, "Peak learning rate.")
flags.DEFINE_integer("max_seq_length", 64, "Longest pair in tokens.")


def make_task(task_dir):
  chapters = make_demo_pairs.read_chapters("data/sample_text_zh.txt",
                                           min_chars=4)
  rng = np.random.RandomState(12345)
  tf.io.gfile.makedirs(task_dir)
  for split, part, cap in (("train", chapters[:-8], FLAGS.train_pairs),
                           ("dev", chapters[-8:], FLAGS.dev_pairs)):
    make_demo_pairs.write_pairs(os.path.join(task_dir, split + ".tsv"),
                                make_demo_pairs.make_pairs(part, rng, cap))


def dev_accuracy(output_dir):
  """The last dev evaluation's accuracy (end of training)."""
  with tf.io.gfile.GFile(os.path.join(output_dir, "eval_results.txt")) as f:
    results = dict(line.strip().split(" = ", 1) for line in f if " = " in line)
  return float(results["eval_accuracy"])


def fine_tune(task_dir, output_dir, seed, dynamic):
  command = [
      sys.executable, "run_classifier.py", "--task_name=generic_pair",
      "--data_dir=" + task_dir, "--vocab_file=albert_config/vocab.txt",
      "--albert_config_file=" + FLAGS.config_file,
      "--output_dir=" + output_dir, "--do_train", "--do_eval",
      "--max_seq_length=%d" % FLAGS.max_seq_length, "--train_batch_size=32",
      "--eval_batch_size=64", "--learning_rate=%g" % FLAGS.learning_rate,
      "--num_train_epochs=%d" % FLAGS.epochs,
      "--save_checkpoints_steps=100000", "--num_gpus=0",
      "--random_seed=%d" % seed,
      "--dynamic_length" if dynamic else "--nodynamic_length"]
  start = time.time()
  subprocess.run(command, check=True, stdout=subprocess.DEVNULL,
                 stderr=subprocess.DEVNULL,
                 env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
  return dev_accuracy(output_dir), time.time() - start


def main(_):
  task_dir = os.path.join(FLAGS.work_dir, "task")
  make_task(task_dir)
  print("load average at start: %.2f %.2f %.2f" % os.getloadavg())
  accuracies = {True: [], False: []}
  for seed in [int(s) for s in FLAGS.seeds]:
    for dynamic in (True, False):
      name = "%s_seed%d" % ("dynamic" if dynamic else "fixed", seed)
      output_dir = os.path.join(FLAGS.work_dir, name)
      if tf.io.gfile.exists(output_dir):
        tf.io.gfile.rmtree(output_dir)
      accuracy, seconds = fine_tune(task_dir, output_dir, seed, dynamic)
      accuracies[dynamic].append(accuracy)
      print("%-16s dev accuracy %.4f  (%.0f s)" % (name, accuracy, seconds))
      sys.stdout.flush()
  for dynamic in (True, False):
    values = np.array(accuracies[dynamic])
    print("%-8s mean %.4f  std %.4f  over %d seeds" % (
        "dynamic" if dynamic else "fixed", values.mean(),
        values.std(ddof=1) if len(values) > 1 else 0.0, len(values)))
  differences = np.array(accuracies[True]) - np.array(accuracies[False])
  if len(differences) > 1:
    print("dynamic - fixed: %+.4f +- %.4f (paired by seed, standard error)" % (
        differences.mean(),
        differences.std(ddof=1) / np.sqrt(len(differences))))
  print("load average at end: %.2f %.2f %.2f" % os.getloadavg())


if __name__ == "__main__":
  app.run(main)
