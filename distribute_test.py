# coding=utf-8
"""Tests for multi-machine training (distribution.py, estimator_utils and
run_pretraining and the fine-tuning scripts under
--distribution_strategy=multi_worker).

The cluster test runs two worker processes on CPU that talk gRPC. TensorFlow's
gRPC server listens on every interface whatever address TF_CONFIG names, so
the workers run in a private network namespace holding only the loopback
device: nothing they open is reachable from outside this machine. The test
starts and stops every process itself.
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

import classifier_test_util
import distribution
import estimator_utils
import finetune_data
import finetuning
import modeling
import optimization
import pretraining_input
import run_pretraining
import run_pretraining_test

HERE = os.path.dirname(os.path.abspath(__file__))
NUM_STEPS = 60
CHECKPOINT_EVERY = 20
GLOBAL_BATCH = 8
# A wider initialisation than run_pretraining_test's: the first gradients'
# global norm (about 4) is above optimization.CLIP_NORM, so the cluster test
# covers clipping after the cross-worker average.
TINY_CONFIG = dict(run_pretraining_test.TINY_CONFIG, initializer_range=0.2)


def tf_config(addresses, index, job="worker"):
  return json.dumps({"cluster": {"worker": addresses},
                     "task": {"type": job, "index": index}})


# ----------------------------------------------------------------------------
# TF_CONFIG parsing.


def test_parses_workers_and_chief():
  role = distribution.parse_tf_config(tf_config(["a:1", "b:2", "c:3"], 2))
  assert (role.num_workers, role.worker_index, role.is_chief) == (3, 2, False)
  assert role.address == "c:3"
  assert distribution.parse_tf_config(tf_config(["a:1", "b:2"], 0)).is_chief
  with_chief = {"cluster": {"chief": ["h0:5"], "worker": ["h1:5", "h2:5"]},
                "task": {"type": "worker", "index": 0}}
  role = distribution.parse_tf_config(json.dumps(with_chief))
  # The chief is input pipeline 0; workers follow it.
  assert (role.num_workers, role.worker_index, role.is_chief) == (3, 1, False)
  with_chief["task"] = {"type": "chief", "index": 0}
  assert distribution.parse_tf_config(json.dumps(with_chief)).is_chief


@pytest.mark.parametrize("value,message", [
    ("", "unset or empty"),
    ('{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker"', 
     "is not valid JSON"),
    ('["a:1"]', "must be a JSON object"),
    ('{"task": {"type": "worker", "index": 0}}',
     "needs a non-empty object at cluster"),
    ('{"cluster": {"worker": ["a:1"], "ps": ["b:1"]}, "task": {"type": '
     '"worker", "index": 0}}', "'ps' job"),
    ('{"cluster": {"worker": "a:1"}, "task": {"type": "worker", "index": 0}}',
     "must be a non-empty list"),
    ('{"cluster": {"worker": ["a:1", "b"]}, "task": {"type": "worker", '
     '"index": 0}}', r"cluster\.worker\[1\] = 'b' is not a \"host:port\""),
    ('{"cluster": {"worker": ["a:1", "a:1"]}, "task": {"type": "worker", '
     '"index": 0}}', "lists a:1 twice"),
    ('{"cluster": {"chief": ["a:1", "b:1"]}, "task": {"type": "chief", '
     '"index": 0}}', "2 chiefs"),
    ('{"cluster": {"worker": ["a:1"]}}', "needs task: "),
    ('{"cluster": {"worker": ["a:1"]}, "task": {"type": "chief", "index": 0}}',
     "'chief', which is not a job"),
    ('{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", '
     '"index": "0"}}', "must be an integer"),
    ('{"cluster": {"worker": ["a:1", "b:1"]}, "task": {"type": "worker", '
     '"index": 2}}', r"task\.index is 2 but cluster\.worker has 2 task\(s\) "
                     r"\(indices 0 to 1\)"),
])
def test_bad_tf_config_is_explained(value, message):
  with pytest.raises(ValueError, match=message) as error:
    distribution.parse_tf_config(value)
  assert "TF_CONFIG" in str(error.value)


# ----------------------------------------------------------------------------
# Flag validation: every error comes before a graph or a server exists.


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
  path = tmp_path_factory.mktemp("distribute_data")
  with open(str(path / "config.json"), "w") as f:
    json.dump(TINY_CONFIG, f)
  # Two files of eight different examples: by-file sharding gives each
  # worker one; the reference run reads both.
  for name, seed in (("a", 10), ("b", 11)):
    run_pretraining_test.write_records(str(path / ("%s.tfrecord" % name)), 8,
                                       seed=seed)
  run_pretraining_test.write_records(str(path / "dev.tfrecord"), 16, seed=1)
  run_pretraining_test.save_random_init(str(path / "config.json"),
                                        str(path / "init" / "model.ckpt"))
  return path


def flag_values(data_dir, output_dir, **overrides):
  values = run_pretraining_test.flag_values(
      data_dir, output_dir, do_train=True,
      input_file="%s,%s" % (data_dir / "a.tfrecord", data_dir / "b.tfrecord"),
      train_batch_size=GLOBAL_BATCH, num_train_steps=NUM_STEPS,
      num_warmup_steps=5, save_checkpoints_steps=CHECKPOINT_EVERY,
      log_step_count_steps=1,
      init_checkpoint=str(data_dir / "init" / "model.ckpt"))
  values.update(overrides)
  return values


@pytest.mark.parametrize("environ,overrides,message", [
    ({}, {}, "multi_worker reads the cluster from the TF_CONFIG environment "
             "variable, which is unset"),
    ({"TF_CONFIG": "{cluster: 1}"}, {}, "TF_CONFIG is not valid JSON"),
    ({"TF_CONFIG": tf_config(["127.0.0.1:1", "127.0.0.1:2"], 2)}, {},
     r"task\.index is 2 but"),
    ({"TF_CONFIG": tf_config(["127.0.0.1:1", "127.0.0.1:2"], 1)},
     {"train_batch_size": 7}, r"--train_batch_size=7 must be divisible by "
                              r"the 2 machines x 1 replicas"),
    ({"TF_CONFIG": tf_config(["127.0.0.1:1", "127.0.0.1:2"], 1)},
     {"all_reduce_alg": "nccl"}, "--all_reduce_alg=nccl needs GPUs"),
    ({"TF_CONFIG": tf_config(["127.0.0.1:1"], 0)}, {"use_tpu": True,
                                                    "tpu_name": "t"},
     "--use_tpu replicates over the TPU's cores itself"),
])
def test_bad_cluster_setup_fails_before_anything_is_built(
    data_dir, tmp_path, monkeypatch, environ, overrides, message):
  monkeypatch.delenv("TF_CONFIG", raising=False)
  for name, value in environ.items():
    monkeypatch.setenv(name, value)
  values = flag_values(data_dir, tmp_path / "out",
                       distribution_strategy="multi_worker", **overrides)
  with pytest.raises(ValueError, match=message):
    run_pretraining_test.run_with_flags(values)
  assert not (tmp_path / "out").exists()
  assert not distribution._MULTI_WORKER_STRATEGIES  # no server was started


def test_fine_tuning_checks_the_training_batch_against_the_cluster(
    data_dir, tmp_path, monkeypatch):
  monkeypatch.setenv("TF_CONFIG", tf_config(["127.0.0.1:1", "127.0.0.1:2"],
                                            1))
  vocab_file = classifier_test_util.write_vocab(str(tmp_path))
  values = dict(
      flag_values(data_dir, tmp_path / "out",
                  distribution_strategy="multi_worker"),
      do_predict=False, export_dir=None, vocab_file=vocab_file,
      spm_model_file=None, albert_hub_module_handle=None,
      dynamic_length=True, predict_batch_size=8, train_step=0,
      num_train_epochs=1.0, warmup_proportion=0.1)
  # The chief evaluates alone: an odd eval batch is fine, an odd global
  # training batch is not.
  finetuning.validate_flags(types.SimpleNamespace(**dict(
      values, train_batch_size=8, eval_batch_size=7)))
  with pytest.raises(ValueError, match=r"--train_batch_size=7 must be "
                                       r"divisible by the 2 machines"):
    finetuning.validate_flags(types.SimpleNamespace(**dict(
        values, train_batch_size=7)))


def test_flags_choose_the_strategy(monkeypatch):
  monkeypatch.setenv("TF_CONFIG", tf_config(["h0:1", "h1:1", "h2:1"], 1))
  base = dict(use_tpu=False, num_gpus=0, distribution_strategy=None)
  flags_obj = types.SimpleNamespace(**base)
  assert distribution.strategy_name(flags_obj) == "one_device"
  assert estimator_utils.num_replicas(flags_obj) == 1
  assert estimator_utils.is_chief(flags_obj)  # TF_CONFIG alone changes nothing
  flags_obj = types.SimpleNamespace(**dict(base, num_gpus=4))
  assert distribution.strategy_name(flags_obj) == "mirrored"
  flags_obj = types.SimpleNamespace(
      **dict(base, distribution_strategy="multi_worker"))
  assert estimator_utils.num_replicas(flags_obj) == 3
  assert not estimator_utils.is_chief(flags_obj)
  with pytest.raises(ValueError, match="pass --num_gpus=1, or "
                                       "--distribution_strategy=mirrored"):
    distribution.validate(types.SimpleNamespace(
        **dict(base, num_gpus=2, distribution_strategy="one_device")), 2,
                          environ={})
  # A cluster left in TF_CONFIG would turn a one-machine run into a task of it.
  with pytest.raises(ValueError, match="TF_CONFIG names a cluster but "
                                       "--distribution_strategy=one_device"):
    distribution.validate(types.SimpleNamespace(**base), 0)
  assert distribution.validate(types.SimpleNamespace(**base), 0,
                               environ={"TF_CONFIG": "{}"}) is None


# ----------------------------------------------------------------------------
# Input sharding between workers.


def read_input_ids(input_fn, batch_size, input_context):
  with tf.Graph().as_default():
    dataset = input_fn({"batch_size": batch_size}, input_context=input_context)
    batch = tf.data.make_one_shot_iterator(dataset).get_next()
    rows = []
    with tf.Session() as session:
      while True:
        try:
          rows.extend(tuple(row) for row in session.run(batch["input_ids"]))
        except tf.errors.OutOfRangeError:
          return rows


@pytest.mark.parametrize("file_names,num_workers,by_file", [
    (("a",), 2, False),  # fewer files than workers: by record
    (("a", "b"), 2, True),
    (("a", "b", "dev"), 2, True),
])
def test_workers_read_disjoint_shares_of_the_input(data_dir, file_names,
                                                   num_workers, by_file):
  files = [str(data_dir / ("%s.tfrecord" % name)) for name in file_names]
  everything = read_input_ids(
      run_pretraining.input_fn_builder(
          files, run_pretraining_test.SEQ_LENGTH,
          run_pretraining_test.NUM_PREDICTIONS, False), 1, None)
  shares = []
  for index in range(num_workers):
    context = tf.distribute.InputContext(
        num_input_pipelines=num_workers, input_pipeline_id=index,
        num_replicas_in_sync=num_workers)
    own_files, record_shard = distribution.shard_files_or_records(files,
                                                                  context)
    assert (record_shard is None) == by_file
    assert len(own_files) == (len(files[index::num_workers]) if by_file
                              else len(files))
    shares.append(read_input_ids(
        run_pretraining.input_fn_builder(
            files, run_pretraining_test.SEQ_LENGTH,
            run_pretraining_test.NUM_PREDICTIONS, False), num_workers,
        context))  # global batch num_workers: one row per worker
  # Every example is read, by exactly one worker.
  assert sorted(shares[0] + shares[1]) == sorted(everything)
  assert not set(shares[0]) & set(shares[1])
  assert all(shares)


def test_fine_tuning_features_are_sharded_by_record(tmp_path):
  spec = finetune_data.FeatureSpec.classifier()
  features = finetune_data.prepare_features_file(
      lambda stats: (dict(input_ids=[i + 1] * (2 + i % 3),
                          input_mask=[1] * (2 + i % 3),
                          segment_ids=[0] * (2 + i % 3), label_ids=i % 2,
                          example_index=i) for i in range(10)),
      spec, "fp", str(tmp_path), "dev")
  shares = []
  for index in range(2):
    context = tf.distribute.InputContext(
        num_input_pipelines=2, input_pipeline_id=index, num_replicas_in_sync=2)
    with tf.Graph().as_default():
      batch = tf.data.make_one_shot_iterator(finetune_data.features_dataset(
          features.path, spec, 1, 8, False, False,
          input_context=context)).get_next()
      share = []
      with tf.Session() as session:
        try:
          while True:
            share.extend(session.run(batch["example_index"]).tolist())
        except tf.errors.OutOfRangeError:
          pass
    shares.append(share)
  assert sorted(shares[0] + shares[1]) == list(range(10))
  assert len(shares[0]) == len(shares[1]) == 5


# ----------------------------------------------------------------------------
# Two workers against one process.

# Runs run_pretraining in a subprocess. The training input is read in a fixed
# order (each file gives batch/num_files rows of every batch, in turn), so
# that the reference process (both files) and the two workers (one file
# each, sharded by file) train on the same global batches, and a restarted
# run sees the batches it would have seen: with 8 examples per file and 4 per
# worker, the input repeats every 2 steps and checkpoints fall on even steps.
_RUN = """
import json, sys, time
import tensorflow.compat.v1 as tf
import distribute_test, estimator_utils, pretraining_input, run_pretraining_test
values, seconds_per_step = json.loads(sys.argv[1]), float(sys.argv[2])
real_dataset = pretraining_input.make_pretraining_dataset
pretraining_input.make_pretraining_dataset = (
    lambda *args, **kwargs: distribute_test.fixed_order_dataset(
        real_dataset, *args, **kwargs))
real_train = estimator_utils.train
estimator_utils.train = lambda estimator, input_fn, max_steps, hooks=(): (
    real_train(estimator, input_fn, max_steps,
               list(hooks) + [distribute_test.SlowStepHook(seconds_per_step)]))
tf.logging.set_verbosity(tf.logging.INFO)
run_pretraining_test.run_with_flags(values)
"""


def fixed_order_dataset(real_dataset, input_files, max_seq_length,
                        max_predictions_per_seq, is_training, batch_size,
                        record_shard=None, **kwargs):
  """make_pretraining_dataset without shuffling (see _RUN)."""
  if not is_training:
    return real_dataset(input_files, max_seq_length, max_predictions_per_seq,
                        is_training, batch_size, record_shard=record_shard,
                        **kwargs)
  assert record_shard is None
  spec = pretraining_input.pretraining_feature_spec(max_seq_length,
                                                    max_predictions_per_seq)
  streams = tuple(
      tf.data.TFRecordDataset(path).repeat().map(
          lambda record: pretraining_input.decode_record(record, spec)).batch(
              batch_size // len(input_files), drop_remainder=True)
      for path in input_files)
  return tf.data.Dataset.zip(streams).map(
      lambda *parts: {name: tf.concat([part[name] for part in parts], 0)
                      for name in parts[0]})


# Runs run_classifier.py as its command line does, each step stretched. It
# must not import this module: run_pretraining, imported first, would set
# the shared flags' defaults (optimizer=lamb) for run_classifier.
_RUN_CLASSIFIER = """
import json, runpy, sys, time
import tensorflow.compat.v1 as tf
import estimator_utils
values, seconds_per_step = json.loads(sys.argv[1]), float(sys.argv[2])
sys.argv = ["run_classifier.py"] + ["--%s=%s" % item
                                    for item in sorted(values.items())]

class SlowStepHook(tf.train.SessionRunHook):
  def after_run(self, run_context, run_values):
    time.sleep(seconds_per_step)

real_train = estimator_utils.train
estimator_utils.train = lambda estimator, input_fn, max_steps, hooks=(): (
    real_train(estimator, input_fn, max_steps, list(hooks) + [SlowStepHook()]))
runpy.run_module("run_classifier", run_name="__main__")
"""


class SlowStepHook(tf.train.SessionRunHook):
  """Stretches each step so the test can kill a worker mid-run."""

  def __init__(self, seconds):
    self._seconds = seconds

  def after_run(self, run_context, run_values):
    time.sleep(self._seconds)


class PrivateNetwork(object):
  """A network namespace with only a loopback device, for the workers.

  Needs root (unshare/nsenter); the test is skipped without it.
  """

  def __init__(self):
    self._holder = subprocess.Popen(["unshare", "--net", "sleep", "3600"])
    time.sleep(0.2)
    setup = subprocess.run(self.command(["ip", "link", "set", "lo", "up"]),
                           capture_output=True, text=True)
    if setup.returncode != 0 or self._holder.poll() is not None:
      self.close()
      pytest.skip("cannot create a private network namespace (%s): the "
                  "cluster test needs root" % setup.stderr.strip())
    self._next_port = 23456

  def command(self, args):
    return ["nsenter", "--target", str(self._holder.pid), "--net"] + args

  def addresses(self, count):
    """Fresh loopback addresses (every port is free in a new namespace)."""
    ports = range(self._next_port, self._next_port + count)
    self._next_port += count
    return ["127.0.0.1:%d" % port for port in ports]

  def close(self):
    if self._holder.poll() is None:
      self._holder.kill()
    self._holder.wait()


class Job(object):
  """The subprocesses of one test; all stopped at the end."""

  def __init__(self, log_dir):
    self.log_dir = log_dir
    self.processes = []

  def start(self, name, values, environ=None, prefix=(), seconds_per_step=0.0,
            script=_RUN):
    """Runs `script` (_RUN or _RUN_CLASSIFIER, given the flag `values`) in
    a subprocess logging to name.log."""
    log = open(os.path.join(self.log_dir, name + ".log"), "w")
    process = subprocess.Popen(
        list(prefix) + [sys.executable, "-c", script, json.dumps(values),
                        str(seconds_per_step)],
        # One intra-op thread: every reduction then sums in one order, so
        # losses compare at rtol 1e-5 however loaded the machine is.
        cwd=HERE, env=dict(os.environ, TF_NUM_INTRAOP_THREADS="1",
                           **(environ or {})), stdout=log,
        stderr=subprocess.STDOUT)
    process.log_path = log.name
    log.close()
    self.processes.append(process)
    return process

  def start_cluster(self, name, network, values, seconds_per_step=0.0,
                    script=_RUN):
    addresses = network.addresses(2)
    values = dict(values, distribution_strategy="multi_worker")
    return [self.start("%s_worker%d" % (name, index), values,
                       {"TF_CONFIG": tf_config(addresses, index)},
                       network.command([]), seconds_per_step, script)
            for index in range(2)]

  def stop(self):
    for process in self.processes:
      if process.poll() is None:
        process.kill()
      process.wait()


def kill_worker_when(workers, ready, what, timeout=240):
  """Waits until ready() while both workers run, then kills worker 1."""
  deadline = time.time() + timeout
  while not ready():
    assert workers[0].poll() is None and workers[1].poll() is None, \
        read_log(workers[0])[-3000:] + read_log(workers[1])[-3000:]
    assert time.time() < deadline, "no %s after %d s" % (what, timeout)
    time.sleep(0.05)
  workers[1].send_signal(signal.SIGKILL)
  workers[1].wait()


def read_log(process):
  with open(process.log_path) as f:
    return f.read()


def finish(process, timeout):
  try:
    process.wait(timeout=timeout)
  except subprocess.TimeoutExpired:
    pytest.fail("%s still running after %d s:\n%s" % (
        process.log_path, timeout, read_log(process)[-3000:]))
  return read_log(process)


def step_losses(log):
  """{step: loss} from the per-step LoggingTensorHook lines (the replica's
  own loss; a restarted run logs its replayed steps again, same values)."""
  losses = {}
  for line in log.splitlines():
    if "learning_rate = " in line:
      loss = re.search(r"\bloss = (\d+\.\d+)", line)
      step = re.search(r"\bstep = (\d+)", line)
      if loss and step:
        losses[int(step.group(1))] = float(loss.group(1))
  return losses


def test_two_workers_match_one_process_and_survive_a_killed_worker(
    data_dir, tmp_path):
  network = PrivateNetwork()
  job = Job(str(tmp_path))
  try:
    _run_cluster_test(data_dir, tmp_path, network, job)
  finally:
    job.stop()
    network.close()


def initial_gradient_norms(data_dir):
  """Global gradient norms at the initial checkpoint: of the first global
  batch, and of each worker's half of it."""
  config = modeling.AlbertConfig.from_dict(TINY_CONFIG)
  norms = []
  for files in (("a", "b"), ("a",), ("b",)):
    with tf.Graph().as_default():
      dataset = fixed_order_dataset(
          None, [str(data_dir / ("%s.tfrecord" % name)) for name in files],
          run_pretraining_test.SEQ_LENGTH,
          run_pretraining_test.NUM_PREDICTIONS, True,
          GLOBAL_BATCH // 2 * len(files))  # half a batch per file
      features = tf.data.make_one_shot_iterator(dataset).get_next()
      loss = run_pretraining.pretraining_outputs(config, features, True,
                                                 False)["total_loss"]
      variables = tf.trainable_variables()
      tf.train.init_from_checkpoint(
          str(data_dir / "init" / "model.ckpt"),
          {variable.op.name: variable for variable in variables})
      norm = tf.global_norm(tf.gradients(loss, variables))
      with tf.Session() as session:
        session.run(tf.global_variables_initializer())
        norms.append(session.run(norm))
  return norms


def _run_cluster_test(data_dir, tmp_path, network, job):
  cluster_dir, reference_dir = tmp_path / "cluster", tmp_path / "reference"
  reference = job.start("reference", flag_values(data_dir, reference_dir))
  # 1. Both workers train until the chief has saved a checkpoint; then
  # worker 1 is killed.
  first = job.start_cluster("first", network,
                            flag_values(data_dir, cluster_dir),
                            seconds_per_step=0.1)
  # (While they start.) Clipping each worker's gradient, or none, would
  # change the update.
  assert min(initial_gradient_norms(data_dir)) > optimization.CLIP_NORM
  kill_worker_when(
      first, lambda: (run_pretraining_test.checkpoint_step(cluster_dir) or 0)
      >= CHECKPOINT_EVERY, "checkpoint")
  killed_at = run_pretraining_test.checkpoint_step(cluster_dir)
  assert CHECKPOINT_EVERY <= killed_at < NUM_STEPS
  # The chief stops by itself (instead of retrying a dead collective group).
  chief_log = finish(first[0], timeout=120)
  assert first[0].returncode != 0
  assert "LostPeerError: Another task of the multi_worker cluster failed" in \
      chief_log

  # 2. Restarting both resumes from the newest checkpoint and ends at
  # NUM_STEPS; the chief then evaluates.
  second = job.start_cluster("second", network, flag_values(
      data_dir, cluster_dir, do_eval=True))
  logs = [finish(process, timeout=300) for process in second]
  for process, log in zip(second, logs):
    assert process.returncode == 0, log[-3000:]
    restored = re.findall(r"Restoring parameters from .*model\.ckpt-(\d+)",
                          log)
    assert restored and int(restored[0]) >= killed_at
  assert run_pretraining_test.checkpoint_step(cluster_dir) == NUM_STEPS
  reference_log = finish(reference, timeout=300)
  assert reference.returncode == 0, reference_log[-3000:]

  # Each worker read its own file.
  for index, log in enumerate(logs):
    assert ("Input pipeline %d of 2 reads 1 of 2 file(s) (sharded by file)"
            % index) in log

  # Losses: the mean of the two workers' half-batch losses is the reference
  # loss of the whole batch, at every step both launches logged; and the
  # Estimator's cross-worker loss of the last step is the reference's.
  reference_losses = step_losses(reference_log)
  assert sorted(reference_losses) == list(range(NUM_STEPS))
  compared = 0
  for chief_log_, worker_log in ((chief_log, read_log(first[1])), logs):
    chief_losses, worker_losses = step_losses(chief_log_), step_losses(
        worker_log)
    for step in sorted(set(chief_losses) & set(worker_losses)):
      np.testing.assert_allclose(
          (chief_losses[step] + worker_losses[step]) / 2,
          reference_losses[step], rtol=1e-5, err_msg="step %d" % step)
      compared += 1
  assert compared >= NUM_STEPS - killed_at
  final_losses = [float(re.search(r"Loss for final step: (\d+\.\d+)",
                                  log).group(1))
                  for log in logs + [reference_log]]
  np.testing.assert_allclose(final_losses, final_losses[-1], rtol=1e-5)

  # Final weights and optimizer slots equal the reference run's. Except the
  # attention key bias: softmax ignores it (it adds the same q.b to every
  # score of a query), so its gradient is rounding noise, which LAMB's
  # normalised update turns into steps of learning-rate size.
  cluster = tf.train.load_checkpoint(str(cluster_dir))
  single = tf.train.load_checkpoint(str(reference_dir))
  names = single.get_variable_to_shape_map()
  assert sorted(cluster.get_variable_to_shape_map()) == sorted(names)
  for name in names:
    if "attention/self/key/bias" in name:
      continue
    np.testing.assert_allclose(cluster.get_tensor(name),
                               single.get_tensor(name), rtol=1e-5, atol=5e-6,
                               err_msg=name)

  # Only the chief wrote to output_dir: its checkpoints and graph, one events
  # file per chief launch, its eval results; no worker's temporary
  # checkpoints (output_dir/tmp_worker_1) or events.
  names = sorted(os.listdir(str(cluster_dir)))
  assert not [n for n in names if n.startswith("tmp") or "write_test" in n]
  assert len([n for n in names if n.startswith("events.out")]) == 2
  assert "eval_results.txt" in names
  assert "Not the chief: the chief evaluates" in logs[1]
  for log in (read_log(first[1]), logs[1]):
    assert "Saving checkpoints" not in log
    assert "CheckpointSaverHook" not in log


# ----------------------------------------------------------------------------
# Fine-tuning on two workers.

FINE_TUNING_STEPS = 36  # 3 epochs of 192 examples, batch 16
ROUND = 12  # save_checkpoints_steps: a dev evaluation every 12 steps


def steps_run(log):
  """Training steps a log shows (one throughput line per step after each
  session's first, with --log_step_count_steps=1)."""
  return log.count("global_step/sec: ")


def test_two_workers_fine_tune_in_rounds_and_survive_a_killed_worker(
    tmp_path):
  root = str(tmp_path)
  values = dict(
      task_name="generic_pair",
      data_dir=os.path.join(root, "data"),
      vocab_file=classifier_test_util.write_vocab(root),
      bert_config_file=classifier_test_util.write_config(root),
      output_dir=os.path.join(root, "out"), max_seq_length=32,
      train_batch_size=16, eval_batch_size=16, predict_batch_size=16,
      learning_rate=2e-3, num_train_epochs=3, save_checkpoints_steps=ROUND,
      log_step_count_steps=1, num_gpus=0, do_train=True, do_eval=True,
      do_predict=True)
  classifier_test_util.write_toy_task(values["data_dir"],
                                      np.random.RandomState(0))
  pretrained = os.path.join(root, "pretrained")
  os.makedirs(pretrained)
  values["init_checkpoint"] = classifier_test_util.write_pretrained_checkpoint(
      pretrained, values["bert_config_file"])
  network = PrivateNetwork()
  job = Job(root)
  try:
    # 1. Worker 1 is killed in the second round, after the chief evaluated
    # the first round's checkpoint.
    first = job.start_cluster("first", network, values, seconds_per_step=0.3,
                              script=_RUN_CLASSIFIER)
    history = os.path.join(values["output_dir"], finetuning.EVAL_HISTORY_FILE)
    kill_worker_when(first, lambda: (os.path.exists(history) and
                                     steps_run(read_log(first[0])) > ROUND + 2),
                     "second round")
    chief_log = finish(first[0], timeout=120)
    assert "LostPeerError" in chief_log
    with open(history) as f:
      assert json.load(f) == ["model.ckpt-%d" % ROUND]

    # 2. Restarted, both resume from the checkpoint the chief evaluated,
    # train the remaining rounds in step and end at the last step.
    second = job.start_cluster("second", network, values,
                               script=_RUN_CLASSIFIER)
    logs = [finish(process, timeout=300) for process in second]
  finally:
    job.stop()
    network.close()
  for process, log in zip(second, logs):
    assert process.returncode == 0, log[-3000:]
    assert re.search(r"Restoring parameters from .*model\.ckpt-%d\b" % ROUND,
                     log), log[-3000:]
    assert "Saving checkpoints for %d" % FINE_TUNING_STEPS in logs[0]
  # Each worker read half of the (one) training file.
  for index, log in enumerate(logs):
    assert "Input pipeline %d of 2 reads every 2-th record" % index in log

  # The chief evaluated every round once, kept the best, predicted.
  output_dir = values["output_dir"]
  with open(history) as f:
    assert json.load(f) == ["model.ckpt-%d" % step for step in
                            range(ROUND, FINE_TUNING_STEPS + 1, ROUND)]
  best = os.path.join(output_dir, finetuning.BEST_DIR)
  assert tf.train.latest_checkpoint(best)
  with open(os.path.join(output_dir, "eval_results.txt")) as f:
    results = dict(line.rstrip("\n").split(" = ", 1) for line in f)
  assert float(results["eval_accuracy"]) > 0.9
  with open(os.path.join(output_dir, "test_results.tsv")) as f:
    assert len(f.read().splitlines()) == 24

  # Worker 1 wrote only its feature cache, under worker_1/; no checkpoint,
  # events or evaluation of its own.
  assert "Not the chief: the chief evaluates, predicts and exports." in logs[1]
  for log in (read_log(first[1]), logs[1]):
    assert "Saving checkpoints" not in log
    assert "Eval results" not in log
  worker_files = os.listdir(os.path.join(output_dir, "worker_1"))
  assert worker_files and all(name.startswith("train.") for name in
                              worker_files), worker_files
  names = os.listdir(output_dir)
  assert not [n for n in names if n.startswith("tmp") or "write_test" in n]
  assert len([n for n in names if n.startswith("events.out")]) == 2
