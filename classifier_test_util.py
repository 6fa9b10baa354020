# coding=utf-8
"""Builders shared by the classifier tests: a tiny config, vocab, toy task and
a "pretrained" checkpoint, so tests train in seconds.

The toy task is separable by construction: both texts of a pair are drawn
from one of two disjoint character groups and the label says which.
"""

import json
import os

import numpy as np
import tensorflow.compat.v1 as tf

import modeling

GROUP_0 = list("甲乙丙丁戊己庚辛")
GROUP_1 = list("子丑寅卯辰巳午未")
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + GROUP_0 + GROUP_1

TINY_CONFIG = dict(
    vocab_size=len(VOCAB), embedding_size=16, hidden_size=32,
    num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
    hidden_act="gelu", hidden_dropout_prob=0.0,
    attention_probs_dropout_prob=0.0, max_position_embeddings=64,
    type_vocab_size=2, initializer_range=0.02, ln_type="postln")


def write_vocab(directory):
  path = os.path.join(directory, "vocab.txt")
  with open(path, "w", encoding="utf-8") as f:
    f.write("\n".join(VOCAB) + "\n")
  return path


def write_config(directory, **overrides):
  """The tiny config with overrides; an override of None removes the key."""
  values = {key: value for key, value in dict(TINY_CONFIG, **overrides).items()
            if value is not None}
  path = os.path.join(directory, "albert_config.json")
  with open(path, "w", encoding="utf-8") as f:
    json.dump(values, f)
  return path


def toy_pairs(num_examples, rng):
  """[(text_a, text_b, label)] with lengths 2..12 (so batches vary)."""
  pairs = []
  for _ in range(num_examples):
    label = int(rng.randint(2))
    group = GROUP_1 if label else GROUP_0
    text_a = "".join(rng.choice(group, size=rng.randint(2, 13)))
    text_b = "".join(rng.choice(group, size=rng.randint(2, 13)))
    pairs.append((text_a, text_b, str(label)))
  return pairs


def write_toy_task(directory, rng, num_train=192, num_dev=48, num_test=24):
  """generic_pair TSV files train/dev/test.tsv; returns the test pairs."""
  os.makedirs(directory, exist_ok=True)
  splits = {"train": num_train, "dev": num_dev, "test": num_test}
  written = {}
  for split, count in splits.items():
    written[split] = toy_pairs(count, rng)
    with open(os.path.join(directory, split + ".tsv"), "w",
              encoding="utf-8") as f:
      for text_a, text_b, label in written[split]:
        f.write("%s\t%s\t%s\n" % (text_a, text_b, label))
  return written["test"]


def write_pretrained_checkpoint(directory, config_file, seed=1):
  """A randomly initialised encoder with pretraining heads (all the variables
  of a run_pretraining checkpoint), saved as directory/model.ckpt."""
  config = modeling.AlbertConfig.from_json_file(config_file)
  with tf.Graph().as_default():
    tf.set_random_seed(seed)
    input_ids = tf.zeros([1, 4], tf.int32)
    model = modeling.AlbertModel(config, False, input_ids)
    modeling.masked_lm_logits(config, model, tf.zeros([1, 1], tf.int32))
    modeling.sentence_order_logits(config, model.get_pooled_output())
    tf.train.get_or_create_global_step()
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      # Move biases and LayerNorm off their initial values so a variable that
      # fails to load shows in the outputs.
      for var in tf.global_variables():
        if "bias" in var.name or "beta" in var.name:
          sess.run(var.assign(np.random.RandomState(seed).normal(
              0.0, 0.1, var.shape.as_list()).astype(np.float32)))
      return tf.train.Saver().save(sess, os.path.join(directory, "model.ckpt"))
