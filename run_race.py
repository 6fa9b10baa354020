# coding=utf-8
"""Fine-tunes ALBERT for multiple-choice reading comprehension: RACE, C3, CHID.

Each choice of a question is encoded as `[CLS] context [SEP] question choice
[SEP]`; the pooled output of every choice goes through one dense unit and a
softmax across the question's choices. Questions with fewer choices than the
task's maximum (C3 has 2 to 4, CHID lines up to 10 candidates) are padded with
empty choices that are masked out of the softmax: a padded choice gets
probability exactly 0 and is never predicted. Off TPU the padded choices are
not even encoded, and every batch is padded only to its longest choice.

Starts from a released albert_zh checkpoint of either layout, a checkpoint of
run_pretraining.py, or a TF-Hub module (--albert_hub_module_handle), and writes
to --output_dir:
  eval_results.txt       eval_accuracy, eval_loss and, where the data has
                         subsets, eval_accuracy_<subset> (RACE: high, middle;
                         C3 release files: d, m) of the latest dev evaluation
  best/                  the checkpoint with the best dev accuracy so far
  test_predictions.json  {question id: answer} in the task's answer format:
                         the letter (RACE), the choice text (C3), the
                         candidate index (CHID, as in its answer files)
  test_probabilities.json {question id: [probability per choice]}
  <split>.<fingerprint>.tf_record  cached records (rebuilt when the data,
                         vocab or settings change)
With --export_dir: export_dir/multiple_choice/<step>/, a SavedModel taking
input_ids/input_mask/segment_ids [batch, choices, seq] and choice_mask
[batch, choices], returning probabilities and predicted_choice; and, with
--init_checkpoint, the pretrained encoder as a TF-Hub module.

Example (C3 with albert_tiny_zh):
  python run_race.py --task_name=c3 --data_dir=c3 \\
    --vocab_file=albert_config/vocab.txt \\
    --bert_config_file=albert_config/albert_config_tiny.json \\
    --init_checkpoint=albert_tiny_zh/albert_model.ckpt \\
    --do_train --do_eval --do_predict --max_seq_length=512 \\
    --max_qa_length=64 --train_batch_size=16 --learning_rate=2e-5 \\
    --num_train_epochs=3 --output_dir=c3_out
"""

import collections
import os

from absl import app
from absl import flags
import tensorflow.compat.v1 as tf

import export
import finetune_data
import finetune_model
import finetuning
import gfile_utils
import race_utils
import shared_flags

FLAGS = flags.FLAGS

finetuning.define_flags()
shared_flags.define("task_name")
flags.DEFINE_integer(
    "max_qa_length", 64,
    "Maximum tokens of question + option. Only longer ones are cut (question "
    "tokens first); the context gives way to keep them whole.")
flags.DEFINE_enum(
    "truncation_side", "right", list(race_utils.TRUNCATION_SIDES),
    "Which side of a context that does not fit loses tokens: right keeps its "
    "beginning, left its end. (A CHID context keeps a window centred on its "
    "blank.)")

# Dropout on the pooled output while training, as google's run_race.
_POOLED_DROPOUT = 0.1
# Logit of a padded choice: exp() of it underflows to exactly 0 in float32,
# and it stays finite so 0 * log-probability is 0, not NaN.
_MASKED_LOGIT = -1e9

EXPORT_NAME = "multiple_choice"


# ----------------------------------------------------------------------------
# Records and the head.


def feature_spec(task):
  """Records of race_utils.ChoiceConverter: [C, L] token rows per example."""
  num_choices = task.max_choices
  return finetune_data.FeatureSpec([
      finetune_data.Feature("input_ids", (num_choices, None)),
      finetune_data.Feature("input_mask", (num_choices, None)),
      finetune_data.Feature("segment_ids", (num_choices, None)),
      finetune_data.Feature("label_ids"),
      finetune_data.Feature("choice_mask", (num_choices,)),
      finetune_data.Feature("subset_id"),
  ])


def bucket_boundaries(max_seq_length):
  """Training length buckets, 32 tokens wide.

  finetune_data's default buckets widen to 64 tokens above 192; here a bucket's
  slack is paid once per choice, and RACE/C3 contexts spread evenly up to
  max_seq_length, so narrower buckets (which still fill quickly on data sets of
  thousands of questions) halve that padding.
  """
  return list(range(32, max_seq_length, 32))


def masked_choice_logits(logits, choice_mask):
  """logits [B, C] with padded choices (choice_mask 0) set to _MASKED_LOGIT."""
  return tf.where(choice_mask > 0, logits,
                  tf.fill(tf.shape(logits), _MASKED_LOGIT))


def choice_scores(encoder, features, albert_config, is_training,
                  skip_padded_choices):
  """One logit per choice, [B, C] (padded choices not yet masked).

  skip_padded_choices: encode only real choices (gathered, then scattered
  back) -- a dynamic shape, so not on TPU.
  """
  input_ids = features["input_ids"]
  shape = tf.shape(input_ids)
  num_rows, length = shape[0] * shape[1], shape[2]
  rows = [tf.reshape(features[name], [num_rows, length])
          for name in ("input_ids", "input_mask", "segment_ids")]
  if skip_padded_choices:
    real = tf.cast(tf.where(tf.reshape(features["choice_mask"], [-1]) > 0),
                   tf.int32)
    rows = [tf.gather_nd(row, real) for row in rows]
  pooled = encoder(*rows).pooled_output
  if is_training:
    pooled = tf.nn.dropout(pooled, rate=_POOLED_DROPOUT)
  # google's run_race names: output_weights [1, H], output_bias [1].
  logits = tf.squeeze(finetune_model.dense_logits(
      pooled, 1, albert_config, "output_weights", "output_bias"), -1)
  if skip_padded_choices:
    logits = tf.scatter_nd(real, logits, [num_rows])
  return tf.reshape(logits, shape[:2])


def metric_fn_builder(task, subsets_present):
  """metric_fn for TPUEstimator: accuracy, loss, accuracy per subset (only the
  subsets the dev data has)."""

  def metric_fn(per_example_loss, label_ids, predicted_choice, is_real_example,
                subset_id):
    weights = tf.cast(is_real_example, tf.float32)
    metrics = {
        "eval_accuracy": tf.metrics.accuracy(label_ids, predicted_choice,
                                             weights=weights),
        "eval_loss": tf.metrics.mean(per_example_loss, weights=weights),
    }
    for index, name in enumerate(task.subsets):
      if name and name in subsets_present:
        in_subset = weights * tf.cast(tf.equal(subset_id, index), tf.float32)
        metrics["eval_accuracy_%s" % name] = tf.metrics.accuracy(
            label_ids, predicted_choice, weights=in_subset)
    return metrics

  return metric_fn


def head_fn_builder(task, albert_config, skip_padded_choices=True,
                    subsets_present=()):
  """The multiple-choice head for finetune_model.model_fn_builder."""

  def head_fn(features, is_training, encoder):
    choice_mask = features["choice_mask"]
    logits = masked_choice_logits(
        choice_scores(encoder, features, albert_config, is_training,
                      skip_padded_choices), choice_mask)
    log_probs = tf.nn.log_softmax(logits, axis=-1)
    predicted = tf.argmax(logits, axis=-1, output_type=tf.int32)
    predictions = dict(probabilities=tf.exp(log_probs),
                       predicted_choice=predicted)
    if "label_ids" not in features:  # serving graph
      return finetune_model.HeadOutputs(predictions=predictions)
    labels = tf.one_hot(features["label_ids"], task.max_choices)
    per_example_loss = -tf.reduce_sum(labels * log_probs, axis=-1)
    weights = tf.cast(features["is_real_example"], tf.float32)
    loss = (tf.reduce_sum(per_example_loss * weights) /
            tf.maximum(tf.reduce_sum(weights), 1.0))
    eval_metrics = (metric_fn_builder(task, subsets_present), dict(
        per_example_loss=per_example_loss, label_ids=features["label_ids"],
        predicted_choice=predicted,
        is_real_example=features["is_real_example"],
        subset_id=features["subset_id"]))
    return finetune_model.HeadOutputs(loss=loss, predictions=predictions,
                                      eval_metrics=eval_metrics)

  return head_fn


# ----------------------------------------------------------------------------
# Data.


def validate_flags(flags_obj):
  """The flags only this script has; errors name the flag and the fix."""
  race_utils.get_task(flags_obj.task_name)
  if not flags_obj.data_dir:
    raise ValueError("--data_dir is required: the directory holding the "
                     "task's files.")
  if not tf.io.gfile.isdir(flags_obj.data_dir):
    raise ValueError("--data_dir=%s is not a directory." % flags_obj.data_dir)
  if not 1 <= flags_obj.max_qa_length <= flags_obj.max_seq_length - 4:
    raise ValueError(
        "--max_qa_length=%d must be between 1 and --max_seq_length - 4 = %d "
        "([CLS], two [SEP] and at least one context token)." %
        (flags_obj.max_qa_length, flags_obj.max_seq_length - 4))
  if flags_obj.truncation_side not in race_utils.TRUNCATION_SIDES:
    raise ValueError("--truncation_side=%s: choose one of %s." % (
        flags_obj.truncation_side, ", ".join(race_utils.TRUNCATION_SIDES)))


class Task(finetuning.Task):
  """Reader, converter and record spec of the flags' task."""

  metric_key = "eval_accuracy"

  def __init__(self, setup, flags_obj):
    super().__init__(flags_obj, setup)
    self.dev_subsets = set()
    self.test = None
    self.info = race_utils.get_task(flags_obj.task_name)
    self.reader = race_utils.get_reader(self.info.name,
                                        flags_obj.skip_bad_rows)
    self.converter = race_utils.ChoiceConverter(
        self.info, setup.tokenizer, flags_obj.max_seq_length,
        flags_obj.max_qa_length, flags_obj.truncation_side)
    self.spec = feature_spec(self.info)

  def split_files(self, split):
    return self.reader.split_files(self.flags.data_dir, split)

  def check_inputs(self):
    """Every split the flags need has its files; the test split is read too,
    so a malformed test record stops the run before training."""
    super().check_inputs()
    if ("test", "do_predict") in finetuning.stage_splits(self.flags):
      self.test = read_test_split(self)

  def examples(self, split):
    examples = self.reader.get_examples(self.flags.data_dir, split)
    finetuning.require_examples(
        len(examples), split,
        self.reader.split_files(self.flags.data_dir, split),
        len(self.reader.bad_records))
    return examples

  def features_file(self, split, pad_to_multiple=1, examples=None):
    """The cached records of `split` (the data is read only on a cache miss,
    unless `examples` are given)."""
    data_files = self.reader.split_files(self.flags.data_dir, split)
    sort_by_length = self.flags.dynamic_length and split != "train"
    fingerprint = self.setup.fingerprint(
        split, data_files, task=self.info.name, spec=self.spec.describe(),
        converter=race_utils.cache_settings(
            self.info.name, split, self.flags.max_seq_length,
            self.flags.max_qa_length, self.flags.truncation_side,
            self.setup.do_lower_case, self.flags.skip_bad_rows),
        pad_to_multiple=pad_to_multiple, sort_by_length=sort_by_length)

    def records_fn(stats):
      split_examples = examples if examples is not None else \
          self.examples(split)
      stats.update(num_examples=len(split_examples),
                   num_skipped=len(self.reader.bad_records),
                   subsets=dict(collections.Counter(
                       example.subset for example in split_examples)))
      return self.converter.records(split_examples, stats)

    features = finetune_data.prepare_features_file(
        records_fn, self.spec, fingerprint, self.cache_dir, split,
        pad_to_multiple, sort_by_length)
    if split == "dev":
      self.dev_subsets = set(features.stats.get("subsets", {}))
    tf.logging.info("%s %s: %d records, %s", self.info.name, split,
                    features.num_real_records, features.stats)
    return features

  def input_fn(self, features_file, is_training, start_step=0):
    return finetune_data.input_fn_builder(
        features_file.path, self.spec, self.flags.max_seq_length, is_training,
        drop_remainder=self.flags.use_tpu,
        dynamic_length=self.flags.dynamic_length,
        bucket_boundaries=bucket_boundaries(self.flags.max_seq_length),
        start_step=start_step)

  def head_fn(self):
    """The head; its metrics report accuracy per subset present in dev."""
    return head_fn_builder(self.info, self.setup.albert_config,
                           skip_padded_choices=not self.flags.use_tpu,
                           subsets_present=self.dev_subsets)

  def evaluate(self, estimator, dev_file, checkpoint_path):
    steps = None
    if self.flags.use_tpu:  # the padded dev set divides evenly into batches
      steps = dev_file.num_records // self.flags.eval_batch_size
    return finetuning.evaluate(estimator, self.input_fn(dev_file, False),
                               checkpoint_path, self.flags.output_dir, steps)

  def predict(self, estimator, checkpoint_path):
    predict(self, estimator, checkpoint_path, *self.test)

  def export(self):
    export_model(self, finetuning.trained_checkpoint(self.flags.output_dir))


# ----------------------------------------------------------------------------
# Stages.


def read_test_split(task):
  """(test examples, their FeaturesFile); the examples give ids and answers."""
  examples = task.examples("test")
  pad_to = finetuning.pad_multiple(task.flags, task.flags.predict_batch_size)
  return examples, task.features_file("test", pad_to, examples)


def predict(task, estimator, checkpoint_path, examples, test_file):
  """Writes test_predictions.json and test_probabilities.json."""
  outputs = finetuning.predict(estimator, task.input_fn(test_file, False),
                               checkpoint_path, test_file.num_real_records)
  chosen = [int(output["predicted_choice"]) for output in outputs]
  output_dir = task.flags.output_dir
  gfile_utils.write_json(
      os.path.join(output_dir, "test_predictions.json"),
      race_utils.predictions_dict(task.info, examples, chosen), indent=1)
  gfile_utils.write_json(
      os.path.join(output_dir, "test_probabilities.json"),
      {example.guid: [round(float(p), 6) for p in
                      output["probabilities"][:len(example.choices)]]
       for example, output in zip(examples, outputs)}, indent=1)
  tf.logging.info("Wrote %d test predictions to %s", len(examples),
                  output_dir)
  return chosen


def export_model(task, checkpoint_path):
  """export_dir/multiple_choice/<step>/ (and the encoder as a hub module)."""
  flags_obj = task.flags
  num_choices = task.info.max_choices

  def build():
    inputs = {name: tf.placeholder(tf.int32, [None, num_choices, None],
                                   name=name)
              for name in ("input_ids", "input_mask", "segment_ids")}
    inputs["choice_mask"] = tf.placeholder(tf.int32, [None, num_choices],
                                           name="choice_mask")
    encoder = finetune_model.encoder_fn(
        task.setup.albert_config, False,
        hub_module_handle=flags_obj.albert_hub_module_handle)
    outputs = task.head_fn()(dict(inputs), False, encoder)
    return inputs, outputs.predictions

  info = dict(task=task.info.name, max_choices=num_choices,
              answer_format=task.info.answer_format,
              do_lower_case=bool(task.setup.do_lower_case),
              max_seq_length=int(flags_obj.max_seq_length),
              max_qa_length=int(flags_obj.max_qa_length),
              truncation_side=flags_obj.truncation_side)
  path = export.export_saved_model(
      build, checkpoint_path, os.path.join(flags_obj.export_dir, EXPORT_NAME),
      info, task.setup.vocab_files)
  return path


def run(flags_obj):
  """Everything the flags ask for; returns the last dev results (or None)."""
  validate_flags(flags_obj)
  setup = finetuning.Setup.from_flags(flags_obj)
  return finetuning.run_stages(Task(setup, flags_obj))


def main(_):
  tf.logging.set_verbosity(tf.logging.INFO)
  run(FLAGS)


if __name__ == "__main__":
  app.run(main)
