# coding=utf-8
"""Tests for the SimilarityPredictor: padding to the pair's own length,
batch/single agreement, the loaded graph being reused, and the command."""

import os

from absl import flags
import numpy as np
import pytest
import tensorflow.compat.v1 as tf

import classifier_test_util
import export
import export_test
import modeling
import similarity

FLAGS = flags.FLAGS
PAIRS = [("甲乙丙", "丁戊"), ("子丑寅卯辰巳午未", "子"), ("甲", None)]


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
  root = str(tmp_path_factory.mktemp("similarity"))
  config = modeling.AlbertConfig.from_json_file(
      classifier_test_util.write_config(root))
  checkpoint_dir = os.path.join(root, "checkpoint")
  os.makedirs(checkpoint_dir)
  checkpoint = export_test.write_classifier_checkpoint(checkpoint_dir, config)
  vocab_file = classifier_test_util.write_vocab(root)
  base = os.path.join(root, "classifier")
  export.export_classifier(config, checkpoint, export_test.LABELS, base,
                           [vocab_file, None], True, 6)
  return base


@pytest.fixture(scope="module")
def predictor(saved_model):
  loaded = similarity.SimilarityPredictor(saved_model)
  yield loaded
  loaded.close()


def test_encode_pads_to_the_longest_pair_and_truncates(predictor):
  input_ids, input_mask, segment_ids = predictor.encode(PAIRS[:1])
  tokens = predictor.tokenizer.convert_ids_to_tokens(input_ids[0])
  # max_seq_length 6 in the export: the longer text is cut first.
  assert tokens == ["[CLS]", "甲", "乙", "[SEP]", "丁", "[SEP]"]
  input_ids, input_mask, segment_ids = predictor.encode([("甲", "乙"),
                                                         ("甲乙", None)])
  assert input_ids.shape == (2, 5)
  np.testing.assert_array_equal(input_mask, [[1] * 5, [1, 1, 1, 1, 0]])
  np.testing.assert_array_equal(segment_ids, [[0, 0, 0, 1, 1], [0] * 5])


def test_batch_and_single_predictions_agree(predictor):
  batch = predictor.predict(PAIRS)
  assert len(batch) == len(PAIRS)
  for pair, (label, probabilities) in zip(PAIRS, batch):
    single_label, single = predictor.predict_pair(*pair)
    # Padding a pair to a longer batch must not change its result.
    np.testing.assert_allclose(probabilities, single, atol=1e-5)
    assert label == single_label == export_test.LABELS[int(single.argmax())]
    np.testing.assert_allclose(single.sum(), 1.0, atol=1e-6)
  assert predictor.predict_proba([]).shape == (0, 3)


def test_graph_is_built_once(predictor):
  graph = predictor._graph  # pylint: disable=protected-access
  num_ops = len(graph.get_operations())
  for _ in range(3):
    predictor.predict_pair("甲乙", "丙")
  # Finalized: a call that tried to add ops would raise.
  assert graph.finalized and len(graph.get_operations()) == num_ops


def test_missing_info_file_is_explained(saved_model, tmp_path):
  path = export.latest_saved_model(saved_model)
  copy = str(tmp_path / "copy")
  tf.io.gfile.makedirs(copy)
  tf.io.gfile.copy(os.path.join(path, "saved_model.pb"),
                   os.path.join(copy, "saved_model.pb"))
  with pytest.raises(ValueError, match="classifier_info.json"):
    similarity.SimilarityPredictor(copy)


def test_command_prints_label_and_probabilities(saved_model, predictor,
                                                capsys, monkeypatch):
  FLAGS.unparse_flags()
  FLAGS(["similarity.py", "--saved_model=%s" % saved_model])
  try:
    similarity.main(["similarity.py", "甲乙丙", "丁戊"])
    monkeypatch.setattr("sys.stdin", iter(["甲\t乙\n", "子丑\n", "\n"]))
    similarity.main(["similarity.py"])
  finally:
    FLAGS.unparse_flags()
  captured = capsys.readouterr()
  lines = captured.out.splitlines()
  expected = [predictor.predict_pair(*pair)
              for pair in [("甲乙丙", "丁戊"), ("甲", "乙"), ("子丑", None)]]
  assert len(lines) == 3
  for line, (label, probabilities) in zip(lines, expected):
    printed_label, printed = line.split("\t")
    assert printed_label == label
    np.testing.assert_allclose([float(p) for p in printed.split()],
                               probabilities, atol=1e-4)
  assert "stdin:3: expected text_a<TAB>text_b" in captured.err
