# coding=utf-8
"""Tests for run_pretraining.py (and the estimator_utils it drives).

Everything runs on a tiny config (V=120, H=32, 2 layers) and a few dozen
TFRecords written here, so each training run takes seconds.
"""

import json
import os
import re
import signal
import subprocess
import sys
import time
import types

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

import estimator_utils
import fused_ops
import modeling
import run_pretraining

HERE = os.path.dirname(os.path.abspath(__file__))
SEQ_LENGTH = 32
NUM_PREDICTIONS = 5
TINY_CONFIG = {
    "vocab_size": 120, "embedding_size": 16, "hidden_size": 32,
    "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 37,
    "hidden_act": "gelu", "hidden_dropout_prob": 0.0,
    "attention_probs_dropout_prob": 0.0, "max_position_embeddings": 64,
    "type_vocab_size": 2, "initializer_range": 0.02, "ln_type": "postln",
}
TINY_GOOGLE_CONFIG = dict(
    {k: v for k, v in TINY_CONFIG.items() if k != "ln_type"},
    num_hidden_groups=1, inner_group_num=1)


def write_records(path, num_examples, seed, seq_length=SEQ_LENGTH,
                  num_predictions=NUM_PREDICTIONS):
  """Writes pretraining examples with the feature names albert_zh uses.

  Every example has all `num_predictions` positions real (weight 1), so a
  batch split over replicas has the same number of predictions per half.
  """
  rng = np.random.RandomState(seed)

  def int_feature(values):
    return tf.train.Feature(
        int64_list=tf.train.Int64List(value=[int(v) for v in values]))

  with tf.io.TFRecordWriter(path) as writer:
    for _ in range(num_examples):
      input_ids = rng.randint(5, TINY_CONFIG["vocab_size"], size=seq_length)
      positions = np.sort(rng.choice(np.arange(1, seq_length), num_predictions,
                                     replace=False))
      features = {
          "input_ids": int_feature(input_ids),
          "input_mask": int_feature(np.ones(seq_length)),
          "segment_ids": int_feature(np.arange(seq_length) >= seq_length // 2),
          "masked_lm_positions": int_feature(positions),
          "masked_lm_ids": int_feature(input_ids[positions]),
          "masked_lm_weights": tf.train.Feature(float_list=tf.train.FloatList(
              value=[1.0] * num_predictions)),
          "next_sentence_labels": int_feature([rng.randint(2)]),
      }
      writer.write(tf.train.Example(features=tf.train.Features(
          feature=features)).SerializeToString())


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
  path = tmp_path_factory.mktemp("pretraining_data")
  for name, config in (("config.json", TINY_CONFIG),
                       ("config_google.json", TINY_GOOGLE_CONFIG)):
    with open(str(path / name), "w") as f:
      json.dump(config, f)
  write_records(str(path / "train.tfrecord"), 64, seed=0)
  write_records(str(path / "dev.tfrecord"), 16, seed=1)
  return path


def flag_values(data_dir, output_dir, **overrides):
  """Defaults of every run_pretraining flag, pointed at the tiny data."""
  flag_values_ = run_pretraining.FLAGS
  values = {name: flag_values_[name].default for name in flag_values_}
  values.update(
      bert_config_file=str(data_dir / "config.json"),
      input_file=str(data_dir / "train.tfrecord"),
      eval_input_file=str(data_dir / "dev.tfrecord"),
      output_dir=str(output_dir), max_seq_length=SEQ_LENGTH,
      max_predictions_per_seq=NUM_PREDICTIONS, train_batch_size=8,
      eval_batch_size=8, learning_rate=1e-2, num_train_steps=10,
      num_warmup_steps=2, save_checkpoints_steps=5, num_gpus=0,
      # run_pretraining's own default: a fine-tuning script imported first
      # in the same process defines --optimizer with adamw.
      optimizer="lamb")
  values.update(overrides)
  return values


def run_with_flags(values, devices=None, seed=None):
  return run_pretraining.run(types.SimpleNamespace(**values), devices=devices,
                             seed=seed)


def command_line(values):
  """The run_pretraining.py command for `values` (only non-default flags)."""
  args = [sys.executable, os.path.join(HERE, "run_pretraining.py")]
  for name in ("bert_config_file", "input_file", "output_dir",
               "max_seq_length", "max_predictions_per_seq", "train_batch_size",
               "learning_rate", "num_train_steps", "num_warmup_steps",
               "save_checkpoints_steps", "num_gpus"):
    args.append("--%s=%s" % (name, values[name]))
  return args + ["--do_train"]


def checkpoint_step(output_dir):
  latest = tf.train.latest_checkpoint(str(output_dir))
  return int(latest.rsplit("-", 1)[1]) if latest else None


def save_random_init(config_path, checkpoint_prefix):
  """Saves a freshly initialised model (with heads) as a checkpoint."""
  config = modeling.AlbertConfig.from_json_file(config_path)
  with tf.Graph().as_default():
    tf.set_random_seed(7)
    run_pretraining.pretraining_outputs(config, fixed_features(2), False, False)
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      return tf.train.Saver().save(sess, checkpoint_prefix)


def fixed_features(batch_size):
  rng = np.random.RandomState(3)
  return {
      "input_ids": tf.constant(rng.randint(5, 120, (batch_size, SEQ_LENGTH)),
                               tf.int32),
      "input_mask": tf.ones([batch_size, SEQ_LENGTH], tf.int32),
      "segment_ids": tf.zeros([batch_size, SEQ_LENGTH], tf.int32),
      "masked_lm_positions": tf.constant(
          rng.randint(0, SEQ_LENGTH, (batch_size, NUM_PREDICTIONS)), tf.int32),
      "masked_lm_ids": tf.constant(
          rng.randint(0, 120, (batch_size, NUM_PREDICTIONS)), tf.int32),
      "masked_lm_weights": tf.constant(
          np.tile([1.0, 1.0, 1.0, 0.0, 0.0], (batch_size, 1)), tf.float32),
      "next_sentence_labels": tf.constant([[0], [1], [1]][:batch_size],
                                          tf.int32),
  }


def log_softmax(logits):
  shifted = logits - logits.max(-1, keepdims=True)
  return shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))


def test_losses_follow_the_published_formulas():
  config = modeling.AlbertConfig.from_dict(TINY_CONFIG)
  with tf.Graph().as_default():
    features = fixed_features(3)
    outputs = run_pretraining.pretraining_outputs(config, features, True, False)
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      got, feats = sess.run((outputs, features))
  mlm_ce = -np.take_along_axis(
      log_softmax(got["masked_lm_logits"]),
      feats["masked_lm_ids"].reshape(-1, 1), axis=1)[:, 0]
  weights = feats["masked_lm_weights"].reshape(-1)
  expected_mlm = (weights * mlm_ce).sum() / (weights.sum() + 1e-5)
  sop_ce = -np.take_along_axis(
      log_softmax(got["sentence_order_logits"]),
      feats["next_sentence_labels"], axis=1)[:, 0]
  np.testing.assert_allclose(got["masked_lm_loss"], expected_mlm, rtol=1e-5)
  np.testing.assert_allclose(got["sentence_order_loss"], sop_ce.mean(),
                             rtol=1e-5)
  np.testing.assert_allclose(got["total_loss"], expected_mlm + sop_ce.mean(),
                             rtol=1e-5)
  # Padding predictions (weight 0) do not count: 3 of 5 per example here.
  assert got["masked_lm_logits"].shape == (3 * NUM_PREDICTIONS, 120)
  # A random initialisation predicts close to uniformly.
  assert abs(got["masked_lm_loss"] - np.log(120)) < 0.5


def test_train_then_eval_writes_results_and_summaries(data_dir, tmp_path):
  results = run_with_flags(flag_values(data_dir, tmp_path, do_train=True,
                                       do_eval=True))
  path = tmp_path / "eval_results.txt"
  lines = dict(line.split(" = ") for line in path.read_text().splitlines())
  assert sorted(lines) == sorted(run_pretraining.EVAL_KEYS)
  assert int(lines["global_step"]) == 10 == results["global_step"]
  for key in ("masked_lm_accuracy", "sentence_order_accuracy"):
    assert 0.0 <= float(lines[key]) <= 1.0
  np.testing.assert_allclose(
      float(lines["loss"]),
      float(lines["masked_lm_loss"]) + float(lines["sentence_order_loss"]),
      rtol=1e-4)
  assert not list(tmp_path.glob("*.tmp"))
  assert checkpoint_step(tmp_path) == 10
  # A CPU-only run uses the fused kernels wherever they can be built.
  graph = (tmp_path / "graph.pbtxt").read_text()
  for op_type in ("AlbertGeluGrad", "AlbertLayerNormGrad", "AlbertLambUpdate"):
    assert (('op: "%s"' % op_type) in graph) == fused_ops.compiler_found()

  tags = set()
  for events in tmp_path.glob("events.out.tfevents.*"):
    for event in tf.train.summary_iterator(str(events)):
      tags.update(value.tag for value in event.summary.value)
  assert {"learning_rate", "masked_lm_loss", "sentence_order_loss",
          "masked_lm_accuracy", "sentence_order_accuracy"} <= tags


def test_eval_before_training_scores_initial_weights(data_dir, tmp_path):
  results = run_with_flags(flag_values(data_dir, tmp_path, do_eval=True))
  assert results["global_step"] == 0
  assert abs(results["masked_lm_loss"] - np.log(120)) < 0.5
  # The step-0 weights are kept apart: training in the same directory then
  # starts normally instead of tripping over a checkpoint without slots.
  assert checkpoint_step(tmp_path) is None
  run_with_flags(flag_values(data_dir, tmp_path, do_train=True,
                             num_train_steps=3))
  assert checkpoint_step(tmp_path) == 3


@pytest.mark.parametrize("overrides,message", [
    ({"max_seq_length": 128}, "max_position_embeddings=64"),
    ({"input_file": "/nonexistent/dir/*.tfrecord"}, "matches no file"),
    ({"max_seq_length": 16}, "'input_ids' .* has length 32, but the flags "
                             "expect 16.*--max_seq_length"),
    ({"max_predictions_per_seq": 7}, "--max_predictions_per_seq"),
    ({"do_eval": True, "eval_input_file": None}, "--eval_input_file"),
    ({"bert_config_file": "/nonexistent/config.json"}, "--bert_config_file"),
    ({"use_amp": True}, "--use_amp needs a GPU"),
    ({"num_warmup_steps": 11}, "--num_warmup_steps"),
])
def test_bad_flags_fail_before_training(data_dir, tmp_path, overrides,
                                        message):
  values = flag_values(data_dir, tmp_path, do_train=True, **overrides)
  with pytest.raises(ValueError, match=message):
    run_with_flags(values)
  assert checkpoint_step(tmp_path) is None


def test_killed_run_resumes_from_last_checkpoint(data_dir, tmp_path):
  values = flag_values(data_dir, tmp_path, num_train_steps=600,
                       save_checkpoints_steps=50, learning_rate=1e-3)
  command = command_line(values)
  first = subprocess.Popen(command, cwd=HERE, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
  deadline = time.time() + 120
  while (checkpoint_step(tmp_path) or 0) < 50 and first.poll() is None:
    assert time.time() < deadline, "no checkpoint after 120 s"
    time.sleep(0.05)
  first.send_signal(signal.SIGKILL)
  first.wait()
  assert first.returncode == -signal.SIGKILL, "run ended before being killed"
  killed_at = checkpoint_step(tmp_path)
  assert 50 <= killed_at < 600

  second = subprocess.run(command, cwd=HERE, capture_output=True, text=True,
                          timeout=300)
  assert second.returncode == 0, second.stderr[-3000:]
  restored = re.findall(r"Restoring parameters from .*model\.ckpt-(\d+)",
                        second.stderr)
  assert restored and int(restored[0]) >= killed_at
  assert checkpoint_step(tmp_path) == 600


def test_nan_loss_stops_and_keeps_last_good_checkpoint(data_dir, tmp_path,
                                                       monkeypatch):
  real_loss = modeling.sentence_order_loss

  def loss_turning_nan_at_step_4(logits, labels):
    loss, per_example = real_loss(logits, labels)
    step = tf.train.get_or_create_global_step()
    return tf.where(step >= 4, np.float32(np.nan), loss), per_example

  monkeypatch.setattr(modeling, "sentence_order_loss",
                      loss_turning_nan_at_step_4)
  values = flag_values(data_dir, tmp_path, do_train=True,
                       save_checkpoints_steps=2, num_train_steps=10)
  with pytest.raises(estimator_utils.NonFiniteLossError,
                     match=r"NaN or Inf at step 5\b.*model\.ckpt-4"):
    run_with_flags(values)
  assert checkpoint_step(tmp_path) == 4
  reader = tf.train.load_checkpoint(str(tmp_path))
  for name in reader.get_variable_to_shape_map():
    assert np.all(np.isfinite(reader.get_tensor(name))), name


_RUN_IN_SUBPROCESS = """
import json, sys
import tensorflow as tf2
values, num_devices = json.loads(sys.argv[1]), int(sys.argv[2])
devices = None
if num_devices > 1:
  # Must happen before TensorFlow builds any graph in this process.
  cpu = tf2.config.list_physical_devices("CPU")[0]
  tf2.config.set_logical_device_configuration(
      cpu, [tf2.config.LogicalDeviceConfiguration()] * num_devices)
  devices = ["/cpu:%d" % i for i in range(num_devices)]
import tensorflow.compat.v1 as tf
import run_pretraining_test
tf.logging.set_verbosity(tf.logging.INFO)
results = run_pretraining_test.run_with_flags(values, devices=devices, seed=5)
print("RESULTS " + json.dumps({k: float(v) for k, v in results.items()}))
"""


def test_two_devices_match_one_device_of_the_same_global_batch(data_dir,
                                                               tmp_path):
  init = save_random_init(str(data_dir / "config.json"),
                          str(tmp_path / "init" / "model.ckpt"))
  runs = {}
  for num_devices in (1, 2):
    values = flag_values(data_dir, tmp_path / str(num_devices), do_train=True,
                         do_eval=True, num_train_steps=4, init_checkpoint=init)
    runs[num_devices] = subprocess.Popen(
        [sys.executable, "-c", _RUN_IN_SUBPROCESS, json.dumps(values),
         str(num_devices)], cwd=HERE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
  outputs = {n: run.communicate(timeout=300) for n, run in runs.items()}
  results, final_losses = {}, {}
  for n, (stdout, stderr) in outputs.items():
    assert runs[n].returncode == 0, stderr[-3000:]
    results[n] = json.loads(stdout.split("RESULTS ", 1)[1])
    final_losses[n] = float(
        re.search(r"Loss for final step: (\d+\.\d+)", stderr).group(1))
  assert "Using MirroredStrategy with devices" in outputs[2][1]
  assert "CPU:1" in outputs[2][1]
  # Same update (gradients averaged over the halves, clipped globally) and the
  # same reported training loss (the Estimator sums the replicas' losses).
  np.testing.assert_allclose(final_losses[2], final_losses[1], rtol=1e-5)
  for key, value in results[1].items():
    np.testing.assert_allclose(results[2][key], value, rtol=1e-5, atol=1e-6,
                               err_msg=key)
  one = tf.train.load_checkpoint(str(tmp_path / "1"))
  two = tf.train.load_checkpoint(str(tmp_path / "2"))
  for name in one.get_variable_to_shape_map():
    if "adam_" not in name:
      np.testing.assert_allclose(two.get_tensor(name), one.get_tensor(name),
                                 rtol=1e-4, atol=1e-6, err_msg=name)


def test_google_checkpoint_into_brightmart_config_is_explained(data_dir,
                                                               tmp_path):
  google_init = save_random_init(str(data_dir / "config_google.json"),
                                 str(tmp_path / "google" / "model.ckpt"))
  values = flag_values(data_dir, tmp_path / "out", do_train=True,
                       init_checkpoint=google_init)
  with pytest.raises(ValueError, match="google-layout.*brightmart-layout"):
    run_with_flags(values)
  assert checkpoint_step(tmp_path / "out") is None


@pytest.mark.parametrize("overrides,devices,on_cpu", [
    (dict(num_gpus=0), None, True),
    (dict(num_gpus=1), None, True),  # no GPU is visible here
    (dict(num_gpus=0, use_tpu=True), None, False),
    (dict(num_gpus=2), ["/cpu:0", "/cpu:1"], True),
    (dict(num_gpus=2), ["/gpu:0", "/gpu:1"], False)])
def test_runs_on_cpu_only_without_tpu_or_gpu(overrides, devices, on_cpu):
  values = dict(use_tpu=False)
  values.update(overrides)
  flags_obj = types.SimpleNamespace(**values)
  assert estimator_utils.runs_on_cpu(flags_obj, devices) == on_cpu


def test_random_seed_flag_seeds_the_graph(tmp_path):
  values = flag_values(tmp_path, tmp_path / "out", random_seed=7)
  config = estimator_utils.make_run_config(types.SimpleNamespace(**values))
  assert config.tf_random_seed == 7


def test_record_ids_beyond_vocab_size_fail_before_training(data_dir,
                                                           tmp_path):
  # The records hold ids up to 119; a config with 100 rows used to fail at
  # the first step ("indices ... is not in [0, 100)") after model.ckpt-0.
  config_path = str(tmp_path / "small_vocab.json")
  with open(config_path, "w") as f:
    json.dump(dict(TINY_CONFIG, vocab_size=100), f)
  output_dir = tmp_path / "out"
  values = flag_values(data_dir, output_dir, do_train=True,
                       bert_config_file=config_path)
  with pytest.raises(ValueError, match=(
      r"--input_file: .*train\.tfrecord record \d+ has input_ids id 1\d\d"
      r" >= vocab_size 100 of .*small_vocab\.json")):
    run_with_flags(values)
  assert not tf.io.gfile.exists(str(output_dir)) or \
      checkpoint_step(output_dir) is None
  # Segment ids are checked against type_vocab_size the same way.
  with open(config_path, "w") as f:
    json.dump(dict(TINY_CONFIG, type_vocab_size=1), f)
  with pytest.raises(ValueError,
                     match=r"segment_ids id 1 >= type_vocab_size 1"):
    run_pretraining.validate_flags(types.SimpleNamespace(**values))


def test_truncated_newest_checkpoint_resumes_from_previous_good_one(
    data_dir, tmp_path):
  # A crash while saving step 10 leaves its index truncated (issue: resuming
  # failed with DataLossError until the `checkpoint` file was edited by hand).
  run_with_flags(flag_values(data_dir, tmp_path, do_train=True))
  index = os.path.join(str(tmp_path), "model.ckpt-10.index")
  with open(index, "r+b") as f:
    f.truncate(os.path.getsize(index) // 2)
  run_with_flags(flag_values(data_dir, tmp_path, do_train=True,
                             num_train_steps=15))
  assert checkpoint_step(tmp_path) == 15
  reader = tf.train.load_checkpoint(os.path.join(str(tmp_path),
                                                 "model.ckpt-15"))
  assert reader.get_tensor("global_step") == 15
