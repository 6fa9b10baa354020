# coding=utf-8
"""End-to-end tests of run_classifier.py on a tiny config and a toy task:
learning, outputs, the kept best checkpoint, layout errors, bad rows, and
fine-tuning from an exported TF-Hub module.

The script runs in a subprocess, as users run it: scripts declare their absl
flags at import, so two scripts cannot share one test process.
"""

import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

import classifier_test_util
import fused_ops
import similarity

HERE = os.path.dirname(os.path.abspath(__file__))


def run(expect_error=None, **flag_values):
  """Runs run_classifier.py with these flags (others at their defaults).

  Args:
    expect_error: None if the run must succeed; else a substring of the error
      the run must fail with.
  """
  command = [sys.executable, os.path.join(HERE, "run_classifier.py")] + [
      "--%s=%s" % item for item in sorted(flag_values.items())]
  result = subprocess.run(command, cwd=HERE, capture_output=True, text=True,
                          env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
  if expect_error is None:
    assert result.returncode == 0, result.stderr[-3000:]
  else:
    assert result.returncode != 0, "expected failure: %s" % expect_error
    assert expect_error in result.stderr, result.stderr[-3000:]
  return result


def read_key_values(path):
  with open(path) as f:
    return dict(line.rstrip("\n").split(" = ", 1) for line in f)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
  root = str(tmp_path_factory.mktemp("classifier"))
  rng = np.random.RandomState(0)
  space = dict(
      root=root,
      vocab_file=classifier_test_util.write_vocab(root),
      config_file=classifier_test_util.write_config(root),
      data_dir=os.path.join(root, "data"))
  space["test_pairs"] = classifier_test_util.write_toy_task(space["data_dir"],
                                                            rng)
  pretrained = os.path.join(root, "pretrained")
  os.makedirs(pretrained)
  space["init_checkpoint"] = classifier_test_util.write_pretrained_checkpoint(
      pretrained, space["config_file"])
  return space


def common_flags(space, output_dir, **extra):
  values = dict(task_name="generic_pair", data_dir=space["data_dir"],
                vocab_file=space["vocab_file"],
                bert_config_file=space["config_file"], output_dir=output_dir,
                max_seq_length=32, train_batch_size=16, eval_batch_size=16,
                predict_batch_size=16, learning_rate=2e-3, num_train_epochs=5,
                save_checkpoints_steps=20, num_gpus=0)
  values.update(extra)
  return values


@pytest.fixture(scope="module")
def fine_tuned(workspace):
  output_dir = os.path.join(workspace["root"], "out")
  export_dir = os.path.join(workspace["root"], "export")
  run(**common_flags(workspace, output_dir, do_train=True, do_eval=True,
                     do_predict=True, export_dir=export_dir,
                     init_checkpoint=workspace["init_checkpoint"]))
  return dict(workspace, output_dir=output_dir, export_dir=export_dir)


def test_fine_tune_learns_toy_task_and_writes_outputs(fine_tuned):
  output_dir = fine_tuned["output_dir"]
  results = read_key_values(os.path.join(output_dir, "eval_results.txt"))
  assert float(results["eval_accuracy"]) >= 0.95
  # Binary task: F1 is reported next to accuracy and loss.
  assert float(results["eval_f1"]) >= 0.95
  assert float(results["eval_loss"]) < 0.3
  assert int(results["global_step"]) == 60  # 192 / 16 * 5

  best = read_key_values(os.path.join(output_dir, "best", "eval_results.txt"))
  assert float(best["eval_accuracy"]) >= float(results["eval_accuracy"])
  best_checkpoint = tf.train.latest_checkpoint(os.path.join(output_dir, "best"))
  assert best_checkpoint and best_checkpoint == best["checkpoint"]

  with open(os.path.join(output_dir, "test_results.tsv")) as f:
    probabilities = np.array([[float(v) for v in line.split("\t")]
                              for line in f])
  test_pairs = fine_tuned["test_pairs"]
  assert probabilities.shape == (len(test_pairs), 2)
  np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
  with open(os.path.join(output_dir, "test_predictions.tsv")) as f:
    rows = [line.rstrip("\n").split("\t") for line in f]
  assert rows[0] == ["id", "label"]
  assert [r[0] for r in rows[1:]] == ["test-%d" % i
                                      for i in range(len(test_pairs))]
  predicted = [r[1] for r in rows[1:]]
  assert predicted == [str(p.argmax()) for p in probabilities]
  correct = sum(p == t[2] for p, t in zip(predicted, test_pairs))
  assert correct >= 0.9 * len(test_pairs)
  # A CPU-only run uses the fused kernels wherever they can be built.
  with open(os.path.join(output_dir, "graph.pbtxt")) as f:
    graph = f.read()
  for op_type in ("AlbertGeluGrad", "AlbertLambUpdate"):
    assert ('op: "%s"' % op_type in graph) == fused_ops.compiler_found()
  # The features were cached under fingerprinted names.
  cached = sorted(name.split(".")[0] for name in os.listdir(output_dir)
                  if name.endswith(".tf_record"))
  assert cached == ["dev", "test", "train"]


def test_rerun_reuses_cache_and_keeps_best(fine_tuned):
  output_dir = fine_tuned["output_dir"]
  before = {name: os.path.getmtime(os.path.join(output_dir, name))
            for name in os.listdir(output_dir) if name.endswith(".tf_record")}
  best_before = read_key_values(os.path.join(output_dir, "best",
                                             "eval_results.txt"))
  # Training is complete: nothing retrains, dev is evaluated once.
  run(**common_flags(fine_tuned, output_dir, do_train=True, do_eval=True))
  after = {name: os.path.getmtime(os.path.join(output_dir, name))
           for name in os.listdir(output_dir) if name.endswith(".tf_record")}
  assert {k: v for k, v in after.items() if k in before} == before
  assert read_key_values(os.path.join(output_dir, "best",
                                      "eval_results.txt")) == best_before


def test_layout_mismatch_is_reported_before_training(workspace, tmp_path):
  google_config = classifier_test_util.write_config(
      str(tmp_path), num_hidden_groups=1, inner_group_num=1, ln_type=None)
  values = common_flags(workspace, str(tmp_path / "out"), do_train=True,
                        bert_config_file=google_config,
                        init_checkpoint=workspace["init_checkpoint"])
  run("ValueError: --init_checkpoint=%s has brightmart-layout variables but "
      "--bert_config_file=%s describes the google layout: pass an albert_zh "
      "config with ln_type" % (workspace["init_checkpoint"], google_config),
      **values)
  assert not os.path.exists(str(tmp_path / "out"))

  # The other way round: a google checkpoint with a brightmart config.
  google_checkpoint = classifier_test_util.write_pretrained_checkpoint(
      str(tmp_path), google_config)
  values.update(bert_config_file=workspace["config_file"],
                init_checkpoint=google_checkpoint)
  run("has google-layout variables but --bert_config_file=%s describes the "
      "brightmart layout: pass a *_google config" % workspace["config_file"],
      **values)


def test_bad_rows_stop_the_run_before_training(workspace, tmp_path):
  data_dir = tmp_path / "data"
  data_dir.mkdir()
  (data_dir / "train.tsv").write_text("甲乙\t天\t0\n子丑\t1\n",
                                      encoding="utf-8")
  values = common_flags(workspace, str(tmp_path / "out"), do_train=True,
                        data_dir=str(data_dir), labels="0,1")
  result = run("BadRowsError: 1 malformed train rows:", **values)
  assert "%s:2: expected 3 tab-separated columns" % (
      data_dir / "train.tsv") in result.stderr
  assert tf.train.latest_checkpoint(str(tmp_path / "out")) is None


def test_dynamic_length_refused_on_tpu(workspace, tmp_path):
  values = common_flags(workspace, str(tmp_path), do_train=True, use_tpu=True,
                        tpu_name="grpc://localhost:1")
  run("pass --nodynamic_length with --use_tpu", **values)


def test_fine_tune_from_exported_hub_module(fine_tuned, tmp_path):
  hub_module = os.path.join(fine_tuned["export_dir"], "hub_module")
  output_dir = str(tmp_path / "hub_out")
  # No --vocab_file: the module's tokenization_info supplies it.
  export_dir = str(tmp_path / "hub_export")
  values = common_flags(fine_tuned, output_dir, do_train=True, do_eval=True,
                        albert_hub_module_handle=hub_module,
                        export_dir=export_dir)
  del values["vocab_file"]
  run(**values)
  results = read_key_values(os.path.join(output_dir, "eval_results.txt"))
  assert float(results["eval_accuracy"]) >= 0.95
  checkpoint = tf.train.latest_checkpoint(output_dir)
  names = [name for name, _ in tf.train.list_variables(checkpoint)]
  assert "output_weights" in names
  assert any(name.startswith("module/bert/encoder/layer_shared/")
             for name in names)
  # The classifier built on the module exports and serves like any other.
  predictor = similarity.SimilarityPredictor(os.path.join(export_dir,
                                                          "classifier"))
  try:
    pairs = fine_tuned["test_pairs"]
    predicted = [label for label, _ in predictor.predict(
        [(a, b) for a, b, _ in pairs])]
  finally:
    predictor.close()
  assert sum(p == t[2] for p, t in zip(predicted, pairs)) >= 0.9 * len(pairs)


def test_exported_predictor_reproduces_test_results(fine_tuned):
  predictor = similarity.SimilarityPredictor(
      os.path.join(fine_tuned["export_dir"], "classifier"))
  try:
    pairs = [(a, b) for a, b, _ in fine_tuned["test_pairs"]]
    probabilities = predictor.predict_proba(pairs)
  finally:
    predictor.close()
  with open(os.path.join(fine_tuned["output_dir"], "test_results.tsv")) as f:
    expected = np.array([[float(v) for v in line.split("\t")] for line in f])
  np.testing.assert_allclose(probabilities, expected, atol=1e-5)
  assert predictor.labels == ["0", "1"]
