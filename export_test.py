# coding=utf-8
"""Export round trips: the SavedModel and the TF-Hub module give the same
outputs as the checkpoints they were made from."""

import json
import os

import numpy as np
import pytest
import tensorflow.compat.v1 as tf
import tensorflow_hub as hub

import classifier_model
import classifier_test_util
import export
import modeling

LABELS = ["a", "b", "c"]


def _inputs(rng, config, lengths=(5, 9, 3)):
  """Padded int32 inputs with the given real lengths."""
  batch, longest = len(lengths), max(lengths)
  input_ids = rng.randint(5, config.vocab_size, size=[batch, longest])
  input_mask = np.zeros([batch, longest], np.int32)
  segment_ids = np.zeros([batch, longest], np.int32)
  for row, length in enumerate(lengths):
    input_mask[row, :length] = 1
    segment_ids[row, length // 2:length] = 1
  input_ids = (input_ids * input_mask).astype(np.int32)
  return input_ids, input_mask, segment_ids


@pytest.fixture(scope="module")
def space(tmp_path_factory):
  root = str(tmp_path_factory.mktemp("export"))
  config_file = classifier_test_util.write_config(root)
  config = modeling.AlbertConfig.from_json_file(config_file)
  pretrained = os.path.join(root, "pretrained")
  os.makedirs(pretrained)
  classifier = os.path.join(root, "classifier")
  os.makedirs(classifier)
  return dict(
      root=root, config=config,
      vocab_file=classifier_test_util.write_vocab(root),
      pretrained=classifier_test_util.write_pretrained_checkpoint(
          pretrained, config_file),
      classifier=write_classifier_checkpoint(classifier, config))


def write_classifier_checkpoint(directory, config):
  """A classifier checkpoint (as run_classifier saves) with random weights."""
  with tf.Graph().as_default():
    tf.set_random_seed(3)
    input_ids = tf.placeholder(tf.int32, [None, None])
    classifier_model.create_model(config, False, input_ids, input_ids,
                                  input_ids, None, len(LABELS))
    step = tf.train.get_or_create_global_step()
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      sess.run(step.assign(7))
      return tf.train.Saver().save(sess, os.path.join(directory, "model.ckpt"),
                                   global_step=7)


def checkpoint_logits(config, checkpoint, inputs):
  with tf.Graph().as_default():
    placeholders = [tf.placeholder(tf.int32, [None, None]) for _ in range(3)]
    _, _, logits, _ = classifier_model.create_model(
        config, False, *placeholders, None, len(LABELS))
    with tf.Session() as sess:
      tf.train.Saver().restore(sess, checkpoint)
      return sess.run(logits, dict(zip(placeholders, inputs)))


def test_saved_model_gives_checkpoint_logits(space, tmp_path):
  config = space["config"]
  base = str(tmp_path / "classifier")
  path = export.export_classifier(config, space["classifier"], LABELS, base,
                                  [space["vocab_file"], None], True, 32)
  assert path == os.path.join(base, "7")
  assert export.latest_saved_model(base) == path
  inputs = _inputs(np.random.RandomState(0), config)
  expected = checkpoint_logits(config, space["classifier"], inputs)

  with tf.Graph().as_default() as graph, tf.Session() as sess:
    meta_graph = tf.saved_model.loader.load(sess, ["serve"], path)
    signature = meta_graph.signature_def["serving_default"]
    assert sorted(signature.inputs) == ["input_ids", "input_mask",
                                        "segment_ids"]
    feed = {graph.get_tensor_by_name(signature.inputs[name].name): value
            for name, value in zip(("input_ids", "input_mask", "segment_ids"),
                                   inputs)}
    logits, probabilities = sess.run(
        [graph.get_tensor_by_name(signature.outputs[name].name)
         for name in ("logits", "probabilities")], feed)
  np.testing.assert_allclose(logits, expected, atol=1e-5)
  np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-6)
  # Something a client needs that is not in the graph.
  with open(os.path.join(path, "assets.extra", "classifier_info.json")) as f:
    info = json.load(f)
  assert info["labels"] == LABELS and info["vocab_file"] == "vocab.txt"
  assert os.path.exists(os.path.join(path, "assets.extra", "vocab.txt"))
  assert not os.path.exists(path + ".tmp")


def test_latest_saved_model_errors_on_a_directory_without_versions(tmp_path):
  with pytest.raises(ValueError, match="numbered SavedModel versions"):
    export.latest_saved_model(str(tmp_path))


def encoder_outputs(config, checkpoint, inputs, positions):
  with tf.Graph().as_default():
    input_ids, input_mask, segment_ids = [tf.constant(x) for x in inputs]
    model = modeling.AlbertModel(config, False, input_ids, input_mask,
                                 segment_ids)
    mlm_logits = modeling.masked_lm_logits(config, model,
                                           tf.constant(positions))
    with tf.Session() as sess:
      tf.train.Saver().restore(sess, checkpoint)
      return sess.run(dict(pooled_output=model.get_pooled_output(),
                           sequence_output=model.get_sequence_output(),
                           mlm_logits=mlm_logits))


def test_hub_module_gives_checkpoint_outputs(space, tmp_path):
  config = space["config"]
  module_path = str(tmp_path / "hub_module")
  export.export_hub_module(config, space["pretrained"], module_path,
                           space["vocab_file"], do_lower_case=False)
  inputs = _inputs(np.random.RandomState(1), config)
  positions = np.array([[1, 2], [3, 0], [2, 1]], np.int32)
  expected = encoder_outputs(config, space["pretrained"], inputs, positions)

  with tf.Graph().as_default():
    module = hub.Module(module_path)
    feed = dict(zip(("input_ids", "input_mask", "segment_ids"), inputs))
    tokens = module(feed, signature="tokens", as_dict=True)
    mlm = module(dict(feed, mlm_positions=positions), signature="mlm",
                 as_dict=True)
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      tokens, mlm = sess.run([tokens, mlm])
  for key in ("pooled_output", "sequence_output"):
    np.testing.assert_allclose(tokens[key], expected[key], atol=1e-5)
  np.testing.assert_allclose(mlm["mlm_logits"], expected["mlm_logits"],
                             atol=1e-5)
  assert mlm["mlm_logits"].shape == (6, config.vocab_size)

  info = export.hub_tokenization_info(module_path)
  assert info["do_lower_case"] is False and info["spm_model_file"] is None
  assert info["vocab_file"].startswith(module_path)
  with open(info["vocab_file"], encoding="utf-8") as f:
    assert f.read().split() == classifier_test_util.VOCAB


def test_hub_export_needs_the_pretraining_heads(space, tmp_path):
  with pytest.raises(ValueError, match="cls/predictions/output_bias.*"
                     "pretraining checkpoint"):
    export.export_hub_module(space["config"], space["classifier"],
                             str(tmp_path / "m"), space["vocab_file"], True)
