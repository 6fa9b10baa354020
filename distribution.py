# coding=utf-8
"""Which devices and machines a training script replicates over.

--distribution_strategy picks one of:
  one_device    one CPU or GPU (what --num_gpus<=1 always meant);
  mirrored      tf.distribute.MirroredStrategy over this machine's --num_gpus
                GPUs (what --num_gpus>1 always meant);
  multi_worker  tf.distribute MultiWorkerMirroredStrategy (synchronous
                collective all-reduce) over the machines listed in the standard
                TF_CONFIG environment variable, --num_gpus GPUs (or the CPU)
                on each.
Unset, it is mirrored for --num_gpus>1 and one_device otherwise.

TF_CONFIG is parsed and checked here, before any graph or server exists, so
a typo in it is an error naming the JSON path instead of a hang or a gRPC
failure minutes later. Only `chief` and `worker` tasks are supported: every
task trains, the chief (the `chief` task, else worker 0) also writes the
checkpoints, summaries and evaluation results.

Under multi_worker each machine is one tf.data input pipeline
(shard_files_or_records), TensorFlow's gRPC server listens on every interface
at the task's TF_CONFIG port, and StopOnLostPeerHook ends training on the
surviving tasks when one dies (restarting them all resumes from the newest
checkpoint).
"""

import collections
import json
import os
import re

import tensorflow.compat.v1 as tf

ONE_DEVICE, MIRRORED, MULTI_WORKER = "one_device", "mirrored", "multi_worker"
STRATEGIES = (ONE_DEVICE, MIRRORED, MULTI_WORKER)
ALL_REDUCE_ALGS = ("auto", "ring", "nccl")
TF_CONFIG = "TF_CONFIG"
TRAINING_JOBS = ("chief", "worker")

_ADDRESS = re.compile(r"^[^\s:/]+:\d{1,5}$|^\[[0-9a-fA-F:.]+\]:\d{1,5}$")


class ClusterRole(collections.namedtuple(
    "ClusterRole", ["cluster", "task_type", "task_index"])):
  """This process's place in a TF_CONFIG cluster.

  cluster: {"chief": [...], "worker": [...]} as in TF_CONFIG.
  task_type, task_index: this process's task.
  """

  @property
  def num_workers(self):
    """Training tasks (chief included)."""
    return sum(len(self.cluster.get(job, ())) for job in TRAINING_JOBS)

  @property
  def worker_index(self):
    """Position among the training tasks: the chief is 0, then the workers
    (the order TensorFlow numbers input pipelines in)."""
    if self.task_type == "chief":
      return 0
    return len(self.cluster.get("chief", ())) + self.task_index

  @property
  def is_chief(self):
    return self.worker_index == 0

  @property
  def address(self):
    return self.cluster[self.task_type][self.task_index]


def _config_error(message, value):
  shown = value if len(value) <= 300 else value[:300] + "..."
  return ValueError("%s %s. Each machine needs TF_CONFIG like "
                    "'{\"cluster\": {\"worker\": [\"host0:12345\", "
                    "\"host1:12345\"]}, \"task\": {\"type\": \"worker\", "
                    "\"index\": 0}}' (its own task index). TF_CONFIG was: %s"
                    % (TF_CONFIG, message, shown))


def parse_tf_config(value):
  """Parses and checks a TF_CONFIG string for --distribution_strategy=
  multi_worker.

  Returns:
    A ClusterRole.

  Raises:
    ValueError naming the JSON path of the problem and what to do.
  """
  if not value or not value.strip():
    raise ValueError(
        "--distribution_strategy=multi_worker reads the cluster from the %s "
        "environment variable, which is unset or empty. Set it on every "
        "machine (see README, 'Training on several machines'), or use "
        "--distribution_strategy=mirrored for one machine." % TF_CONFIG)
  try:
    config = json.loads(value)
  except ValueError as e:
    raise _config_error("is not valid JSON (%s)" % e, value) from e
  if not isinstance(config, dict):
    raise _config_error("must be a JSON object", value)
  cluster = config.get("cluster")
  if not isinstance(cluster, dict) or not cluster:
    raise _config_error("needs a non-empty object at cluster", value)
  addresses = set()
  for job, tasks in sorted(cluster.items()):
    if job not in TRAINING_JOBS:
      raise _config_error(
          "has a %r job in cluster: multi_worker training uses only "
          "'chief' and 'worker' tasks (no parameter servers or evaluators; "
          "the chief evaluates after training)" % job, value)
    if not isinstance(tasks, list) or not tasks:
      raise _config_error("cluster.%s must be a non-empty list of "
                          "\"host:port\" addresses" % job, value)
    for i, address in enumerate(tasks):
      if not isinstance(address, str) or not _ADDRESS.match(address):
        raise _config_error("cluster.%s[%d] = %r is not a \"host:port\" "
                            "address" % (job, i, address), value)
      if address in addresses:
        raise _config_error("lists %s twice in cluster: every task needs "
                            "its own host:port" % address, value)
      addresses.add(address)
  if len(cluster.get("chief", ())) > 1:
    raise _config_error("lists %d chiefs; there can be one" %
                        len(cluster["chief"]), value)
  task = config.get("task")
  if not isinstance(task, dict):
    raise _config_error("needs task: {\"type\": ..., \"index\": ...} "
                        "saying which task of the cluster this machine is",
                        value)
  task_type, task_index = task.get("type"), task.get("index", 0)
  if task_type not in cluster:
    raise _config_error("task.type is %r, which is not a job of cluster "
                        "(%s)" % (task_type,
                                              ", ".join(sorted(cluster))),
                        value)
  if isinstance(task_index, bool) or not isinstance(task_index, int):
    raise _config_error("task.index must be an integer, got %r"
                        % (task_index,), value)
  if not 0 <= task_index < len(cluster[task_type]):
    raise _config_error(
        "task.index is %d but cluster.%s has %d task(s) (indices "
        "0 to %d)" % (task_index, task_type, len(cluster[task_type]),
                      len(cluster[task_type]) - 1), value)
  return ClusterRole({job: list(tasks) for job, tasks in cluster.items()},
                     task_type, task_index)


def cluster_role(environ=None):
  """The ClusterRole of this process, from TF_CONFIG (see parse_tf_config)."""
  environ = os.environ if environ is None else environ
  return parse_tf_config(environ.get(TF_CONFIG, ""))


def strategy_name(flags_obj, devices=None):
  """--distribution_strategy, or its default for --num_gpus (and devices)."""
  name = getattr(flags_obj, "distribution_strategy", None)
  if name:
    return name
  if devices and len(devices) > 1:
    return MIRRORED
  if not flags_obj.use_tpu and flags_obj.num_gpus > 1:
    return MIRRORED
  return ONE_DEVICE


def validate(flags_obj, num_visible_gpus, devices=None, environ=None):
  """Checks the distribution flags (and TF_CONFIG) before anything is built.

  Returns:
    The ClusterRole for multi_worker, else None.
  """
  name = strategy_name(flags_obj, devices)
  if name not in STRATEGIES:
    raise ValueError("--distribution_strategy must be one of %s, got %r."
                     % (", ".join(STRATEGIES), name))
  alg = getattr(flags_obj, "all_reduce_alg", None) or "auto"
  if alg not in ALL_REDUCE_ALGS:
    raise ValueError("--all_reduce_alg must be one of %s, got %r."
                     % (", ".join(ALL_REDUCE_ALGS), alg))
  if flags_obj.use_tpu and name != ONE_DEVICE:
    raise ValueError("--use_tpu replicates over the TPU's cores itself; drop "
                     "--distribution_strategy=%s." % name)
  if name == ONE_DEVICE and flags_obj.num_gpus > 1:
    raise ValueError("--distribution_strategy=one_device trains on one device "
                     "but --num_gpus=%d: pass --num_gpus=1, or "
                     "--distribution_strategy=mirrored to use all %d."
                     % (flags_obj.num_gpus, flags_obj.num_gpus))
  if name == MIRRORED and flags_obj.num_gpus < 2 and not devices:
    raise ValueError("--distribution_strategy=mirrored splits each batch "
                     "between GPUs of this machine: pass --num_gpus=N with "
                     "N>1 (or use one_device).")
  if alg == "nccl" and not (num_visible_gpus and flags_obj.num_gpus > 0):
    raise ValueError("--all_reduce_alg=nccl needs GPUs (NCCL is NVIDIA's "
                     "library); none is used here. Pass --all_reduce_alg=ring "
                     "or auto.")
  if alg == "ring" and name == MIRRORED:
    raise ValueError("--all_reduce_alg=ring is a multi_worker collective; "
                     "MirroredStrategy takes auto or nccl.")
  environ = os.environ if environ is None else environ
  if name != MULTI_WORKER:
    _check_no_cluster(environ.get(TF_CONFIG, ""), name)
    return None
  role = cluster_role(environ)
  tf.logging.info("TF_CONFIG: task %s:%d of %d training task(s) %s; %s",
                  role.task_type, role.task_index, role.num_workers,
                  role.cluster, "the chief" if role.is_chief
                  else "not the chief (writes nothing to output_dir)")
  return role


def _check_no_cluster(value, name):
  """A TF_CONFIG cluster left in the environment of a one-machine run would
  make the Estimator run this process as a task of that cluster (waiting
  for a gRPC master, or failing for want of a "chief")."""
  try:
    config = json.loads(value) if value.strip() else {}
  except ValueError:
    config = {"cluster": "unparsable"}
  if isinstance(config, dict) and config.get("cluster"):
    raise ValueError(
        "%s names a cluster but --distribution_strategy=%s: TensorFlow's "
        "Estimator would run this process as a task of that cluster. Pass "
        "--distribution_strategy=multi_worker, or unset %s for a one-machine "
        "run." % (TF_CONFIG, name, TF_CONFIG))


def local_replicas(flags_obj, num_visible_gpus):
  """Replicas on this machine under multi_worker: its GPUs, else its CPU."""
  if flags_obj.num_gpus > 0 and num_visible_gpus:
    return min(flags_obj.num_gpus, num_visible_gpus)
  return 1


# One strategy per process: constructing a MultiWorkerMirroredStrategy starts
# this task's gRPC server on its TF_CONFIG port, which can happen only once.
_MULTI_WORKER_STRATEGIES = {}


def multi_worker_strategy(role, num_gpus, all_reduce_alg="auto"):
  """tf.distribute's (v1, graph-mode) MultiWorkerMirroredStrategy for `role`.

  The cluster resolver is built from `role` so that --num_gpus (not every GPU
  TensorFlow sees) sets the replicas of each machine.
  """
  key = (json.dumps(role.cluster, sort_keys=True), role.task_type,
         role.task_index, num_gpus, all_reduce_alg)
  if key not in _MULTI_WORKER_STRATEGIES:
    resolver = tf.distribute.cluster_resolver.SimpleClusterResolver(
        tf.train.ClusterSpec(role.cluster), task_type=role.task_type,
        task_id=role.task_index, num_accelerators={"GPU": num_gpus},
        rpc_layer="grpc")
    implementation = getattr(tf.distribute.experimental.
                             CommunicationImplementation,
                             all_reduce_alg.upper())
    _MULTI_WORKER_STRATEGIES[key] = (
        tf.distribute.experimental.MultiWorkerMirroredStrategy(
            communication=implementation, cluster_resolver=resolver))
  return _MULTI_WORKER_STRATEGIES[key]


def mirrored_strategy(devices, all_reduce_alg="auto"):
  """MirroredStrategy over `devices` (NCCL all-reduce when asked for)."""
  cross_device_ops = None
  if all_reduce_alg == "nccl":
    cross_device_ops = tf.distribute.NcclAllReduce()
  return tf.distribute.MirroredStrategy(devices=devices,
                                        cross_device_ops=cross_device_ops)


def shard_files_or_records(files, input_context):
  """How one input pipeline of several reads its share of `files`.

  By file when every pipeline gets at least one (cheap: each reads only its
  own files), otherwise by record (each reads every file but keeps 1/N of the
  records). Either way no record is read by two pipelines in an epoch.

  Returns:
    (files, record_shard): this pipeline's files and (num_shards, index) to
    pass to Dataset.shard, or None.
  """
  if input_context is None or input_context.num_input_pipelines <= 1:
    return list(files), None
  count, index = (input_context.num_input_pipelines,
                  input_context.input_pipeline_id)
  if len(files) >= count:
    own = list(files)[index::count]
    tf.logging.info("Input pipeline %d of %d reads %d of %d file(s) (sharded "
                    "by file).", index, count, len(own), len(files))
    return own, None
  tf.logging.info("Input pipeline %d of %d reads every %d-th record of %d "
                  "file(s) (sharded by record: fewer files than pipelines).",
                  index, count, count, len(files))
  return list(files), (count, index)


class StopOnLostPeerHook(tf.train.SessionRunHook):
  """Ends training when a multi_worker session has to be created again.

  When another task dies, this task's collective all-reduce fails with
  UnavailableError. MonitoredTrainingSession takes that for a preemption and
  creates a new session, but a collective executor that saw a peer fail stays
  aborted ("Restart your program to reset"): without this hook the surviving
  tasks retry forever. The first session is normal; a second one in the same
  training run means a peer was lost, so this raises instead.
  """

  def __init__(self):
    self._sessions = 0

  def after_create_session(self, session, coord):
    self._sessions += 1
    if self._sessions > 1:
      raise LostPeerError(
          "Another task of the multi_worker cluster failed (its collective "
          "all-reduce was aborted; see the UnavailableError above) and a "
          "collective group cannot be rejoined in-process. Restart every "
          "task with the same command: training resumes from the newest "
          "checkpoint in --output_dir.")


class LostPeerError(RuntimeError):
  """A task of the multi_worker cluster died during training."""
