# coding=utf-8
"""Pretrains ALBERT (masked LM + sentence-order prediction) with TPUEstimator.

Runs on CPU, one GPU, several GPUs (MirroredStrategy, --num_gpus), several
machines (--distribution_strategy=multi_worker with TF_CONFIG) or a Cloud TPU
(--use_tpu). Training resumes from the newest checkpoint in --output_dir, so a
killed run is continued by rerunning the same command. Evaluation reads
--eval_input_file (held-out data) and writes eval_results.txt; --do_eval alone
on an --output_dir without checkpoints evaluates the starting weights
(--init_checkpoint or a random initialisation), a baseline for later runs.

Example (CPU, tiny model):
  python run_pretraining.py --albert_config_file=albert_config/albert_config_tiny.json \
    --input_file=out/tf_*.tfrecord --eval_input_file=out/dev_*.tfrecord \
    --output_dir=out/pretrain --do_train --do_eval --max_seq_length=128 \
    --max_predictions_per_seq=20 --train_batch_size=32 --learning_rate=1e-3 \
    --num_train_steps=1000 --num_warmup_steps=100
"""

import os

from absl import app
from absl import flags
import numpy as np
import tensorflow.compat.v1 as tf

import distribution
import estimator_utils
import modeling
import pretraining_input
import shared_flags

FLAGS = flags.FLAGS

estimator_utils.define_common_flags(optimizer="lamb")
shared_flags.define("input_file", "max_seq_length", "max_predictions_per_seq",
                    "do_train", "do_eval", "train_batch_size",
                    "eval_batch_size", "learning_rate")
flags.DEFINE_string(
    "eval_input_file", None,
    "Held-out TFRecords for --do_eval (comma-separated paths or globs). The "
    "originals evaluated on the training files, which measures memorisation.")
flags.DEFINE_integer("num_train_steps", 100000,
                     "Total training steps (the learning rate reaches 0 here).")
flags.DEFINE_integer("num_warmup_steps", 10000,
                     "Steps of linear learning-rate warmup.")
flags.DEFINE_float("poly_power", 1.0,
                   "Power of the polynomial learning-rate decay.")
flags.DEFINE_integer(
    "start_warmup_step", 0,
    "Step at which warmup starts; the learning rate is 0 before it (for "
    "continued pretraining from a checkpoint's global step).")
flags.DEFINE_integer("max_eval_steps", 100, "Maximum evaluation batches.")

EVAL_KEYS = ("masked_lm_accuracy", "masked_lm_loss", "sentence_order_accuracy",
             "sentence_order_loss", "loss", "global_step")


# ----------------------------------------------------------------------------
# Flag validation.


def expand_input_patterns(patterns, flag_name):
  """--input_file / --eval_input_file (local or gs:// globs) -> file list."""
  return shared_flags.expand_input_files(
      patterns, flag_name, glob_fn=tf.io.gfile.glob,
      hint="write TFRecords with create_pretraining_data.py first")


def check_record_lengths(input_files, max_seq_length, max_predictions_per_seq,
                         flag_name):
  """Compares the first record of every file with the length flags."""
  expected = {name: spec.shape[0] for name, spec in
              pretraining_input.pretraining_feature_spec(
                  max_seq_length, max_predictions_per_seq).items()}
  for path in input_files:
    first = next(tf.io.tf_record_iterator(path), None)
    if first is None:
      raise ValueError("--%s: %s holds no records." % (flag_name, path))
    features = tf.train.Example.FromString(first).features.feature
    for name, expected_length in sorted(expected.items()):
      if name not in features:
        raise ValueError("--%s: %s has no feature %r; is it a pretraining "
                         "TFRecord from create_pretraining_data.py?"
                         % (flag_name, path, name))
      length = (len(features[name].int64_list.value) +
                len(features[name].float_list.value))
      if length != expected_length:
        length_flag = ("max_predictions_per_seq" if name.startswith("masked_lm")
                       else "max_seq_length")
        raise ValueError(
            "--%s: feature %r of %s has length %d, but the flags expect %d: "
            "pass the --%s the file was written with." % (
                flag_name, name, path, length, expected_length, length_flag))


# How many records of each input file check_record_ids reads: enough to catch
# a vocab/config mismatch (it shows in nearly every record) in well under a
# second per file, without reading a corpus of many GB.
RECORDS_CHECKED_PER_FILE = 1000


def check_record_ids(input_files, config, config_file, flag_name,
                     max_records=RECORDS_CHECKED_PER_FILE):
  """Checks token and segment ids of the first `max_records` of each file.

  An id >= vocab_size would otherwise fail only at the first training step,
  inside TensorFlow's gather, after a checkpoint was written.
  """
  limits = {"input_ids": ("vocab_size", config.vocab_size),
            "masked_lm_ids": ("vocab_size", config.vocab_size),
            "segment_ids": ("type_vocab_size", config.type_vocab_size)}
  for path in input_files:
    for index, record in enumerate(tf.io.tf_record_iterator(path)):
      if index >= max_records:
        break
      features = tf.train.Example.FromString(record).features.feature
      for name, (key, limit) in limits.items():
        values = features[name].int64_list.value
        if values and not 0 <= min(values) <= max(values) < limit:
          bad = max(values) if max(values) >= limit else min(values)
          raise ValueError(
              "--%s: %s record %d has %s id %d >= %s %d of %s (or negative): "
              "the records were written with a larger vocabulary than the "
              "config's. Pass the config matching the vocab_file the data was "
              "made with." % (flag_name, path, index, name, bad, key, limit,
                              config_file))
  tf.logging.info("--%s: ids of the first %d records of each of %d file(s) are "
                  "within vocab_size %d", flag_name, max_records,
                  len(input_files), config.vocab_size)


def validate_flags(flags_obj, devices=None):
  """Checks the flags before anything is built.

  Returns:
    (albert_config, train_files, eval_files): the files are None when unused.
  """
  estimator_utils.validate_common_flags(flags_obj)
  if not flags_obj.do_train and not flags_obj.do_eval:
    raise ValueError("Pass --do_train and/or --do_eval.")
  config = estimator_utils.load_albert_config(flags_obj.bert_config_file)
  if flags_obj.max_seq_length > config.max_position_embeddings:
    raise ValueError(
        "--max_seq_length=%d exceeds max_position_embeddings=%d of %s; use "
        "shorter sequences or a config with more positions." % (
            flags_obj.max_seq_length, config.max_position_embeddings,
            flags_obj.bert_config_file))
  if not 0 < flags_obj.max_predictions_per_seq <= flags_obj.max_seq_length:
    raise ValueError("--max_predictions_per_seq must be in [1, "
                     "max_seq_length=%d], got %d." % (
                         flags_obj.max_seq_length,
                         flags_obj.max_predictions_per_seq))
  estimator_utils.check_split_batch_sizes(flags_obj, devices)
  train_files = eval_files = None
  if flags_obj.do_train:
    if not flags_obj.input_file:
      raise ValueError("--do_train needs --input_file.")
    if flags_obj.num_train_steps < 1:
      raise ValueError("--num_train_steps must be at least 1.")
    if not 0 <= flags_obj.num_warmup_steps <= flags_obj.num_train_steps:
      raise ValueError("--num_warmup_steps must be in [0, num_train_steps].")
    if flags_obj.start_warmup_step < 0:
      raise ValueError("--start_warmup_step must be >= 0.")
    train_files = expand_input_patterns(flags_obj.input_file, "input_file")
    check_record_lengths(train_files, flags_obj.max_seq_length,
                         flags_obj.max_predictions_per_seq, "input_file")
    check_record_ids(train_files, config, flags_obj.bert_config_file,
                     "input_file")
  if flags_obj.do_eval:
    if not flags_obj.eval_input_file:
      raise ValueError(
          "--do_eval needs --eval_input_file (held-out TFRecords, e.g. written "
          "by create_pretraining_data.py from a separate text file).")
    eval_files = expand_input_patterns(flags_obj.eval_input_file,
                                       "eval_input_file")
    check_record_lengths(eval_files, flags_obj.max_seq_length,
                         flags_obj.max_predictions_per_seq, "eval_input_file")
    check_record_ids(eval_files, config, flags_obj.bert_config_file,
                     "eval_input_file")
  return config, train_files, eval_files


# ----------------------------------------------------------------------------
# Model.


def pretraining_outputs(albert_config, features, is_training,
                        use_one_hot_embeddings, use_fused_kernels=False):
  """Builds the model and both heads; returns a dict of loss/logit tensors."""
  model = modeling.AlbertModel(
      config=albert_config,
      is_training=is_training,
      input_ids=features["input_ids"],
      input_mask=features["input_mask"],
      token_type_ids=features["segment_ids"],
      use_one_hot_embeddings=use_one_hot_embeddings,
      output_positions=features["masked_lm_positions"],
      use_fused_kernels=use_fused_kernels)
  mlm_logits = modeling.masked_lm_logits(albert_config, model)
  mlm_loss, mlm_example_loss = modeling.masked_lm_loss(
      mlm_logits, features["masked_lm_ids"], features["masked_lm_weights"],
      fused=use_fused_kernels)
  sop_logits = modeling.sentence_order_logits(albert_config,
                                              model.get_pooled_output())
  sop_loss, sop_example_loss = modeling.sentence_order_loss(
      sop_logits, features["next_sentence_labels"])
  return {
      "total_loss": mlm_loss + sop_loss,
      "masked_lm_loss": mlm_loss,
      "masked_lm_example_loss": mlm_example_loss,
      "masked_lm_logits": mlm_logits,
      "sentence_order_loss": sop_loss,
      "sentence_order_example_loss": sop_example_loss,
      "sentence_order_logits": sop_logits,
  }


def predicted_ids(logits):
  return tf.argmax(logits, -1, output_type=tf.int32)


def metric_fn(masked_lm_example_loss, masked_lm_predictions, masked_lm_ids,
              masked_lm_weights, sentence_order_example_loss,
              sentence_order_predictions, next_sentence_labels):
  """Eval metrics; every argument has the batch as its first dimension.

  Predictions (argmax ids) are passed rather than logits: on TPU these tensors
  travel through the outfeed, and MLM logits are vocab_size times larger.
  """
  mlm_weights = tf.reshape(masked_lm_weights, [-1])
  return {
      "masked_lm_accuracy": tf.metrics.accuracy(
          labels=tf.reshape(masked_lm_ids, [-1]),
          predictions=tf.reshape(masked_lm_predictions, [-1]),
          weights=mlm_weights),
      "masked_lm_loss": tf.metrics.mean(
          values=tf.reshape(masked_lm_example_loss, [-1]), weights=mlm_weights),
      "sentence_order_accuracy": tf.metrics.accuracy(
          labels=tf.reshape(next_sentence_labels, [-1]),
          predictions=sentence_order_predictions),
      "sentence_order_loss": tf.metrics.mean(
          values=sentence_order_example_loss),
  }


def training_accuracies(outputs, features):
  """(masked_lm_accuracy, sentence_order_accuracy) of the training batch.

  From the step's own logits: computed only when fetched (at logging and
  summary steps), so they cost one argmax there and nothing elsewhere.
  """
  mlm_ids = tf.reshape(features["masked_lm_ids"], [-1])
  mlm_weights = tf.reshape(features["masked_lm_weights"], [-1])
  mlm_correct = tf.cast(
      tf.equal(predicted_ids(outputs["masked_lm_logits"]), mlm_ids), tf.float32)
  sop_correct = tf.cast(tf.equal(
      predicted_ids(outputs["sentence_order_logits"]),
      tf.reshape(features["next_sentence_labels"], [-1])), tf.float32)
  mlm_accuracy = (tf.reduce_sum(mlm_correct * mlm_weights) /
                  (tf.reduce_sum(mlm_weights) + 1e-5))
  return mlm_accuracy, tf.reduce_mean(sop_correct)


def training_summaries(outputs, features, learning_rate):
  """TensorBoard scalars of the training batch; returns its accuracies."""
  mlm_accuracy, sop_accuracy = training_accuracies(outputs, features)
  tf.summary.scalar("learning_rate", learning_rate)
  tf.summary.scalar("masked_lm_loss", outputs["masked_lm_loss"])
  tf.summary.scalar("sentence_order_loss", outputs["sentence_order_loss"])
  tf.summary.scalar("masked_lm_accuracy", mlm_accuracy)
  tf.summary.scalar("sentence_order_accuracy", sop_accuracy)
  return mlm_accuracy, sop_accuracy


# How long the MLM loss may stay at the unigram level before the warning, and
# how far below the unigram entropy it must fall to count as learning context.
# The small-budget recipe's healthy runs leave the plateau (loss 0.25 nats
# below the entropy) by step ~700; runs that stay there stay for thousands.
PLATEAU_MIN_STEPS = 1000
PLATEAU_MARGIN_NATS = 0.25


class UnigramPlateauHook(tf.train.SessionRunHook):
  """Warns when the MLM loss stays at the unigram level for long.

  A model that has learned only how often each token occurs predicts the
  same frequent tokens everywhere: its MLM loss sits at the entropy of the
  masked tokens' unigram distribution (about 6.2 nats and accuracy 0.08 on
  the bundled novel) and its SOP accuracy at chance. Small models pretrained
  briefly with whole-word masking and long sequences can stay there for
  thousands of steps. The entropy is estimated from the masked_lm_ids of the
  training batches themselves (a running count per id), so nothing about the
  corpus needs to be known in advance; the loss is the mean over each
  logging window.

  The warning fires once a window mean has stayed above entropy - margin_nats
  for at least min_steps steps past warmup (PLATEAU_MIN_STEPS and
  PLATEAU_MARGIN_NATS by default), and again only after the loss has left the
  plateau and come back.
  """

  def __init__(self, masked_lm_loss, masked_lm_ids, masked_lm_weights,
               vocab_size, every_n_steps, start_step, min_steps=None,
               margin_nats=None):
    self._fetches = {"loss": masked_lm_loss, "ids": masked_lm_ids,
                     "weights": masked_lm_weights,
                     "step": tf.train.get_or_create_global_step()}
    self._counts = np.zeros([vocab_size], np.int64)
    self._every_n_steps = every_n_steps
    self._start_step = start_step
    self._min_steps = PLATEAU_MIN_STEPS if min_steps is None else min_steps
    self._margin_nats = (PLATEAU_MARGIN_NATS if margin_nats is None
                         else margin_nats)
    self._window = []
    self._plateau_since = None
    self._warned = False

  def before_run(self, run_context):
    return tf.train.SessionRunArgs(self._fetches)

  def after_run(self, run_context, run_values):
    values = run_values.results
    self.observe(values["step"], values["loss"], values["ids"],
                 values["weights"])

  def unigram_entropy(self):
    """Plug-in entropy (nats) of the masked tokens seen so far."""
    counts = self._counts[self._counts > 0].astype(np.float64)
    probabilities = counts / counts.sum()
    return float(-np.sum(probabilities * np.log(probabilities)))

  def observe(self, step, loss, ids, weights):
    """Takes one step's MLM loss and labels; returns True if it warned."""
    ids = np.asarray(ids).reshape(-1)
    real = np.asarray(weights).reshape(-1) > 0
    np.add.at(self._counts, ids[real], 1)
    self._window.append(float(loss))
    if len(self._window) < self._every_n_steps:
      return False
    window_loss = float(np.mean(self._window))
    self._window = []
    if step < self._start_step:
      return False
    entropy = self.unigram_entropy()
    if window_loss < entropy - self._margin_nats:
      self._plateau_since, self._warned = None, False
      return False
    if self._plateau_since is None:
      self._plateau_since = max(self._start_step,
                                step + 1 - self._every_n_steps)
    if self._warned or step - self._plateau_since < self._min_steps:
      return False
    self._warned = True
    tf.logging.warning(
        "masked_lm_loss %.2f has stayed at the unigram level (the entropy of "
        "the masked tokens is %.2f nats) since step %d: the model predicts "
        "token frequencies, not context, and SOP stays at chance. On a small "
        "budget, train a smaller pre-LN model on shorter sequences with "
        "character masking and a higher learning rate (README: 'Pretraining "
        "on a small budget'); otherwise train much longer.", window_loss,
        entropy, self._plateau_since)
    return True


def model_fn_builder(albert_config, init_checkpoint, learning_rate,
                     num_train_steps, num_warmup_steps, use_tpu,
                     use_one_hot_embeddings, optimizer="lamb", poly_power=1.0,
                     start_warmup_step=0, use_amp=False,
                     log_every_n_steps=100, use_fused_kernels=False):
  """Returns the TPUEstimator model_fn for pretraining.

  use_fused_kernels: fused_ops' CPU kernels (see modeling.AlbertModel); run()
  sets it when no TPU or GPU is used.
  """

  def model_fn(features, labels, mode, params):  # pylint: disable=unused-argument
    is_training = mode == tf.estimator.ModeKeys.TRAIN
    outputs = pretraining_outputs(albert_config, features, is_training,
                                  use_one_hot_embeddings, use_fused_kernels)
    total_loss = outputs["total_loss"]
    scaffold_fn = estimator_utils.init_from_checkpoint(init_checkpoint, use_tpu)

    if is_training:
      # No update is applied (and so no checkpoint saved) once the loss is
      # not finite.
      train_op, lr = estimator_utils.guarded_train_op(
          total_loss, init_lr=learning_rate, num_train_steps=num_train_steps,
          num_warmup_steps=num_warmup_steps, use_tpu=use_tpu,
          optimizer=optimizer, poly_power=poly_power,
          start_warmup_step=start_warmup_step, use_amp=use_amp,
          use_fused_kernels=use_fused_kernels)
      training_hooks = None
      if not use_tpu:  # a TPU's tensors cannot be fetched by host hooks
        mlm_accuracy, sop_accuracy = training_summaries(outputs, features, lr)
        training_hooks = [
            tf.train.LoggingTensorHook(
                {"step": tf.train.get_global_step(), "loss": total_loss,
                 "masked_lm_loss": outputs["masked_lm_loss"],
                 "masked_lm_accuracy": mlm_accuracy,
                 "sentence_order_loss": outputs["sentence_order_loss"],
                 "sentence_order_accuracy": sop_accuracy,
                 "learning_rate": lr}, every_n_iter=log_every_n_steps),
            UnigramPlateauHook(
                outputs["masked_lm_loss"], features["masked_lm_ids"],
                features["masked_lm_weights"], albert_config.vocab_size,
                log_every_n_steps, start_step=num_warmup_steps)]
      return estimator_utils.train_spec(total_loss, train_op, scaffold_fn,
                                        training_hooks)

    if mode == tf.estimator.ModeKeys.EVAL:
      batch_size = modeling.get_shape_list(features["input_ids"])[0]
      per_position = lambda t: tf.reshape(t, [batch_size, -1])
      eval_metrics = (metric_fn, [
          per_position(outputs["masked_lm_example_loss"]),
          per_position(predicted_ids(outputs["masked_lm_logits"])),
          features["masked_lm_ids"], features["masked_lm_weights"],
          outputs["sentence_order_example_loss"],
          predicted_ids(outputs["sentence_order_logits"]),
          features["next_sentence_labels"]
      ])
      return tf.estimator.tpu.TPUEstimatorSpec(
          mode=mode, loss=total_loss, eval_metrics=eval_metrics,
          scaffold_fn=scaffold_fn)

    raise ValueError("run_pretraining supports TRAIN and EVAL, not %s" % mode)

  return model_fn


def input_fn_builder(input_files, max_seq_length, max_predictions_per_seq,
                     is_training, seed=None):
  """An input_fn over the pretraining files (per-replica batches)."""

  def dataset_fn(batch_size, input_context):
    # One input pipeline per machine under multi_worker: each reads its own
    # files, or its own records when there are fewer files than machines.
    files, record_shard = distribution.shard_files_or_records(input_files,
                                                              input_context)
    return pretraining_input.make_pretraining_dataset(
        files, max_seq_length, max_predictions_per_seq, is_training,
        batch_size, seed=seed, record_shard=record_shard)

  return estimator_utils.input_fn_from_dataset_fn(dataset_fn)


# ----------------------------------------------------------------------------
# Driver.


def save_initial_weights(albert_config, flags_obj):
  """Saves the weights training would start from, for evaluation at step 0.

  They come from --init_checkpoint, or are a random initialisation. They are
  written under output_dir/initial_weights/, outside the checkpoints that
  training resumes from (they have no optimizer slots).
  """
  spec = pretraining_input.pretraining_feature_spec(
      flags_obj.max_seq_length, flags_obj.max_predictions_per_seq)
  with tf.Graph().as_default():
    features = {name: tf.zeros([1] + list(feature.shape),
                               tf.float32 if feature.dtype == tf.float32
                               else tf.int32)
                for name, feature in spec.items()}
    pretraining_outputs(albert_config, features, False, False)
    global_step = tf.train.get_or_create_global_step()
    estimator_utils.init_from_checkpoint(flags_obj.init_checkpoint, False)
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      return tf.train.Saver().save(
          sess, os.path.join(flags_obj.output_dir, "initial_weights",
                             "model.ckpt"), global_step=global_step)


def run(flags_obj, devices=None, seed=None):
  """Trains and/or evaluates as the flags say; returns the eval results.

  Args:
    flags_obj: FLAGS or any object with the same attributes.
    devices: optional device list for MirroredStrategy (tests use two logical
      CPUs); by default --num_gpus decides.
    seed: optional seed of the training-data shuffle.
  """
  albert_config, train_files, eval_files = validate_flags(flags_obj, devices)
  estimator_utils.check_writable_dir(flags_obj.output_dir)
  model_fn = model_fn_builder(
      albert_config=albert_config,
      init_checkpoint=flags_obj.init_checkpoint,
      learning_rate=flags_obj.learning_rate,
      num_train_steps=flags_obj.num_train_steps,
      num_warmup_steps=flags_obj.num_warmup_steps,
      use_tpu=flags_obj.use_tpu,
      use_one_hot_embeddings=flags_obj.use_tpu,
      optimizer=flags_obj.optimizer,
      poly_power=flags_obj.poly_power,
      start_warmup_step=flags_obj.start_warmup_step,
      use_amp=flags_obj.use_amp,
      log_every_n_steps=flags_obj.log_step_count_steps,
      use_fused_kernels=estimator_utils.runs_on_cpu(flags_obj, devices))
  estimator = estimator_utils.make_estimator(
      model_fn, flags_obj, train_batch_size=flags_obj.train_batch_size,
      eval_batch_size=flags_obj.eval_batch_size, devices=devices)

  chief = estimator_utils.is_chief(flags_obj)
  if flags_obj.do_train:
    estimator_utils.recover_latest_checkpoint(flags_obj.output_dir,
                                              repair=chief)
    tf.logging.info("***** Training on %d file(s), batch size %d *****",
                    len(train_files), flags_obj.train_batch_size)
    estimator_utils.train(
        estimator,
        input_fn_builder(train_files, flags_obj.max_seq_length,
                         flags_obj.max_predictions_per_seq, True, seed),
        max_steps=flags_obj.num_train_steps)

  if not flags_obj.do_eval:
    return None
  if not chief:
    tf.logging.info("Not the chief: the chief evaluates and writes "
                    "eval_results.txt.")
    return None
  checkpoint = estimator_utils.recover_latest_checkpoint(flags_obj.output_dir)
  if checkpoint is None:
    checkpoint = save_initial_weights(albert_config, flags_obj)
    tf.logging.info("No checkpoint in --output_dir: evaluating the initial "
                    "weights (%s).", flags_obj.init_checkpoint or
                    "random initialisation")
  tf.logging.info("***** Evaluating %s on %d file(s), batch size %d *****",
                  checkpoint, len(eval_files), flags_obj.eval_batch_size)
  results = estimator.evaluate(
      input_fn=input_fn_builder(eval_files, flags_obj.max_seq_length,
                                flags_obj.max_predictions_per_seq, False),
      steps=flags_obj.max_eval_steps, checkpoint_path=checkpoint)
  results = {key: results[key] for key in EVAL_KEYS}
  estimator_utils.write_eval_results(flags_obj.output_dir, results)
  return results


def main(_):
  tf.logging.set_verbosity(tf.logging.INFO)
  run(FLAGS)


if __name__ == "__main__":
  flags.mark_flag_as_required("output_dir")
  app.run(main)
