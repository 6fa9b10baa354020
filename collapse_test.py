# coding=utf-8
"""Fine-tuning must not collapse when declared labels never occur in training.

Issue 19: a task declaring TNEWS's 15 labels but trained on two of them
(imbalanced, 60/40) ended at the majority class with the pooled output
saturated (|tanh| 0.95, spread across inputs 6e-5). The cause, measured on
the toy task below: with a zero output_bias the 13 absent labels start with
most of the probability; Adam moves their output_weights rows at full speed
against the mean pooled output, and their push on the encoder, the same for
every input, drives the pooled tanh to saturation (|tanh| 0.998, spread 3e-6,
dev = majority class, on 3 of 3 seeds). With output_bias starting at the
training label prior (classifier_model.label_prior_bias) the same runs reach
0.9975-1.0. This test fails on the code before the fix.

run_classifier runs in-process (finetuning.flags_namespace).
"""

import json
import logging
import os

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

import classifier_model
import classifier_test_util
import finetuning
import run_classifier

# The label set of the char groups decides the label; neutral characters are
# noise, so the encoder has to look at the characters (no length shortcut).
GROUP_100 = list("甲乙丙丁戊己庚辛")
GROUP_101 = list("子丑寅卯辰巳午未")
NEUTRAL = list("一二三四五六七八九十百千万上下左右前后东西南北中天地人山水火木金土")
VOCAB = (["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + GROUP_100 +
         GROUP_101 + NEUTRAL)
# TNEWS's 15 labels; the training file uses only the first two.
TNEWS_LABELS = ["%d" % i for i in range(100, 117) if i not in (105, 111)]
CONFIG = dict(classifier_test_util.TINY_CONFIG, vocab_size=len(VOCAB),
              intermediate_size=128, max_position_embeddings=128)


def toy_text(label, rng):
  """4-63 characters; each is a character of the label's group with
  probability 0.4, else a neutral one."""
  length = int(rng.choice([4, 8, 16, 32, 48, 60])) + rng.randint(0, 4)
  group = GROUP_100 if label == "100" else GROUP_101
  return "".join(rng.choice(group) if rng.rand() < 0.4 else
                 rng.choice(NEUTRAL) for _ in range(length))


def write_toy_task(directory, rng, num_train=1200, num_dev=400,
                   majority=0.6):
  """generic_single train.tsv / dev.tsv, labels 100 (60%) and 101 only."""
  for split, count in (("train", num_train), ("dev", num_dev)):
    with tf.io.gfile.GFile(os.path.join(directory, split + ".tsv"), "w") as f:
      for _ in range(count):
        label = "100" if rng.rand() < majority else "101"
        f.write("%s\t%s\n" % (toy_text(label, rng), label))


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
  root = str(tmp_path_factory.mktemp("collapse"))
  with open(os.path.join(root, "vocab.txt"), "w", encoding="utf-8") as f:
    f.write("\n".join(VOCAB) + "\n")
  with open(os.path.join(root, "config.json"), "w") as f:
    json.dump(CONFIG, f)
  os.makedirs(os.path.join(root, "data"))
  write_toy_task(os.path.join(root, "data"), np.random.RandomState(123))
  return root


class _Captured(logging.Handler):
  def __init__(self):
    super().__init__(logging.WARNING)
    self.messages = []

  def emit(self, record):
    self.messages.append(record.getMessage())


def majority_fraction(path):
  with open(path, encoding="utf-8") as f:
    labels = [line.rstrip("\n").split("\t")[1] for line in f]
  return max(labels.count(label) for label in set(labels)) / len(labels)


def test_absent_declared_labels_do_not_collapse_training(workspace):
  output_dir = os.path.join(workspace, "out")
  flags_obj = finetuning.flags_namespace(
      task_name="generic_single", data_dir=os.path.join(workspace, "data"),
      vocab_file=os.path.join(workspace, "vocab.txt"),
      bert_config_file=os.path.join(workspace, "config.json"),
      output_dir=output_dir, labels=TNEWS_LABELS, max_seq_length=64,
      train_batch_size=32, eval_batch_size=64, learning_rate=1e-3,
      num_train_epochs=6, save_checkpoints_steps=1000, num_gpus=0,
      do_train=True, do_eval=True, random_seed=0)
  captured = _Captured()
  tf.get_logger().addHandler(captured)
  try:
    results = run_classifier.run(flags_obj)
  finally:
    tf.get_logger().removeHandler(captured)

  majority = majority_fraction(os.path.join(workspace, "data", "dev.tsv"))
  assert 0.52 < majority < 0.65
  # Before the fix: exactly the majority fraction (0.5925), every seed.
  assert results["eval_accuracy"] > 0.9, results
  # The user is told about the 13 labels the training file never uses.
  absent = [m for m in captured.messages if "never occur" in m]
  assert len(absent) == 1 and "13 of the 15" in absent[0], captured.messages
  assert "102, 103" in absent[0] and "--labels=100,101" in absent[0]

  # The trained output_bias still ranks the absent labels far below.
  reader = tf.train.NewCheckpointReader(
      tf.train.latest_checkpoint(output_dir))
  bias = reader.get_tensor("output_bias")
  assert bias.shape == (15,)
  assert bias[2:].max() < bias[:2].min() - 4.0


def test_label_prior_bias_is_the_smoothed_log_prior():
  bias = classifier_model.label_prior_bias({"a": 6, "b": 2}, ["a", "b", "c"])
  np.testing.assert_allclose(np.exp(bias), [7 / 11, 3 / 11, 1 / 11],
                             rtol=1e-6)
  assert bias.dtype == np.float32


def test_warning_names_absent_labels_only_when_some_are(tmp_path):
  assert run_classifier.warn_absent_labels({"0": 5, "1": 3}, ["0", "1"],
                                           ["train.tsv"]) == []
  assert run_classifier.warn_absent_labels(
      {"0": 5}, ["0", "1", "2"], ["train.tsv"]) == ["1", "2"]
