# coding=utf-8
"""What every fine-tuning script shares: flags, setup, the training loop, outputs.

run_classifier.py, run_squad_v1.py / run_squad_v2.py, run_race.py and
run_ner.py are task definitions on top of this module (records in
finetune_data, a head in finetune_model). A script:

  1. declares its flags: `define_flags()` plus its own few;
  2. in `run(flags_obj)`: `Setup.from_flags(flags_obj)` (checks the flags, the
     config and the checkpoint, the output directory, builds the tokenizer),
     makes its FeaturesFiles, then `make_estimator`, `train_and_evaluate`,
     `predict` and `export.export_saved_model` as the flags ask.

`run(flags_obj)` takes any object with the flags' attributes, so tests run a
script in-process with `flags_namespace(**values)`.

The training loop evaluates dev at every saved checkpoint and keeps the best
one (by any metric, in either direction) in output_dir/best/, assembled in a
temporary directory and renamed so it is always complete; a killed run
resumes from the newest readable checkpoint and evaluates whatever it had not.

Under --distribution_strategy=multi_worker every task converts its training
data and trains; the chief alone evaluates, predicts, exports and writes
output_dir's files. The other tasks keep their feature caches in
output_dir/worker_<i>/ and start each training round once the chief has
evaluated the previous round's checkpoint (eval_history.json), so all tasks
resume from the same checkpoint.
"""

import abc
import argparse
import json
import os
import time

from absl import flags
import tensorflow.compat.v1 as tf

import estimator_utils
import export
import finetune_data
import finetune_model
import gfile_utils
import modeling
import shared_flags
import tokenization

FINETUNING_FLAGS = (
    "vocab_file", "spm_model_file", "do_lower_case", "max_seq_length",
    "data_dir", "do_train", "do_eval", "do_predict", "train_batch_size",
    "eval_batch_size", "predict_batch_size", "learning_rate",
    "num_train_epochs", "train_step", "warmup_proportion", "warmup_step",
    "albert_hub_module_handle", "export_dir", "skip_bad_rows",
    "dynamic_length")

# The fine-tuning scripts' defaults where pretraining's differ.
FINETUNING_DEFAULTS = dict(optimizer="adamw")

BEST_DIR = "best"
BEST_METRIC_FILE = "best_metric.json"
EVAL_HISTORY_FILE = "eval_history.json"


def define_flags():
  """Declares every flag the fine-tuning scripts share (once per process)."""
  estimator_utils.define_common_flags(**FINETUNING_DEFAULTS)
  shared_flags.define(*FINETUNING_FLAGS, **FINETUNING_DEFAULTS)


def flags_namespace(**values):
  """Every defined flag at its fine-tuning default, overridden by `values`.

  What tests pass to a script's run() instead of the global FLAGS.
  """
  defaults = {name: flags.FLAGS[name].default for name in flags.FLAGS}
  defaults.update(FINETUNING_DEFAULTS)
  unknown = sorted(set(values) - set(defaults))
  if unknown:
    raise ValueError("No such flags: %s" % ", ".join(unknown))
  defaults.update(values)
  return argparse.Namespace(**defaults)


# ----------------------------------------------------------------------------
# Setup.


def validate_flags(flags_obj):
  """Checks the shared flags before any work; errors name the flag and fix."""
  estimator_utils.validate_common_flags(flags_obj)
  estimator_utils.check_split_batch_sizes(flags_obj)
  if not (flags_obj.do_train or flags_obj.do_eval or flags_obj.do_predict or
          flags_obj.export_dir):
    raise ValueError("Nothing to do: pass at least one of --do_train, "
                     "--do_eval, --do_predict or --export_dir.")
  if not (flags_obj.vocab_file or flags_obj.spm_model_file or
          flags_obj.albert_hub_module_handle):
    raise ValueError("--vocab_file (or --spm_model_file) is required.")
  for name in ("vocab_file", "spm_model_file"):
    path = getattr(flags_obj, name)
    if path and not tf.io.gfile.exists(path):
      raise ValueError("--%s=%s does not exist." % (name, path))
  if flags_obj.albert_hub_module_handle and flags_obj.init_checkpoint:
    raise ValueError("--albert_hub_module_handle and --init_checkpoint both "
                     "give the starting weights; pass only one.")
  if flags_obj.use_tpu and flags_obj.dynamic_length:
    raise ValueError("TPUs need static shapes: pass --nodynamic_length with "
                     "--use_tpu.")
  for name in ("max_seq_length", "train_batch_size", "eval_batch_size",
               "predict_batch_size"):
    if getattr(flags_obj, name) < 1:
      raise ValueError("--%s must be positive." % name)
  if (flags_obj.do_train and flags_obj.train_step <= 0 and
      flags_obj.num_train_epochs <= 0):
    raise ValueError("--num_train_epochs (or --train_step) must be positive "
                     "with --do_train.")
  if not 0.0 <= flags_obj.warmup_proportion <= 1.0:
    raise ValueError("--warmup_proportion must be in [0, 1].")


def check_checkpoint_layout(init_checkpoint, albert_config, config_file):
  """Fails early when the checkpoint's layout differs from the config's.

  The layout is read from the checkpoint's variable names (brightmart's
  `layer_shared`, google's `transformer/group_*`), so a released checkpoint of
  either kind is recognised before any data is processed.
  """
  layout = modeling.checkpoint_layout(init_checkpoint)
  if layout and layout != albert_config.layout:
    suggestion = ("a *_google config, e.g. albert_config/"
                  "albert_config_tiny_google.json" if layout == "google" else
                  "an albert_zh config with ln_type, e.g. "
                  "albert_config/albert_config_tiny.json")
    raise ValueError(
        "--init_checkpoint=%s has %s-layout variables but --bert_config_file="
        "%s describes the %s layout: pass %s." % (
            init_checkpoint, layout, config_file, albert_config.layout,
            suggestion))


# Fine-tuning a pre-LN encoder at 1e-3 saturated its pooler (the classifier
# then predicts one class); 1e-4 learned. Above this rate a warning says so.
PRELN_MAX_LEARNING_RATE = 3e-4


def preln_learning_rate_warning(albert_config, learning_rate):
  """The warning for a pre-LN encoder fine-tuned at a rate that can saturate
  its pooler, else None."""
  if (albert_config.ln_type != "preln" or
      learning_rate <= PRELN_MAX_LEARNING_RATE):
    return None
  return ("--learning_rate=%g with a pre-LN encoder (ln_type=preln): its last "
          "hidden states are not normalised, and at high rates they grow "
          "until the pooler's tanh saturates and every input gets the same "
          "prediction (measured: 1e-3 collapses, 1e-4 learns). Pass "
          "--learning_rate=1e-4 or lower." % learning_rate)


def make_tokenizer(flags_obj):
  """(tokenizer, [vocab_file, spm_model_file], do_lower_case), from the flags
  or, without a vocab flag, from the hub module."""
  vocab_file, spm_model_file = flags_obj.vocab_file, flags_obj.spm_model_file
  do_lower_case = flags_obj.do_lower_case
  if flags_obj.albert_hub_module_handle and not (vocab_file or spm_model_file):
    info = export.hub_tokenization_info(flags_obj.albert_hub_module_handle)
    vocab_file, spm_model_file = info["vocab_file"], info["spm_model_file"]
    do_lower_case = info["do_lower_case"]
    tf.logging.info("Tokenization from the hub module: %s", info)
  tokenizer = tokenization.FullTokenizer(
      vocab_file=vocab_file, do_lower_case=do_lower_case,
      spm_model_file=spm_model_file)
  return tokenizer, [vocab_file, spm_model_file], do_lower_case


class Setup(object):
  """The checked flags and what every stage needs: config and tokenizer."""

  def __init__(self, flags_obj, albert_config, tokenizer, vocab_files,
               do_lower_case):
    self.flags = flags_obj
    self.albert_config = albert_config
    self.tokenizer = tokenizer
    self.vocab_files = vocab_files
    self.do_lower_case = do_lower_case

  @classmethod
  def from_flags(cls, flags_obj):
    """Checks flags, config, checkpoint and output_dir before any work."""
    validate_flags(flags_obj)
    albert_config = estimator_utils.load_albert_config(
        flags_obj.bert_config_file)
    if flags_obj.max_seq_length > albert_config.max_position_embeddings:
      raise ValueError(
          "--max_seq_length=%d exceeds max_position_embeddings=%d of "
          "--bert_config_file=%s." % (flags_obj.max_seq_length,
                                      albert_config.max_position_embeddings,
                                      flags_obj.bert_config_file))
    if flags_obj.init_checkpoint:
      check_checkpoint_layout(flags_obj.init_checkpoint, albert_config,
                              flags_obj.bert_config_file)
      if flags_obj.export_dir:
        export.check_hub_checkpoint(flags_obj.init_checkpoint)
    if flags_obj.do_train:
      warning = preln_learning_rate_warning(albert_config,
                                            flags_obj.learning_rate)
      if warning:
        tf.logging.warning(warning)
    estimator_utils.check_writable_dir(flags_obj.output_dir)
    if flags_obj.export_dir:
      estimator_utils.check_writable_dir(flags_obj.export_dir, "export_dir")
    tokenizer, vocab_files, do_lower_case = make_tokenizer(flags_obj)
    modeling.check_vocab_fits(albert_config.vocab_size, len(tokenizer.vocab),
                              "--bert_config_file=%s" %
                              flags_obj.bert_config_file)
    return cls(flags_obj, albert_config, tokenizer, vocab_files, do_lower_case)

  def fingerprint(self, split, data_files, **settings):
    """A cache fingerprint over the data, the vocab and every setting that
    decides the records (the script adds its own in `settings`)."""
    settings = dict(settings, split=split,
                    max_seq_length=self.flags.max_seq_length,
                    do_lower_case=bool(self.do_lower_case),
                    skip_bad_rows=bool(self.flags.skip_bad_rows))
    return finetune_data.cache_fingerprint(
        settings, list(data_files) + [p for p in self.vocab_files if p])


def cache_dir(flags_obj):
  """Where a task caches its features: output_dir, or on a multi_worker task
  other than the chief its own output_dir/worker_<i>/ (every task converts
  its training data; only the chief writes output_dir's own files)."""
  role = estimator_utils.multi_worker_role(flags_obj)
  if role is None or role.is_chief:
    return flags_obj.output_dir
  return os.path.join(flags_obj.output_dir, "worker_%d" % role.worker_index)


def check_input_files(paths, purpose, flag_name="data_dir"):
  """Every path must exist: raises ValueError naming the flag and the file."""
  missing = [path for path in paths if not tf.io.gfile.exists(path)]
  if missing:
    raise ValueError("%s needs %s, which does not exist (--%s)." % (
        purpose, ", ".join(missing), flag_name))


def require_examples(num_examples, split, files, num_skipped=0):
  """Zero usable examples is an error that says why, before any training."""
  if num_examples:
    return
  if num_skipped:
    reason = ("all %d rows were skipped as malformed (--skip_bad_rows); fix "
              "the rows listed above" % num_skipped)
  else:
    reason = "no data rows were found: the file is empty"
  raise ValueError("No usable %s examples in %s: %s." % (
      split, ", ".join(files), reason))


def train_steps(flags_obj, num_train_records):
  """(num_train_steps, num_warmup_steps) from --train_step/--warmup_step or
  --num_train_epochs/--warmup_proportion."""
  if flags_obj.train_step > 0:
    num_train_steps = flags_obj.train_step
  else:
    num_train_steps = max(1, int(num_train_records / flags_obj.train_batch_size
                                 * flags_obj.num_train_epochs))
  if flags_obj.warmup_step >= 0:
    num_warmup_steps = min(flags_obj.warmup_step, num_train_steps)
  else:
    num_warmup_steps = int(num_train_steps * flags_obj.warmup_proportion)
  tf.logging.info("Training on %d records: %d steps of batch %d, %d warmup",
                  num_train_records, num_train_steps,
                  flags_obj.train_batch_size, num_warmup_steps)
  return num_train_steps, num_warmup_steps


def make_estimator(flags_obj, head_fn, setup, num_train_steps=0,
                   num_warmup_steps=0):
  """The TPUEstimator of a task head for the hardware the flags select."""
  model_fn = finetune_model.model_fn_builder(
      head_fn, setup.albert_config, init_checkpoint=flags_obj.init_checkpoint,
      learning_rate=flags_obj.learning_rate, num_train_steps=num_train_steps,
      num_warmup_steps=num_warmup_steps, use_tpu=flags_obj.use_tpu,
      optimizer=flags_obj.optimizer,
      hub_module_handle=flags_obj.albert_hub_module_handle,
      use_amp=flags_obj.use_amp,
      use_fused_kernels=estimator_utils.runs_on_cpu(flags_obj))
  return estimator_utils.make_estimator(
      model_fn, flags_obj, train_batch_size=flags_obj.train_batch_size,
      eval_batch_size=flags_obj.eval_batch_size,
      predict_batch_size=flags_obj.predict_batch_size)


def input_fn(flags_obj, features_file, spec, is_training, start_step=0):
  """The input_fn of a FeaturesFile under the flags' batching settings
  (start_step: see finetune_data.features_dataset)."""
  return finetune_data.input_fn_builder(
      features_file.path, spec, flags_obj.max_seq_length, is_training,
      drop_remainder=flags_obj.use_tpu,
      dynamic_length=flags_obj.dynamic_length, start_step=start_step)


def pad_multiple(flags_obj, batch_size):
  """TPU eval/predict need full batches; elsewhere no padding records."""
  return batch_size if flags_obj.use_tpu else 1


# ----------------------------------------------------------------------------
# Training loop.


def round_ends(num_train_steps, every):
  """Steps at which training pauses for a dev evaluation."""
  ends = list(range(every, num_train_steps, every))
  return ends + [num_train_steps]


def evaluate(estimator, eval_input_fn, checkpoint_path, output_dir,
             steps=None):
  """Evaluates one checkpoint; writes and returns its results."""
  results = estimator.evaluate(input_fn=eval_input_fn, steps=steps,
                               checkpoint_path=checkpoint_path)
  results = dict(results, checkpoint=checkpoint_path)
  estimator_utils.write_eval_results(output_dir, results)
  return results


class BestCheckpoint(object):
  """output_dir/best/: the checkpoint with the best dev metric so far.

  Its eval_results.txt has the full results; best_metric.json the metric, its
  direction and value, which decide the next comparison.
  """

  def __init__(self, output_dir, metric_key="eval_accuracy",
               higher_is_better=True):
    self.output_dir = output_dir
    self.path = os.path.join(output_dir, BEST_DIR)
    self.metric_key = metric_key
    self.higher_is_better = higher_is_better

  def value(self):
    """The kept checkpoint's metric, or None (none kept, or another metric)."""
    path = os.path.join(self.path, BEST_METRIC_FILE)
    if not tf.io.gfile.exists(path):
      return None
    with tf.io.gfile.GFile(path) as f:
      kept = json.load(f)
    if kept.get("metric") != self.metric_key:
      tf.logging.warning("%s was chosen by %s, not %s: it will be replaced.",
                         self.path, kept.get("metric"), self.metric_key)
      return None
    return kept["value"]

  def is_better(self, value, previous):
    if previous is None:
      return True
    return value > previous if self.higher_is_better else value < previous

  def consider(self, checkpoint_path, results):
    """Keeps the checkpoint if its results beat the kept one; returns whether
    it did."""
    if self.metric_key not in results:
      raise KeyError("The evaluation gave no %r to choose the best checkpoint "
                     "by (it gave %s)." % (self.metric_key,
                                           ", ".join(sorted(results))))
    value = float(results[self.metric_key])
    previous = self.value()
    if not self.is_better(value, previous):
      tf.logging.info("Dev %s %.4f does not beat the best %.4f",
                      self.metric_key, value, previous)
      return False
    self._keep(checkpoint_path, results, value)
    tf.logging.info("New best dev %s %.4f: kept %s in %s", self.metric_key,
                    value, checkpoint_path, self.path)
    return True

  def _keep(self, checkpoint_path, results, value):
    tmp_dir = gfile_utils.fresh_dir(gfile_utils.temporary_dir(self.path))
    name = os.path.basename(estimator_utils.copy_checkpoint(checkpoint_path,
                                                           tmp_dir))
    results = dict(results, checkpoint=os.path.join(self.path, name))
    estimator_utils.write_eval_results(tmp_dir, results)
    gfile_utils.write_json(
        os.path.join(tmp_dir, BEST_METRIC_FILE),
        dict(metric=self.metric_key, value=value,
             higher_is_better=self.higher_is_better,
             checkpoint=os.path.join(self.path, name)))
    gfile_utils.replace_dir(tmp_dir, self.path,
                              last=("checkpoint", BEST_METRIC_FILE))


def _evaluated_checkpoints(output_dir):
  path = os.path.join(output_dir, EVAL_HISTORY_FILE)
  if not tf.io.gfile.exists(path):
    return []
  with tf.io.gfile.GFile(path) as f:
    return json.load(f)


def _record_evaluated(output_dir, checkpoint_path):
  done = _evaluated_checkpoints(output_dir) + [os.path.basename(
      checkpoint_path)]
  gfile_utils.write_json(os.path.join(output_dir, EVAL_HISTORY_FILE), done)


def train_and_evaluate(estimator, train_input_fn_at, num_train_steps,
                       output_dir, evaluate_fn=None, every=1000,
                       metric_key="eval_accuracy", higher_is_better=True):
  """Trains to num_train_steps, resuming from output_dir's newest readable
  checkpoint.

  train_input_fn_at(step) is the training input_fn that continues the data
  stream at global step `step` (each round starts where the last one ended).
  With evaluate_fn(checkpoint_path) -> results dict, training pauses every
  `every` steps (and at the end) to evaluate the new checkpoint and keep the
  best one by `metric_key` in output_dir/best/. A checkpoint a killed run
  saved but did not evaluate is evaluated on resume.

  Returns:
    The results of the last evaluation, or None.
  """
  estimator_utils.recover_latest_checkpoint(output_dir)
  if evaluate_fn is None:
    _train_to(estimator, train_input_fn_at, num_train_steps, output_dir)
    return None
  best = BestCheckpoint(output_dir, metric_key, higher_is_better)
  results = None
  for end in round_ends(num_train_steps, every):
    _train_to(estimator, train_input_fn_at, end, output_dir)
    checkpoint = estimator_utils.recover_latest_checkpoint(output_dir)
    if os.path.basename(checkpoint) in _evaluated_checkpoints(output_dir):
      continue
    results = evaluate_fn(checkpoint)
    best.consider(checkpoint, results)
    _record_evaluated(output_dir, checkpoint)
  return results


def _train_to(estimator, train_input_fn_at, end, output_dir, repair=True):
  """Trains from output_dir's newest checkpoint to step `end` unless it is
  there already (repair: see estimator_utils.recover_latest_checkpoint)."""
  start = estimator_utils.latest_step(output_dir, repair)
  if end > start:
    estimator_utils.train(estimator, train_input_fn_at(start), end)


def train_in_step_with_chief(estimator, train_input_fn_at, num_train_steps,
                             output_dir, chief_evaluates, every=1000,
                             poll_seconds=1.0):
  """train_and_evaluate's training on a multi_worker task other than the
  chief, which repairs, evaluates and keeps the best checkpoint alone.

  The collective training steps need every task, so this task trains the
  rounds the chief trains. Before the next round it waits until the chief
  has recorded its evaluation of a checkpoint at the round's end or later:
  both then resume from the same newest checkpoint.
  """
  if not chief_evaluates:
    _train_to(estimator, train_input_fn_at, num_train_steps, output_dir,
              repair=False)
    return
  for end in round_ends(num_train_steps, every):
    _train_to(estimator, train_input_fn_at, end, output_dir, repair=False)
    _wait_for_chief_evaluation(output_dir, end, poll_seconds)


def _wait_for_chief_evaluation(output_dir, step, poll_seconds):
  started = last_report = time.time()
  tf.logging.info("Waiting for the chief to evaluate the checkpoint of step "
                  "%d.", step)
  while max([estimator_utils.checkpoint_step(name) for name in
             _evaluated_checkpoints(output_dir)] + [-1]) < step:
    if time.time() - last_report > 60:
      last_report = time.time()
      tf.logging.info("Still waiting (%d s) for the chief to evaluate the "
                      "checkpoint of step %d in %s; if the chief died, "
                      "restart every task.", last_report - started, step,
                      output_dir)
    time.sleep(poll_seconds)


def latest_checkpoint(output_dir):
  """The newest readable checkpoint in output_dir; an error if there is none."""
  checkpoint = estimator_utils.recover_latest_checkpoint(output_dir)
  if not checkpoint:
    raise ValueError("--output_dir=%s holds no checkpoint to evaluate, predict "
                     "or export with: train first (--do_train)." % output_dir)
  return checkpoint


def trained_checkpoint(output_dir):
  """The best kept checkpoint, else the newest readable one in output_dir."""
  checkpoint = tf.train.latest_checkpoint(os.path.join(output_dir, BEST_DIR))
  if checkpoint:
    return checkpoint
  return latest_checkpoint(output_dir)


def predict(estimator, predict_input_fn, checkpoint_path, num_real_records):
  """Runs prediction; returns one dict of numpy values per real record, in
  example_index order (records may have been stored sorted by length)."""
  tf.logging.info("Predicting %d records with %s", num_real_records,
                  checkpoint_path)
  outputs = [None] * num_real_records
  for result in estimator.predict(input_fn=predict_input_fn,
                                  checkpoint_path=checkpoint_path,
                                  yield_single_examples=True):
    if result["is_real_example"]:
      outputs[int(result["example_index"])] = result
  missing = sum(output is None for output in outputs)
  if missing:
    raise RuntimeError("%d of %d records got no prediction." %
                       (missing, num_real_records))
  return outputs


# ----------------------------------------------------------------------------
# A task script's stages.


class Task(abc.ABC):
  """What a task script defines for `run_stages`; subclasses fill it in.

  Attributes set here: flags, setup. A subclass sets `spec` (the
  finetune_data.FeatureSpec of its records), `metric_key` and
  `higher_is_better` (how the best dev checkpoint is chosen) and implements
  split_files, features_file, head_fn, evaluate, predict and export.
  """

  metric_key = "eval_accuracy"
  higher_is_better = True

  def __init__(self, flags_obj, setup):
    self.flags = flags_obj
    self.setup = setup

  @abc.abstractmethod
  def split_files(self, split):
    """The input files of "train", "dev" or "test" (need not exist yet)."""

  @abc.abstractmethod
  def features_file(self, split, pad_to_multiple=1):
    """The split's finetune_data.FeaturesFile (cached)."""

  @abc.abstractmethod
  def head_fn(self):
    """head_fn(features, is_training, encoder) -> HeadOutputs."""

  @property
  def cache_dir(self):
    """The directory of this task's feature caches (see cache_dir())."""
    return cache_dir(self.flags)

  def input_fn(self, features_file, is_training, start_step=0):
    """The input_fn of a features file of records of `self.spec`."""
    return input_fn(self.flags, features_file, self.spec, is_training,
                    start_step)

  @abc.abstractmethod
  def evaluate(self, estimator, dev_file, checkpoint_path):
    """Evaluates a checkpoint on dev; writes and returns the results."""

  @abc.abstractmethod
  def predict(self, estimator, checkpoint_path):
    """Predicts the test split and writes the task's prediction files."""

  @abc.abstractmethod
  def export(self):
    """Writes the task's SavedModel under --export_dir (run_stages adds the
    pretrained encoder as a TF-Hub module)."""

  def check_inputs(self):
    """The files of every stage this task runs exist, before any work."""
    for split, flag in stage_splits(self.flags):
      try:
        files = self.split_files(split)
      except FileNotFoundError as e:
        raise ValueError("--%s: %s" % (flag, e)) from e
      check_input_files(files, "--" + flag)


def stage_splits(flags_obj):
  """[(split, flag)] of the stages the flags ask for that this process runs:
  on a multi_worker task other than the chief only training (the chief
  evaluates and predicts)."""
  stages = (("train", "do_train"), ("dev", "do_eval"), ("test", "do_predict"))
  if not estimator_utils.is_chief(flags_obj):
    stages = stages[:1]
  return [(split, flag) for split, flag in stages if getattr(flags_obj, flag)]


def run_stages(task):
  """Trains (evaluating and keeping the best), evaluates, predicts and
  exports as task.flags ask; returns the last dev results or None.

  Every split the flags need is converted before training, so bad data stops
  the run before any step is spent.
  """
  flags_obj = task.flags
  task.check_inputs()
  train_file = task.features_file("train") if flags_obj.do_train else None
  chief = estimator_utils.is_chief(flags_obj)
  dev_file = None
  if flags_obj.do_eval and chief:
    dev_file = task.features_file(
        "dev", pad_multiple(flags_obj, flags_obj.eval_batch_size))
  num_train_steps, num_warmup_steps = 0, 0
  if train_file:
    num_train_steps, num_warmup_steps = train_steps(flags_obj,
                                                    train_file.num_records)
  estimator = make_estimator(flags_obj, task.head_fn(), task.setup,
                             num_train_steps, num_warmup_steps)
  train_input_fn_at = lambda step: task.input_fn(train_file, True, step)
  if not chief:
    if train_file:
      train_in_step_with_chief(
          estimator, train_input_fn_at, num_train_steps,
          flags_obj.output_dir, chief_evaluates=flags_obj.do_eval,
          every=flags_obj.save_checkpoints_steps)
    tf.logging.info("Not the chief: the chief evaluates, predicts and "
                    "exports.")
    return None
  results = None
  if flags_obj.do_train:
    evaluate_fn = None
    if dev_file:
      evaluate_fn = lambda checkpoint: task.evaluate(estimator, dev_file,
                                                     checkpoint)
    results = train_and_evaluate(
        estimator, train_input_fn_at, num_train_steps,
        flags_obj.output_dir, evaluate_fn,
        every=flags_obj.save_checkpoints_steps, metric_key=task.metric_key,
        higher_is_better=task.higher_is_better)
  elif flags_obj.do_eval:
    # The trained model: the kept best checkpoint, else the latest (or a
    # best/ another run put here, as run_glue.sh does for MNLI-mm).
    results = task.evaluate(estimator, dev_file,
                            trained_checkpoint(flags_obj.output_dir))
  if flags_obj.do_predict:
    task.predict(estimator, trained_checkpoint(flags_obj.output_dir))
  if flags_obj.export_dir:
    task.export()
    export_hub_module(task.setup, flags_obj)
  return results


def export_hub_module(setup, flags_obj):
  """With --init_checkpoint, the pretrained encoder as a TF-Hub module."""
  if not flags_obj.init_checkpoint:
    tf.logging.info("No --init_checkpoint: the pretrained encoder is not "
                    "exported as a TF-Hub module.")
    return None
  return export.export_hub_module(
      setup.albert_config, flags_obj.init_checkpoint,
      os.path.join(flags_obj.export_dir, "hub_module"), setup.vocab_files[0],
      setup.do_lower_case, spm_model_file=setup.vocab_files[1])
