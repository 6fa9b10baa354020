# coding=utf-8
"""Fine-tunes ALBERT for sentence(-pair) classification and regression:
LCQMC, XNLI, the CLUE classification tasks, GLUE (English, with
--spm_model_file) and your own data.

Tasks: lcqmc, xnli, afqmc, tnews, iflytek, cmnli, ocnli, cluewsc2020, csl
(classifier_data.py); GLUE's cola, sst-2, mrpc, sts-b (regression: one output
unit, squared error, float predictions), qqp, mnli, mnli-mm, qnli, rte, wnli
and ax (glue_data.py); generic_single / generic_pair.

Starts from a released albert_zh checkpoint of either layout, a checkpoint of
run_pretraining.py, or a TF-Hub module (--albert_hub_module_handle), and writes
to --output_dir:
  eval_results.txt      the task's own dev metrics (classifier_metrics: Matthews
                        correlation for CoLA, F1 and accuracy for MRPC/QQP,
                        Pearson and Spearman for STS-B, accuracy otherwise,
                        plus F1/precision/recall for a binary generic task)
                        and the loss, of the latest dev evaluation
  best/                 the checkpoint with the best main metric so far (the
                        first of those listed), with its eval_results.txt (dev
                        is evaluated at every saved checkpoint while training)
  test_results.tsv      class probabilities per test example (BERT's format;
                        the predicted score for a regression task)
  test_predictions.tsv  the predicted label (or score) per test example, by id
  <TASK>.tsv            GLUE tasks: the leaderboard file (index<TAB>prediction)
  <task>_predict.json   CLUE tasks: the submission file ({"id", "label"} lines)
  <split>.<fingerprint>.tf_record   cached features, rebuilt when the data,
                        vocab, max_seq_length or task change
With --export_dir it also writes a SavedModel for TF Serving and the pretrained
encoder as a TF-Hub module (see export.py).

Example (LCQMC with albert_tiny_zh):
  python run_classifier.py --task_name=lcqmc --data_dir=lcqmc \\
    --vocab_file=albert_config/vocab.txt \\
    --bert_config_file=albert_config/albert_config_tiny.json \\
    --init_checkpoint=albert_tiny_zh/albert_model.ckpt \\
    --do_train --do_eval --do_predict --max_seq_length=128 \\
    --train_batch_size=64 --learning_rate=1e-4 --num_train_epochs=5 \\
    --output_dir=lcqmc_out
"""

import collections
import dataclasses
import os

from absl import app
from absl import flags
import numpy as np
import tensorflow.compat.v1 as tf

import classifier_data
import classifier_metrics
import classifier_model
import estimator_utils
import export
import finetune_data
import finetuning
import gfile_utils
import glue_data
import shared_flags

FLAGS = flags.FLAGS

finetuning.define_flags()
shared_flags.define("labels", "task_name")

SPEC = finetune_data.FeatureSpec.classifier()
# A regression task's label is its float target.
REGRESSION_SPEC = finetune_data.FeatureSpec(
    finetune_data.BASE_SEQUENCE_FEATURES +
    (finetune_data.Feature("label_ids", dtype="float"),))


def validate_task_flags(flags_obj):
  for name in ("task_name", "data_dir"):
    if not getattr(flags_obj, name):
      raise ValueError("--%s is required." % name)
  if not tf.io.gfile.isdir(flags_obj.data_dir):
    raise ValueError("--data_dir=%s is not a directory." % flags_obj.data_dir)
  if (flags_obj.export_dir and
      classifier_metrics.task_metrics(flags_obj.task_name).is_regression):
    raise ValueError("--export_dir exports classifiers; %s is a regression "
                     "task, which export.py does not serve yet: drop "
                     "--export_dir." % flags_obj.task_name)


class ClassifierTask(finetuning.Task):
  """The classification task of a run: its processor, labels and features."""

  def __init__(self, flags_obj, setup, processor):
    super().__init__(flags_obj, setup)
    self.processor = processor
    self.label_list = processor.get_labels()
    self.metrics = classifier_metrics.task_metrics(flags_obj.task_name,
                                                   len(self.label_list))
    self.is_regression = self.metrics.is_regression
    self.spec = REGRESSION_SPEC if self.is_regression else SPEC
    # The best checkpoint is the one with the best main metric of the task.
    self.metric_key = self.metrics.main_key

  def split_files(self, split):
    return self.processor.split_files(self.flags.data_dir, split)

  def features_file(self, split, pad_to_multiple=1, examples=None):
    """The cached features of `split` (reads the data only on a cache miss).

    With dynamic lengths, dev and test records are stored sorted by length so
    that each batch pads little.
    """
    data_files = self.split_files(split)
    sort_by_length = self.flags.dynamic_length and split != "train"
    fingerprint = self.setup.fingerprint(
        split, data_files, task=self.flags.task_name.lower(),
        labels=self.label_list, pad_to_multiple=pad_to_multiple,
        sort_by_length=sort_by_length, counts_labels=True)

    def records(stats):
      split_examples = examples
      if split_examples is None:
        split_examples = self.processor.get_examples(self.flags.data_dir, split)
      finetuning.require_examples(len(split_examples), split, data_files,
                                  len(self.processor.bad_rows))
      stats.update(num_examples=len(split_examples),
                   num_skipped=len(self.processor.bad_rows))
      if not self.is_regression:
        stats["label_counts"] = dict(collections.Counter(
            example.label for example in split_examples))
      if self.is_regression:
        return regression_records(split_examples, self.flags.max_seq_length,
                                  self.setup.tokenizer)
      return classifier_data.classifier_records(
          split_examples, self.label_list, self.flags.max_seq_length,
          self.setup.tokenizer)

    features = finetune_data.prepare_features_file(
        records, self.spec, fingerprint, self.cache_dir, split,
        pad_to_multiple, sort_by_length)
    if split == "train" and not self.is_regression:
      self.train_label_counts = features.stats["label_counts"]
      warn_absent_labels(self.train_label_counts, self.label_list,
                         data_files)
    return features

  def head_fn(self):
    """The head; output_bias starts at the training label prior (see
    classifier_model.label_prior_bias) when training."""
    initial_bias = None
    if getattr(self, "train_label_counts", None):
      initial_bias = classifier_model.label_prior_bias(
          self.train_label_counts, self.label_list)
    return classifier_model.head_fn_builder(
        self.setup.albert_config, len(self.label_list), self.is_regression,
        initial_bias)

  def dev_results(self, outputs):
    """The task's metrics and the loss from dev predictions (one dict per
    real example, with its label_ids)."""
    labels = np.array([output["label_ids"] for output in outputs])
    if self.is_regression:
      predicted = np.array([output["predictions"] for output in outputs])
      loss = np.mean(np.square(predicted - labels))
    else:
      probabilities = np.array([output["probabilities"] for output in outputs])
      predicted = probabilities.argmax(axis=-1)
      # Cross-entropy from the probabilities (clipped: a saturated softmax
      # would give log 0).
      loss = -np.mean(np.log(np.maximum(
          probabilities[np.arange(len(labels)), labels], 1e-12)))
    results = classifier_metrics.compute_metrics(self.metrics, labels,
                                                 predicted)
    results["eval_loss"] = float(loss)
    return results

  def evaluate(self, estimator, dev_file, checkpoint_path):
    return evaluate(estimator, self, dev_file, checkpoint_path)

  def predict(self, estimator, checkpoint_path):
    predict(estimator, self, checkpoint_path)

  def export(self):
    export_models(self)


def warn_absent_labels(label_counts, label_list, data_files):
  """Warns about declared labels the training data never uses.

  They are harmless now (their output_bias starts at about log(1/N)), but
  usually mean the wrong --labels or task: a model cannot learn a label it
  never sees.
  """
  absent = [label for label in label_list if not label_counts.get(label)]
  if absent:
    tf.logging.warning(
        "%d of the %d declared labels never occur in the training data (%s): "
        "%s. The model will not predict them; if the task has only the "
        "labels %s, pass --labels=%s (generic tasks).", len(absent),
        len(label_list), ", ".join(data_files), ", ".join(absent),
        ", ".join(sorted(label_counts)), ",".join(sorted(label_counts)))
  return absent


def regression_records(examples, max_seq_length, tokenizer):
  """classifier_records with each example's score as a float label_ids."""
  unlabelled = [dataclasses.replace(example, label=None)
                for example in examples]
  for record, example in zip(classifier_data.classifier_records(
      unlabelled, [], max_seq_length, tokenizer), examples):
    record["label_ids"] = float(example.label) if example.label else 0.0
    yield record


# ----------------------------------------------------------------------------
# Stages.


def evaluate(estimator, task, dev_file, checkpoint_path):
  """Evaluates one checkpoint on dev and writes eval_results.txt.

  One prediction pass over dev gives every metric: Matthews correlation,
  F1 and the correlations are not sums over batches, so they are computed
  from all of dev's predictions at once (classifier_metrics).
  """
  outputs = finetuning.predict(estimator, task.input_fn(dev_file, False),
                               checkpoint_path, dev_file.num_real_records)
  results = task.dev_results(outputs)
  results.update(
      checkpoint=checkpoint_path,
      global_step=estimator_utils.checkpoint_global_step(checkpoint_path))
  estimator_utils.write_eval_results(task.flags.output_dir, results)
  return results


def predict(estimator, task, checkpoint_path):
  """Writes test_results.tsv, test_predictions.tsv and the benchmark file
  (GLUE leaderboard or CLUE submission) of a benchmark task."""
  examples = task.processor.get_test_examples(task.flags.data_dir)
  test_file = task.features_file(
      "test", finetuning.pad_multiple(task.flags, task.flags.predict_batch_size),
      examples)
  outputs = finetuning.predict(estimator, task.input_fn(test_file, False),
                               checkpoint_path, test_file.num_real_records)
  output_dir = task.flags.output_dir
  if task.is_regression:
    scores = [float(output["predictions"]) for output in outputs]
    gfile_utils.write_lines(os.path.join(output_dir, "test_results.tsv"),
                              ["%.6f" % score for score in scores])
    predicted = scores
    gfile_utils.write_lines(
        os.path.join(output_dir, "test_predictions.tsv"),
        ["id\tlabel"] + ["%s\t%.6f" % (example.guid, score)
                         for example, score in zip(examples, scores)])
  else:
    probabilities = [output["probabilities"] for output in outputs]
    write_predictions(output_dir, examples, probabilities, task.label_list)
    predicted = [task.label_list[int(probs.argmax())]
                 for probs in probabilities]
  write_benchmark_file(task.flags.task_name, output_dir,
                       [example.guid for example in examples], predicted)


def write_benchmark_file(task_name, output_dir, ids, predicted):
  """GLUE tasks: the leaderboard file; CLUE tasks: the submission file."""
  if glue_data.leaderboard_file_name(task_name):
    glue_data.write_glue_leaderboard_file(output_dir, task_name, ids,
                                          predicted)
  elif task_name.lower() in glue_data.CLUE_TASKS:
    glue_data.write_clue_submission_file(output_dir, task_name, ids,
                                         predicted)


def write_predictions(output_dir, examples, probabilities, label_list):
  """test_results.tsv: one row of class probabilities per example (label-list
  order); test_predictions.tsv: `id<TAB>label` with a header."""
  results_path = os.path.join(output_dir, "test_results.tsv")
  predictions_path = os.path.join(output_dir, "test_predictions.tsv")
  gfile_utils.write_lines(results_path, [
      "\t".join("%.6f" % p for p in probs) for probs in probabilities])
  gfile_utils.write_lines(predictions_path, ["id\tlabel"] + [
      "%s\t%s" % (example.guid, label_list[int(probs.argmax())])
      for example, probs in zip(examples, probabilities)])
  tf.logging.info("Wrote %s and %s", results_path, predictions_path)


def export_models(task):
  flags_obj, setup = task.flags, task.setup
  export.export_classifier(
      setup.albert_config, finetuning.trained_checkpoint(flags_obj.output_dir),
      task.label_list, os.path.join(flags_obj.export_dir, "classifier"),
      setup.vocab_files, setup.do_lower_case, flags_obj.max_seq_length,
      hub_module_handle=flags_obj.albert_hub_module_handle,
      is_pair=task.processor.is_pair)


def run(flags_obj):
  """Runs the stages the flags ask for (FLAGS or finetuning.flags_namespace)."""
  validate_task_flags(flags_obj)
  setup = finetuning.Setup.from_flags(flags_obj)
  processor = classifier_data.get_processor(
      flags_obj.task_name, data_dir=flags_obj.data_dir, labels=flags_obj.labels,
      skip_bad_rows=flags_obj.skip_bad_rows)
  task = ClassifierTask(flags_obj, setup, processor)
  tf.logging.info("Task %s, labels: %s", flags_obj.task_name,
                  ", ".join(task.label_list))
  return finetuning.run_stages(task)


def main(_):
  tf.logging.set_verbosity(tf.logging.INFO)
  run(FLAGS)


if __name__ == "__main__":
  app.run(main)
