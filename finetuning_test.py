# coding=utf-8
"""Tests for the fine-tuning core's loop and checkpoints: evaluation at every
checkpoint, keep-best in either direction, resume after a kill, recovery from
a truncated checkpoint, and run_classifier in-process on an in-memory
filesystem (no local-only file call may remain for gs:// to break)."""

import json
import os

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

import classifier_test_util
import estimator_utils
import finetuning
import modeling
import run_classifier


def _linear_model_fn(features, labels, mode, params):
  """y = w * x fitted by SGD: a model whose weight each checkpoint shows."""
  del labels, params
  weight = tf.get_variable("w", [], initializer=tf.zeros_initializer())
  loss = tf.reduce_mean(tf.square(weight * features["x"] - 3.0 * features["x"]))
  step = tf.train.get_or_create_global_step()
  train_op = tf.train.GradientDescentOptimizer(0.05).minimize(
      loss, global_step=step)
  return tf.estimator.EstimatorSpec(mode, loss=loss, train_op=train_op)


def _input_fn():
  return tf.data.Dataset.from_tensors({"x": tf.ones([4])}).repeat()


def _estimator(model_dir):
  return tf.estimator.Estimator(_linear_model_fn, model_dir=model_dir,
                                config=tf.estimator.RunConfig(
                                    save_checkpoints_steps=5,
                                    keep_checkpoint_max=10))


def _weight_distance(checkpoint):
  """|w - 3|: lower is better, and falls as training goes on."""
  return abs(float(tf.train.load_variable(checkpoint, "w")) - 3.0)


def test_loop_evaluates_every_checkpoint_and_keeps_the_lowest(tmp_path):
  model_dir = str(tmp_path / "model")
  evaluated = []

  def evaluate_fn(checkpoint):
    evaluated.append(estimator_utils.checkpoint_step(checkpoint))
    # A metric where lower is better that gets worse after step 10: the best
    # is not the last checkpoint.
    step = estimator_utils.checkpoint_step(checkpoint)
    return {"eval_loss": _weight_distance(checkpoint) + (5.0 if step > 10
                                                         else 0.0)}

  started_at = []

  def input_fn_at(step):
    started_at.append(step)
    return _input_fn

  results = finetuning.train_and_evaluate(
      _estimator(model_dir), input_fn_at, 20, model_dir, evaluate_fn, every=5,
      metric_key="eval_loss", higher_is_better=False)
  assert evaluated == [5, 10, 15, 20]
  # Each round's input continues where the last round's ended.
  assert started_at == [0, 5, 10, 15]
  assert results["eval_loss"] > 5.0
  best = finetuning.trained_checkpoint(model_dir)
  assert os.path.dirname(best) == os.path.join(model_dir, "best")
  assert estimator_utils.checkpoint_step(best) == 10
  with open(os.path.join(model_dir, "best", "best_metric.json")) as f:
    kept = json.load(f)
  assert kept["metric"] == "eval_loss" and not kept["higher_is_better"]
  assert kept["value"] == pytest.approx(
      _weight_distance(os.path.join(model_dir, "model.ckpt-10")))


def test_loop_resumes_and_evaluates_what_a_killed_run_did_not(tmp_path):
  model_dir = str(tmp_path / "model")
  # A run killed after saving step 10 but before evaluating it.
  estimator_utils.train(_estimator(model_dir), _input_fn, 10)
  evaluated = []

  def evaluate_fn(checkpoint):
    evaluated.append(estimator_utils.checkpoint_step(checkpoint))
    return {"eval_accuracy": -_weight_distance(checkpoint)}

  finetuning.train_and_evaluate(_estimator(model_dir), lambda _: _input_fn,
                                15, model_dir, evaluate_fn, every=5)
  assert evaluated == [10, 15]
  # Rerunning the finished command trains and evaluates nothing more.
  finetuning.train_and_evaluate(_estimator(model_dir), lambda _: _input_fn,
                                15, model_dir, evaluate_fn, every=5)
  assert evaluated == [10, 15]
  assert estimator_utils.checkpoint_step(
      finetuning.trained_checkpoint(model_dir)) == 15


def test_best_checkpoint_needs_the_metric(tmp_path):
  best = finetuning.BestCheckpoint(str(tmp_path), "eval_f1")
  with pytest.raises(KeyError, match="eval_f1"):
    best.consider("unused", {"eval_accuracy": 1.0})


def _truncate(path):
  with open(path, "r+b") as f:
    f.truncate(os.path.getsize(path) // 2)


def test_truncated_newest_checkpoint_is_skipped_on_resume(tmp_path):
  model_dir = str(tmp_path / "model")
  estimator_utils.train(_estimator(model_dir), _input_fn, 10)
  _truncate(os.path.join(model_dir, "model.ckpt-10.index"))
  recovered = estimator_utils.recover_latest_checkpoint(model_dir)
  assert recovered == os.path.join(model_dir, "model.ckpt-5")
  assert tf.train.latest_checkpoint(model_dir) == recovered
  # Training resumes from step 5 and ends where it was asked to.
  estimator_utils.train(_estimator(model_dir), _input_fn, 12)
  assert estimator_utils.latest_step(model_dir) == 12


def test_no_readable_checkpoint_starts_over(tmp_path):
  model_dir = str(tmp_path / "model")
  estimator_utils.train(_estimator(model_dir), _input_fn, 4)
  _truncate(os.path.join(model_dir, "model.ckpt-4.index"))
  for path in tf.io.gfile.glob(os.path.join(model_dir, "model.ckpt-0.*")):
    os.remove(path)
  assert estimator_utils.recover_latest_checkpoint(model_dir) is None
  assert tf.train.latest_checkpoint(model_dir) is None


def test_unwritable_output_dir_is_named(tmp_path):
  blocker = tmp_path / "file"
  blocker.write_text("x")
  with pytest.raises(ValueError, match="--output_dir=.*not writable"):
    estimator_utils.check_writable_dir(str(blocker / "out"))


def test_train_steps_from_step_flags_or_epochs():
  values = dict(train_batch_size=10, num_train_epochs=2.0, train_step=0,
                warmup_proportion=0.1, warmup_step=-1)
  assert finetuning.train_steps(finetuning.flags_namespace(**values),
                                95) == (19, 1)
  values.update(train_step=50, warmup_step=7)
  assert finetuning.train_steps(finetuning.flags_namespace(**values),
                                95) == (50, 7)


def test_flags_namespace_rejects_unknown_flags():
  with pytest.raises(ValueError, match="no_such_flag"):
    finetuning.flags_namespace(no_such_flag=1)


def _copy_tree_to(local_dir, target_dir):
  for name in os.listdir(local_dir):
    tf.io.gfile.makedirs(target_dir)
    tf.io.gfile.copy(os.path.join(local_dir, name),
                     os.path.join(target_dir, name), overwrite=True)


def test_run_classifier_in_process_on_an_in_memory_filesystem(tmp_path):
  """Every path under ram://: any open/shutil/glob/os call on a user path
  would fail or write nothing there."""
  local = str(tmp_path)
  rng = np.random.RandomState(3)
  classifier_test_util.write_toy_task(os.path.join(local, "data"), rng,
                                      num_train=64, num_dev=16, num_test=8)
  root = "ram://finetuning_test"
  _copy_tree_to(os.path.join(local, "data"), root + "/data")
  vocab = classifier_test_util.write_vocab(local)
  config = classifier_test_util.write_config(local)
  tf.io.gfile.copy(vocab, root + "/vocab.txt", overwrite=True)
  tf.io.gfile.copy(config, root + "/config.json", overwrite=True)
  output_dir = root + "/out"
  flags_obj = finetuning.flags_namespace(
      task_name="generic_pair", data_dir=root + "/data",
      vocab_file=root + "/vocab.txt", bert_config_file=root + "/config.json",
      output_dir=output_dir, export_dir=root + "/export", max_seq_length=32,
      train_batch_size=16, eval_batch_size=16, predict_batch_size=16,
      learning_rate=2e-3, num_train_epochs=2, save_checkpoints_steps=4,
      num_gpus=0, do_train=True, do_eval=True, do_predict=True)
  run_classifier.run(flags_obj)
  listing = set(tf.io.gfile.listdir(output_dir))
  assert {"eval_results.txt", "test_predictions.tsv", "test_results.tsv",
          "best/", "eval_history.json"} <= {
              name if not tf.io.gfile.isdir(output_dir + "/" + name.rstrip("/"))
              else name.rstrip("/") + "/" for name in listing}
  with tf.io.gfile.GFile(output_dir + "/test_predictions.tsv") as f:
    rows = f.read().splitlines()
  assert rows[0] == "id\tlabel" and len(rows) == 9
  assert tf.train.latest_checkpoint(output_dir + "/best")
  exported = tf.io.gfile.glob(root + "/export/classifier/*/saved_model.pb")
  assert len(exported) == 1
  info_path = os.path.join(os.path.dirname(exported[0]), "assets.extra",
                           "classifier_info.json")
  with tf.io.gfile.GFile(info_path) as f:
    info = json.load(f)
  # similarity.py checks input against what the export records.
  assert info["is_pair"] is True and info["labels"] == ["0", "1"]
  assert not tf.io.gfile.glob(output_dir + "/*.tmp")
  assert not os.path.exists("ram:")


# ---------------------------------------------------------------------------
# Bad input is found before the first training step, and nothing is written.


@pytest.fixture
def toy_space(tmp_path):
  root = str(tmp_path)
  classifier_test_util.write_toy_task(os.path.join(root, "data"),
                                      np.random.RandomState(5), num_train=32,
                                      num_dev=8, num_test=4)
  return dict(root=root, data_dir=os.path.join(root, "data"),
              vocab_file=classifier_test_util.write_vocab(root),
              config_file=classifier_test_util.write_config(root),
              output_dir=os.path.join(root, "out"))


def _classifier_flags(space, **values):
  defaults = dict(task_name="generic_pair", data_dir=space["data_dir"],
                  vocab_file=space["vocab_file"],
                  bert_config_file=space["config_file"],
                  output_dir=space["output_dir"], max_seq_length=32,
                  train_batch_size=8, num_train_epochs=1, num_gpus=0,
                  do_train=True, labels=["0", "1"])
  defaults.update(values)
  return finetuning.flags_namespace(**defaults)


def _checkpoints(output_dir):
  return tf.io.gfile.glob(os.path.join(output_dir, "*.index"))


def test_empty_training_file_is_an_error(toy_space):
  open(os.path.join(toy_space["data_dir"], "train.tsv"), "w").close()
  with pytest.raises(ValueError, match=r"No usable train examples in .*"
                     r"train.tsv: no data rows .* empty"):
    run_classifier.run(_classifier_flags(toy_space))
  assert not _checkpoints(toy_space["output_dir"])
  assert not tf.io.gfile.glob(os.path.join(toy_space["output_dir"],
                                           "train.*"))


def test_every_row_skipped_is_an_error(toy_space):
  with open(os.path.join(toy_space["data_dir"], "train.tsv"), "w") as f:
    f.write("only one column\nstill one\n")
  with pytest.raises(ValueError, match="all 2 rows were skipped"):
    run_classifier.run(_classifier_flags(toy_space, skip_bad_rows=True))
  assert not _checkpoints(toy_space["output_dir"])


def test_missing_test_file_is_found_before_training(toy_space):
  os.remove(os.path.join(toy_space["data_dir"], "test.tsv"))
  with pytest.raises(ValueError, match=r"--do_predict: No test file in .*test.tsv"):
    run_classifier.run(_classifier_flags(toy_space, do_predict=True))
  assert not _checkpoints(toy_space["output_dir"])


def test_missing_training_file_names_flag_and_path(toy_space):
  os.remove(os.path.join(toy_space["data_dir"], "train.tsv"))
  with pytest.raises(ValueError, match=r"--do_train: No train file in .*train.tsv"):
    run_classifier.run(_classifier_flags(toy_space))


def test_unwritable_output_dir_fails_before_reading_data(toy_space):
  blocker = os.path.join(toy_space["root"], "blocker")
  open(blocker, "w").close()
  with pytest.raises(ValueError, match="--output_dir=.*blocker.*not writable"):
    run_classifier.run(_classifier_flags(
        toy_space, output_dir=os.path.join(blocker, "out")))


def test_vocab_larger_than_config_is_an_error(toy_space):
  config = classifier_test_util.write_config(toy_space["root"], vocab_size=10)
  with pytest.raises(ValueError, match="vocab_size"):
    run_classifier.run(_classifier_flags(toy_space, bert_config_file=config))


def test_recovery_in_a_relative_model_dir_names_real_files(tmp_path,
                                                          monkeypatch):
  # A relative output_dir (as run_demo.sh passes) once made the rewritten
  # state file name ../../../model.ckpt-N.
  monkeypatch.chdir(tmp_path)
  model_dir = os.path.join("a", "b", "model")
  estimator_utils.train(_estimator(model_dir), _input_fn, 10)
  with open(os.path.join(model_dir, "checkpoint")) as f:
    state = f.read()
  # Nothing wrong: the newest checkpoint, and the state file left alone.
  assert estimator_utils.recover_latest_checkpoint(model_dir) == os.path.join(
      model_dir, "model.ckpt-10")
  with open(os.path.join(model_dir, "checkpoint")) as f:
    assert f.read() == state
  _truncate(os.path.join(model_dir, "model.ckpt-10.index"))
  assert estimator_utils.recover_latest_checkpoint(model_dir) == os.path.join(
      model_dir, "model.ckpt-5")
  latest = tf.train.latest_checkpoint(model_dir)
  assert os.path.exists(latest + ".index")
  estimator_utils.train(_estimator(model_dir), _input_fn, 12)
  assert estimator_utils.latest_step(model_dir) == 12


def test_pre_ln_encoders_warn_at_rates_that_saturate_the_pooler():
  preln = modeling.AlbertConfig.from_dict(
      dict(classifier_test_util.TINY_CONFIG, ln_type="preln"))
  postln = modeling.AlbertConfig.from_dict(classifier_test_util.TINY_CONFIG)
  message = finetuning.preln_learning_rate_warning(preln, 1e-3)
  assert "--learning_rate=0.001 with a pre-LN encoder" in message
  assert "1e-4 or lower" in message
  assert finetuning.preln_learning_rate_warning(preln, 1e-4) is None
  assert finetuning.preln_learning_rate_warning(postln, 1e-3) is None
