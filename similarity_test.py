# coding=utf-8
"""Tests for the SimilarityPredictor: padding to the pair's own length,
batch/single agreement, the loaded graph being reused, and the command (one
output line per input line, bad lines marked, not skipped)."""

import json
import os

from absl import app
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
def pair_saved_model(tmp_path_factory):
  """The same kind of model, exported as a sentence-pair classifier."""
  root = str(tmp_path_factory.mktemp("pair_model"))
  config = modeling.AlbertConfig.from_json_file(
      classifier_test_util.write_config(root))
  checkpoint = export_test.write_classifier_checkpoint(root, config)
  base = os.path.join(root, "classifier")
  path = export.export_classifier(
      config, checkpoint, export_test.LABELS, base,
      [classifier_test_util.write_vocab(root), None], True, 6, is_pair=True)
  with tf.io.gfile.GFile(os.path.join(path, "assets.extra",
                                      export.CLASSIFIER_INFO_FILE)) as f:
    assert json.load(f)["is_pair"] is True
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
  graph = predictor._runner._graph  # pylint: disable=protected-access
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


def _run_command(saved_model, argv, stdin_lines, monkeypatch, extra_flags=()):
  """Runs similarity.main in-process; returns its exit status."""
  FLAGS.unparse_flags()
  FLAGS(["similarity.py", "--saved_model=%s" % saved_model] + list(extra_flags))
  try:
    monkeypatch.setattr("sys.stdin", iter(stdin_lines))
    return similarity.main(["similarity.py"] + list(argv))
  finally:
    FLAGS.unparse_flags()


def _check_scored(line, line_number, expected):
  printed_id, printed_label, printed = line.split("\t")
  assert printed_id == str(line_number)
  label, probabilities = expected
  assert printed_label == label
  np.testing.assert_allclose([float(p) for p in printed.split()],
                             probabilities, atol=1e-4)


def test_command_prints_label_and_probabilities(saved_model, predictor,
                                                capsys, monkeypatch):
  status = _run_command(saved_model, ["甲乙丙", "丁戊"], [], monkeypatch)
  assert not status
  line, = capsys.readouterr().out.splitlines()
  label, printed = line.split("\t")
  expected_label, expected = predictor.predict_pair("甲乙丙", "丁戊")
  assert label == expected_label
  np.testing.assert_allclose([float(p) for p in printed.split()], expected,
                             atol=1e-4)


def test_every_stdin_line_gets_one_output_line_with_its_number(
    saved_model, predictor, capsys, monkeypatch):
  # The export does not say whether the model takes pairs: one or two texts.
  stdin = ["甲\t乙\n", "子丑\n", "\n", "甲\t乙\t丙\n", "\t乙\n", "丙\t丁\r\n"]
  status = _run_command(saved_model, [], stdin, monkeypatch)
  captured = capsys.readouterr()
  lines = captured.out.splitlines()
  assert len(lines) == len(stdin)
  _check_scored(lines[0], 1, predictor.predict_pair("甲", "乙"))
  _check_scored(lines[1], 2, predictor.predict_pair("子丑"))
  assert lines[2] == "3\tERROR\tempty text_a"
  assert lines[3] == ("4\tERROR\texpected text_a or text_a<TAB>text_b, "
                      "found 3 tab-separated columns")
  assert lines[4] == "5\tERROR\tempty text_a"
  _check_scored(lines[5], 6, predictor.predict_pair("丙", "丁"))
  # Not silent: a non-zero exit status and a count on stderr.
  assert status == 1
  assert "3 of 6 stdin lines could not be scored" in captured.err


def test_pair_model_rejects_single_texts_and_empty_text_b(
    pair_saved_model, predictor, capsys, monkeypatch):
  stdin = ["甲\t乙\n", "子丑\n", "甲\t \n"]
  status = _run_command(pair_saved_model, [], stdin, monkeypatch)
  lines = capsys.readouterr().out.splitlines()
  assert len(lines) == 3 and status == 1
  _check_scored(lines[0], 1, predictor.predict_pair("甲", "乙"))
  assert lines[1] == "2\tERROR\tempty text_b (this is a sentence-pair model)"
  assert lines[2].startswith("3\tERROR\tempty text_b")
  # One text on the command line is a usage error for a pair model.
  with pytest.raises(app.UsageError, match="sentence-pair model"):
    _run_command(pair_saved_model, ["甲乙"], [], monkeypatch)


def test_single_text_model_flag_rejects_pairs(saved_model, predictor, capsys,
                                              monkeypatch):
  stdin = ["甲乙\n", "甲\t乙\n"]
  status = _run_command(saved_model, [], stdin, monkeypatch, ["--nopair"])
  lines = capsys.readouterr().out.splitlines()
  assert status == 1 and len(lines) == 2
  _check_scored(lines[0], 1, predictor.predict_pair("甲乙"))
  assert lines[1] == ("2\tERROR\texpected text_a (this is a single-text "
                      "model), found 2 tab-separated columns")


def test_api_rejects_empty_texts_naming_the_pair(predictor, pair_saved_model):
  with pytest.raises(ValueError, match=r"pair 1: empty text_a"):
    predictor.predict([("甲", "乙"), ("  ", "乙")])
  with pytest.raises(ValueError, match=r"pair 0: empty text_b"):
    predictor.predict_pair("甲", "")
  pair_predictor = similarity.SimilarityPredictor(pair_saved_model)
  try:
    assert pair_predictor.is_pair
    with pytest.raises(ValueError, match=r"pair 0: empty text_b \(this is a "
                       "sentence-pair model\)"):
      pair_predictor.predict_pair("甲")
  finally:
    pair_predictor.close()
