# coding=utf-8
"""Estimator plumbing shared by run_pretraining.py and run_classifier.py.

Everything here is independent of the task a script trains: flags, the
TPUEstimator for CPU / one GPU / several GPUs / TPU, checkpoint initialisation,
the non-finite-loss guard, throughput logging and the eval-results file.

Stable API:

  define_common_flags(**defaults)
      Declares the absl flags every training script shares (once per process,
      through shared_flags): bert_config_file (alias
      albert_config_file), init_checkpoint, output_dir, use_tpu, tpu_name,
      tpu_zone, gcp_project, master, num_tpu_cores, iterations_per_loop,
      save_checkpoints_steps, keep_checkpoint_max, log_step_count_steps,
      optimizer (lamb|adamw), use_xla, use_amp, num_gpus,
      distribution_strategy (one_device|mirrored|multi_worker, see
      distribution.py), all_reduce_alg. Call once, at import time of the
      script.
  validate_common_flags(flags_obj) -> None
      Raises ValueError naming the flag for inconsistent values (e.g. use_amp on
      TPU, num_gpus above the visible GPUs, a missing init_checkpoint, a bad
      TF_CONFIG with --distribution_strategy=multi_worker).
  load_albert_config(path, flag_name="bert_config_file") -> modeling.AlbertConfig
      Reads the JSON config with an error naming the flag and the file.
  make_estimator(model_fn, flags_obj, train_batch_size, eval_batch_size=None,
                 predict_batch_size=None, devices=None) -> TPUEstimator
      The estimator for whatever hardware the flags select (make_run_config
      builds its RunConfig). `devices` (a list such as ["/cpu:0", "/cpu:1"])
      overrides the GPU list for tests. It logs global_step/sec and
      examples/sec every --log_step_count_steps steps.
  enable_xla_auto_clustering()
      Lets --use_xla cluster on CPU too; make_run_config calls it.
  runs_on_cpu(flags_obj, devices=None) -> bool
      True when no TPU or GPU is used, so CPU-only kernels (fused_ops) apply.
  num_replicas(flags_obj, devices=None) -> int
      Devices a global batch is split over (1 on CPU/one GPU, num_gpus, or the
      list length; under multi_worker the machines times each one's GPUs, or
      the machines when on CPU); on TPU the TPUEstimator splits it itself, so 1.
  check_batch_sizes(flags_obj, names, devices=None) -> None
      Each named global batch-size flag must divide evenly over the replicas.
  check_split_batch_sizes(flags_obj, devices=None) -> None
      check_batch_sizes for the batches the strategy splits: training, and
      evaluation except under multi_worker (where the chief evaluates alone).
  multi_worker_role(flags_obj) -> distribution.ClusterRole or None
      This task's place in the TF_CONFIG cluster under multi_worker.
  is_chief(flags_obj) -> bool
      False only on a multi_worker task other than the chief: such a task
      trains but writes nothing to output_dir's own files (no checkpoints,
      summaries, eval results); the scripts skip evaluation and repairs
      there.
  input_fn_from_dataset_fn(dataset_fn) -> input_fn(params, input_context=None)
      Wraps dataset_fn(batch_size, input_context) so that each replica of a
      MirroredStrategy reads params["batch_size"] / replicas rows.
  init_from_checkpoint(init_checkpoint, use_tpu) -> scaffold_fn or None
      Call inside model_fn after the graph is built: maps variables by name
      through modeling.get_assignment_map_from_checkpoint (optimizer slots are
      skipped, layout mismatches raise) and logs which variables were loaded.
  reported_loss(loss) -> loss to put in a TRAIN EstimatorSpec
      Divides by the replica count because the Estimator *sums* the replicas'
      training losses when it logs them (EVAL specs take the plain loss).
  finite_loss_guard(loss) -> op
      An assertion to make the train op depend on; it fails with the global step
      when the loss is NaN/Inf, before any variable is updated.
  train(estimator, input_fn, max_steps, hooks=()) -> None
      estimator.train that turns the guard's failure into a NonFiniteLossError
      naming the step and the last good checkpoint. Under multi_worker it goes
      through tf.estimator.train_and_evaluate (the only entry point of
      TensorFlow's Estimator that runs a TF_CONFIG cluster; the evaluation
      part is unused, the chief evaluates afterwards without a strategy).
  write_eval_results(output_dir, results, file_name="eval_results.txt") -> path
      Logs and writes "key = value" lines (sorted), atomically.
"""

import os
import re
import socket

from absl import flags
import tensorflow.compat.v1 as tf

import distribution
import gfile_utils
import modeling
import optimization
import shared_flags

FLAGS = flags.FLAGS

_NON_FINITE_MARKER = "Non-finite training loss at global step"


class NonFiniteLossError(RuntimeError):
  """The training loss became NaN or Inf."""


COMMON_FLAGS = (
    "bert_config_file", "random_seed", "init_checkpoint", "output_dir",
    "use_tpu", "tpu_name", "tpu_zone", "gcp_project", "master",
    "num_tpu_cores", "iterations_per_loop", "save_checkpoints_steps",
    "keep_checkpoint_max", "log_step_count_steps", "optimizer", "use_xla",
    "use_amp", "num_gpus", "distribution_strategy", "all_reduce_alg")


def define_common_flags(**defaults):
  """Declares the flags shared by the training scripts (shared_flags.define:
  once per process; `defaults` are the calling script's own defaults)."""
  shared_flags.define(*COMMON_FLAGS, **defaults)


def validate_common_flags(flags_obj):
  """Raises ValueError (naming the flag) for inconsistent common flags."""
  if not flags_obj.output_dir:
    raise ValueError("--output_dir is required.")
  if not flags_obj.bert_config_file:
    raise ValueError("--bert_config_file (or --albert_config_file) is required.")
  for name in ("iterations_per_loop", "save_checkpoints_steps",
               "keep_checkpoint_max", "log_step_count_steps", "num_tpu_cores"):
    if getattr(flags_obj, name) < 1:
      raise ValueError("--%s must be at least 1, got %d."
                       % (name, getattr(flags_obj, name)))
  if flags_obj.num_gpus < 0:
    raise ValueError("--num_gpus must be >= 0, got %d." % flags_obj.num_gpus)
  if flags_obj.use_tpu and not (flags_obj.tpu_name or flags_obj.master):
    raise ValueError("--use_tpu needs --tpu_name (or --master).")
  if flags_obj.use_tpu and flags_obj.num_gpus > 1:
    raise ValueError("--use_tpu and --num_gpus>1 exclude each other.")
  if flags_obj.use_amp:
    if flags_obj.use_tpu:
      raise ValueError("--use_amp is GPU float16 mixed precision; TPUs do not "
                       "use it. Drop --use_amp.")
    if flags_obj.num_gpus < 1 or not _visible_gpus():
      raise ValueError("--use_amp needs a GPU (none is visible or "
                       "--num_gpus=0). Drop --use_amp to train in float32.")
  if flags_obj.num_gpus > 1 and not flags_obj.use_tpu:
    visible = len(_visible_gpus())
    if flags_obj.num_gpus > visible:
      raise ValueError("--num_gpus=%d but only %d GPU(s) are visible."
                       % (flags_obj.num_gpus, visible))
  distribution.validate(flags_obj, len(_visible_gpus()))
  if flags_obj.init_checkpoint and not _checkpoint_exists(
      flags_obj.init_checkpoint):
    raise ValueError(
        "--init_checkpoint=%s matches no checkpoint: pass the prefix of the "
        ".index/.data files (e.g. albert_tiny_zh/albert_model.ckpt) or a "
        "directory with a 'checkpoint' file." % flags_obj.init_checkpoint)


def load_albert_config(path, flag_name="bert_config_file"):
  """Reads an AlbertConfig; errors name the flag and the file."""
  if not tf.io.gfile.exists(path):
    raise ValueError("--%s=%s does not exist; pass a config JSON such as "
                     "albert_config/albert_config_tiny.json." % (flag_name, path))
  try:
    return modeling.AlbertConfig.from_json_file(path)
  except ValueError as e:
    raise ValueError("--%s=%s: %s" % (flag_name, path, e))


def _visible_gpus():
  return tf.config.list_physical_devices("GPU")


def _checkpoint_exists(path):
  if tf.io.gfile.isdir(path):
    return tf.train.latest_checkpoint(path) is not None
  return tf.io.gfile.exists(path + ".index")


# ----------------------------------------------------------------------------
# Estimator construction.


def _strategy_devices(flags_obj, devices=None):
  """The device list of a MirroredStrategy, or None for a single device (and
  for multi_worker, whose devices the cluster decides)."""
  name = distribution.strategy_name(flags_obj, devices)
  if name == distribution.MULTI_WORKER:
    return None
  if devices:
    return list(devices)
  if name == distribution.ONE_DEVICE:
    return None
  return ["/gpu:%d" % i for i in range(flags_obj.num_gpus)]


def multi_worker_role(flags_obj):
  """This task's TF_CONFIG ClusterRole under multi_worker, else None."""
  if distribution.strategy_name(flags_obj) != distribution.MULTI_WORKER:
    return None
  return distribution.cluster_role()


def is_chief(flags_obj):
  """Whether this process writes output_dir (all but non-chief workers)."""
  role = multi_worker_role(flags_obj)
  return role is None or role.is_chief


def runs_on_cpu(flags_obj, devices=None):
  """True when the model runs on this host's CPU(s): no TPU, no GPU."""
  if flags_obj.use_tpu:
    return False
  strategy_devices = _strategy_devices(flags_obj, devices)
  if strategy_devices:
    return all("cpu" in device.lower() for device in strategy_devices)
  return flags_obj.num_gpus == 0 or not _visible_gpus()


def num_replicas(flags_obj, devices=None):
  role = multi_worker_role(flags_obj)
  if role is not None:
    return role.num_workers * distribution.local_replicas(
        flags_obj, len(_visible_gpus()))
  strategy_devices = _strategy_devices(flags_obj, devices)
  return len(strategy_devices) if strategy_devices else 1


def check_batch_sizes(flags_obj, names, devices=None):
  """Raises ValueError unless each global batch flag splits evenly over the
  replicas (every replica must get the same number of examples)."""
  replicas = num_replicas(flags_obj, devices)
  role = multi_worker_role(flags_obj)
  where = ("%d machines x %d" % (role.num_workers, replicas // role.num_workers)
           if role else "%d" % replicas)
  for name in names:
    value = getattr(flags_obj, name)
    if value % replicas:
      raise ValueError(
          "--%s=%d must be divisible by the %s replicas (it is the global "
          "batch, split evenly between them): pass a multiple of %d."
          % (name, value, where, replicas))


def check_split_batch_sizes(flags_obj, devices=None):
  """check_batch_sizes for the global batches the strategy splits between
  replicas: training and evaluation, or under multi_worker only training
  (the chief evaluates alone, without a strategy)."""
  names = ("train_batch_size", "eval_batch_size")
  if distribution.strategy_name(flags_obj, devices) == distribution.MULTI_WORKER:
    names = ("train_batch_size",)
  check_batch_sizes(flags_obj, names, devices)


def _session_config(flags_obj, strategy_devices):
  config = tf.ConfigProto(allow_soft_placement=True)
  if flags_obj.num_gpus == 0 and not flags_obj.use_tpu:
    config.device_count["GPU"] = 0
  num_cpus = sum(1 for d in strategy_devices or () if "cpu" in d.lower())
  if num_cpus > 1:
    # A session given a ConfigProto ignores the eager context's logical-device
    # setup: without this, soft placement folds every replica onto /cpu:0 and
    # the replicas' collective all-reduce waits forever.
    config.device_count["CPU"] = num_cpus
  if flags_obj.use_xla:
    enable_xla_auto_clustering()
    config.graph_options.optimizer_options.global_jit_level = (
        tf.OptimizerOptions.ON_1)
  return config


def enable_xla_auto_clustering():
  """Lets XLA auto-cluster on CPU too (TF only does it on GPU by default).

  The flag is read when the first session optimizes a graph, so this must run
  before any session is created.
  """
  xla_flags = os.environ.get("TF_XLA_FLAGS", "")
  if "--tf_xla_cpu_global_jit" not in xla_flags:
    os.environ["TF_XLA_FLAGS"] = (xla_flags + " --tf_xla_cpu_global_jit").strip()


def make_run_config(flags_obj, devices=None):
  """tf.estimator.tpu.RunConfig for the hardware the flags select."""
  tpu_cluster_resolver = None
  if flags_obj.use_tpu and flags_obj.tpu_name:
    tpu_cluster_resolver = tf.distribute.cluster_resolver.TPUClusterResolver(
        flags_obj.tpu_name, zone=flags_obj.tpu_zone,
        project=flags_obj.gcp_project)
  strategy = eval_strategy = None
  all_reduce_alg = getattr(flags_obj, "all_reduce_alg", None) or "auto"
  strategy_devices = _strategy_devices(flags_obj, devices)
  if strategy_devices:
    strategy = eval_strategy = distribution.mirrored_strategy(
        strategy_devices, all_reduce_alg)
  role = multi_worker_role(flags_obj)
  save_summary_steps = 100  # RunConfig's default
  if role is not None:
    # Estimator.evaluate/predict refuse a TF_CONFIG cluster, so evaluation
    # and prediction run on the chief alone, without a strategy.
    local_gpus = (0 if runs_on_cpu(flags_obj) else
                  distribution.local_replicas(flags_obj, len(_visible_gpus())))
    strategy = distribution.multi_worker_strategy(role, local_gpus,
                                                  all_reduce_alg)
    if not role.is_chief:
      # Without summaries a non-chief task writes nothing to output_dir: no
      # events of TPUEstimator's examples/sec hook, and (TensorFlow ties the
      # two together in MonitoredTrainingSession) no throw-away checkpoints
      # in output_dir/tmp_worker_N. It still restores from output_dir.
      save_summary_steps = None
  return tf.estimator.tpu.RunConfig(
      cluster=tpu_cluster_resolver,
      master=flags_obj.master,
      model_dir=flags_obj.output_dir,
      tf_random_seed=flags_obj.random_seed,
      save_checkpoints_steps=flags_obj.save_checkpoints_steps,
      keep_checkpoint_max=flags_obj.keep_checkpoint_max,
      log_step_count_steps=flags_obj.log_step_count_steps,
      save_summary_steps=save_summary_steps,
      session_config=_session_config(flags_obj, strategy_devices),
      train_distribute=strategy,
      eval_distribute=eval_strategy,
      tpu_config=tf.estimator.tpu.TPUConfig(
          # Off TPU every session run is one step; TPUEstimator would still
          # divide the logging interval by iterations_per_loop.
          iterations_per_loop=(flags_obj.iterations_per_loop
                               if flags_obj.use_tpu else 1),
          num_shards=flags_obj.num_tpu_cores,
          per_host_input_for_training=(
              tf.estimator.tpu.InputPipelineConfig.PER_HOST_V2)))


def make_estimator(model_fn, flags_obj, train_batch_size, eval_batch_size=None,
                   predict_batch_size=None, devices=None):
  """A TPUEstimator (TPU, or CPU/GPU with use_tpu=False) for `model_fn`."""
  return tf.estimator.tpu.TPUEstimator(
      use_tpu=flags_obj.use_tpu,
      model_fn=model_fn,
      config=make_run_config(flags_obj, devices),
      train_batch_size=train_batch_size,
      eval_batch_size=eval_batch_size,
      predict_batch_size=predict_batch_size)


def input_fn_from_dataset_fn(dataset_fn):
  """An input_fn giving each MirroredStrategy replica its share of the batch.

  Args:
    dataset_fn: dataset_fn(batch_size, input_context) -> tf.data.Dataset, where
      input_context is None or a tf.distribute.InputContext (to shard files
      between input pipelines).
  """

  def input_fn(params, input_context=None):
    batch_size = params["batch_size"]
    if input_context is not None:
      batch_size = input_context.get_per_replica_batch_size(batch_size)
    return dataset_fn(batch_size, input_context)

  return input_fn


# ----------------------------------------------------------------------------
# Inside model_fn.


def init_from_checkpoint(init_checkpoint, use_tpu):
  """Initialises graph variables from `init_checkpoint` by name.

  Returns the scaffold_fn TPUEstimator needs on TPU (None otherwise).
  """
  if not init_checkpoint:
    return None
  if tf.io.gfile.isdir(init_checkpoint):
    init_checkpoint = tf.train.latest_checkpoint(init_checkpoint)
  tvars = tf.trainable_variables()
  assignment_map, initialized = modeling.get_assignment_map_from_checkpoint(
      tvars, init_checkpoint)
  scaffold_fn = None
  if use_tpu:

    def tpu_scaffold():
      tf.train.init_from_checkpoint(init_checkpoint, assignment_map)
      return tf.train.Scaffold()

    scaffold_fn = tpu_scaffold
  else:
    tf.train.init_from_checkpoint(init_checkpoint, assignment_map)

  tf.logging.info("Initialising from %s:", init_checkpoint)
  for var in tvars:
    status = ", *INIT_FROM_CKPT*" if var.name in initialized else ""
    tf.logging.info("  name = %s, shape = %s%s", var.name, var.shape, status)
  num_loaded = sum(1 for var in tvars if var.name in initialized)
  tf.logging.info("Loaded %d of %d trainable variables from %s.", num_loaded,
                  len(tvars), init_checkpoint)
  return scaffold_fn


def guarded_train_op(loss, **optimizer_args):
  """(train_op, learning_rate) of optimization.create_optimizer, applied only
  while the loss is finite (see finite_loss_guard).

  The train branch of every model_fn (pretraining and fine-tuning) goes
  through here and `train_spec`.
  """
  with tf.control_dependencies([finite_loss_guard(loss)]):
    return optimization.create_optimizer(loss, **optimizer_args)


def train_spec(loss, train_op, scaffold_fn=None, training_hooks=None):
  """The TRAIN-mode TPUEstimatorSpec (the logged loss is a replica mean)."""
  return tf.estimator.tpu.TPUEstimatorSpec(
      mode=tf.estimator.ModeKeys.TRAIN, loss=reported_loss(loss),
      train_op=train_op, training_hooks=training_hooks,
      scaffold_fn=scaffold_fn)


def reported_loss(loss):
  """The loss for the EstimatorSpec: the Estimator sums it over replicas."""
  if tf.distribute.has_strategy():
    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    if replicas > 1:
      return loss / float(replicas)
  return loss


def finite_loss_guard(loss):
  """An assert op naming the step, to run before any update is applied."""
  step = tf.train.get_or_create_global_step()
  return tf.debugging.Assert(
      tf.reduce_all(tf.math.is_finite(loss)),
      [_NON_FINITE_MARKER, step + 1, "loss", loss], name="finite_loss_guard")


# ----------------------------------------------------------------------------
# Checkpoints and output directories.


def checkpoint_step(checkpoint_path):
  """The step in a `model.ckpt-N` name, or -1."""
  match = re.search(r"-(\d+)$", checkpoint_path)
  return int(match.group(1)) if match else -1


def _checkpoint_problem(checkpoint_path):
  """Why the checkpoint cannot be restored (None if every tensor reads)."""
  if not tf.io.gfile.exists(checkpoint_path + ".index"):
    return "its .index file is missing"
  try:
    reader = tf.train.NewCheckpointReader(checkpoint_path)
    for name in reader.get_variable_to_shape_map():
      reader.get_tensor(name)
  except (tf.errors.OpError, ValueError) as e:
    return "%s: %s" % (type(e).__name__, str(e).splitlines()[0][:200])
  return None


def _candidate_checkpoints(model_dir):
  """Every checkpoint prefix in model_dir (state file and .index files),
  newest step first."""
  prefixes = set()
  state = tf.train.get_checkpoint_state(model_dir)
  if state:
    for path in list(state.all_model_checkpoint_paths) + [
        state.model_checkpoint_path]:
      if path:  # get_checkpoint_state already joined relative entries
        prefixes.add(path)
  for index in tf.io.gfile.glob(os.path.join(model_dir, "*.ckpt-*.index")):
    prefixes.add(index[:-len(".index")])
  return sorted(prefixes, key=checkpoint_step, reverse=True)


def recover_latest_checkpoint(model_dir, repair=True):
  """Makes model_dir's newest *readable* checkpoint the one training resumes.

  A crash while saving can leave the newest checkpoint truncated; the
  Estimator would then fail with DataLossError on every restart. Unreadable
  checkpoints newer than the newest good one are skipped with a warning that
  says why, and the `checkpoint` state file is rewritten to name the good one
  (no file of the bad one is deleted).

  repair=False only finds the checkpoint (a non-chief multi_worker task: the
  chief alone writes to the shared model_dir).

  Returns:
    The checkpoint training will resume from, or None.
  """
  if not tf.io.gfile.isdir(model_dir):
    return None
  candidates = _candidate_checkpoints(model_dir)
  skipped = []
  for path in candidates:
    problem = _checkpoint_problem(path)
    if problem is None:
      break
    skipped.append(path)
    tf.logging.warning("Skipping unreadable checkpoint %s (%s); resuming from "
                       "an earlier one.", path, problem)
  else:
    path = None
  state = tf.train.get_checkpoint_state(model_dir)
  named = state.model_checkpoint_path if state else None
  if repair and (skipped or (path and named and os.path.basename(named) !=
                            os.path.basename(path))):
    good = [p for p in reversed(candidates) if p not in skipped]
    if path is None:
      tf.io.gfile.remove(os.path.join(model_dir, "checkpoint"))
      tf.logging.warning("No readable checkpoint left in %s: training starts "
                         "from the beginning.", model_dir)
    else:
      # Full paths: TF rewrites a relative model_dir's entries relative to
      # it, which would turn a bare file name into ../../model.ckpt-N.
      tf.train.update_checkpoint_state(
          model_dir, os.path.join(model_dir, os.path.basename(path)),
          all_model_checkpoint_paths=[
              os.path.join(model_dir, os.path.basename(p)) for p in good])
  return path


def copy_checkpoint(checkpoint_path, directory):
  """Copies a checkpoint's files into `directory` with a `checkpoint` state
  file naming it; returns the copy's prefix."""
  name = os.path.basename(checkpoint_path)
  for path in tf.io.gfile.glob(checkpoint_path + ".*"):
    tf.io.gfile.copy(path, os.path.join(directory, os.path.basename(path)),
                     overwrite=True)
  with tf.io.gfile.GFile(os.path.join(directory, "checkpoint"), "w") as f:
    f.write('model_checkpoint_path: "%s"\n' % name)
  return os.path.join(directory, name)


def latest_step(model_dir, repair=True):
  """The global step of model_dir's newest readable checkpoint, else 0
  (repair: as in recover_latest_checkpoint)."""
  checkpoint = recover_latest_checkpoint(model_dir, repair)
  if not checkpoint:
    return 0
  return checkpoint_global_step(checkpoint)


def checkpoint_global_step(checkpoint_path):
  """The global_step stored in a checkpoint (read by prefix, so it works on
  every filesystem, including prefix-matching ones like ram://)."""
  return int(tf.train.NewCheckpointReader(checkpoint_path).get_tensor(
      "global_step"))


def check_writable_dir(path, flag_name="output_dir"):
  """Creates `path` if needed and proves it is writable, before any work."""
  # Named per process: the workers of a multi_worker job probe the same
  # shared directory at the same moment.
  probe = os.path.join(path, ".write_test.%s.%d" % (socket.gethostname(),
                                                   os.getpid()))
  try:
    tf.io.gfile.makedirs(path)
    with tf.io.gfile.GFile(probe, "w") as f:
      f.write("ok")
    tf.io.gfile.remove(probe)
  except (tf.errors.OpError, OSError) as e:
    raise ValueError("--%s=%s is not writable (%s); pass a directory you can "
                     "write to." % (flag_name, path,
                                    str(e).splitlines()[0])) from e


# ----------------------------------------------------------------------------
# Running.


def train(estimator, input_fn, max_steps, hooks=()):
  """Trains to `max_steps`, resuming from the newest checkpoint in model_dir.

  Raises:
    NonFiniteLossError: `finite_loss_guard` fired; names the step and the last
      good checkpoint.
  """
  try:
    if _runs_a_cluster(estimator):
      tf.estimator.train_and_evaluate(
          estimator,
          tf.estimator.TrainSpec(
              input_fn, max_steps=max_steps,
              hooks=list(hooks) + [distribution.StopOnLostPeerHook()]),
          # Never called: a cluster without an "evaluator" task only trains.
          tf.estimator.EvalSpec(input_fn, steps=None))
    else:
      estimator.train(input_fn=input_fn, max_steps=max_steps, hooks=hooks)
  except tf.errors.InvalidArgumentError as e:
    match = re.search(re.escape(_NON_FINITE_MARKER) + r"\D*(\d+)", e.message)
    if not match:
      raise
    raise NonFiniteLossError(
        "Training stopped: the loss is NaN or Inf at step %s. No update of "
        "that step was applied; the last good checkpoint is %s. Lower "
        "--learning_rate or check the input data, then rerun the same command "
        "to resume from it." % (match.group(1),
                                tf.train.latest_checkpoint(estimator.model_dir)))


def _runs_a_cluster(estimator):
  """True for a multi_worker estimator (TF_CONFIG cluster + strategy)."""
  # pylint: disable=protected-access
  return bool(getattr(estimator.config, "_distribute_coordinator_mode", None))


def write_eval_results(output_dir, results, file_name="eval_results.txt"):
  """Logs and writes `key = value` lines, via a temporary file and rename."""
  path = os.path.join(output_dir, file_name)
  tf.logging.info("***** Eval results *****")
  with gfile_utils.atomic_write(path) as writer:
    for key in sorted(results):
      tf.logging.info("  %s = %s", key, results[key])
      writer.write("%s = %s\n" % (key, results[key]))
  return path
