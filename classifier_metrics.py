# coding=utf-8
"""Dev-set metrics of the classification benchmarks, in plain numpy.

GLUE reports more than accuracy: Matthews correlation for CoLA, F1 and
accuracy for MRPC and QQP, Pearson and Spearman correlation for the STS-B
regression. They are computed here from a whole split's labels and
predictions (run_classifier gathers them after each dev evaluation), because
the correlations and Matthews' coefficient are not sums over batches and the
streaming versions in tf.metrics either do not exist or approximate.

`TASK_METRICS` says which metrics each task reports and which one decides the
best checkpoint; `compute_metrics` returns them as `eval_<name>` values, the
keys of eval_results.txt.
"""

import dataclasses
from typing import Tuple

import numpy as np


# ----------------------------------------------------------------------------
# The metrics. Each takes 1-D sequences of equal length.


def _as_arrays(labels, predictions):
  labels = np.asarray(labels)
  predictions = np.asarray(predictions)
  if labels.ndim != 1 or labels.shape != predictions.shape:
    raise ValueError("labels and predictions must be 1-D and of equal length; "
                     "got shapes %s and %s" % (labels.shape,
                                              predictions.shape))
  if not labels.size:
    raise ValueError("no examples to score")
  return labels, predictions


def accuracy(labels, predictions):
  """Fraction of predictions equal to their label."""
  labels, predictions = _as_arrays(labels, predictions)
  return float(np.mean(labels == predictions))


def _binary_counts(labels, predictions, positive):
  is_label = labels == positive
  is_predicted = predictions == positive
  true_pos = float(np.sum(is_label & is_predicted))
  false_pos = float(np.sum(~is_label & is_predicted))
  false_neg = float(np.sum(is_label & ~is_predicted))
  true_neg = float(np.sum(~is_label & ~is_predicted))
  return true_pos, false_pos, false_neg, true_neg


def f1_score(labels, predictions, positive=1):
  """F1 of the `positive` class: 2TP / (2TP + FP + FN), 0 without positives."""
  labels, predictions = _as_arrays(labels, predictions)
  true_pos, false_pos, false_neg, _ = _binary_counts(labels, predictions,
                                                     positive)
  denominator = 2.0 * true_pos + false_pos + false_neg
  return 2.0 * true_pos / denominator if denominator else 0.0


def precision(labels, predictions, positive=1):
  """TP / (TP + FP) of the `positive` class; 0 when nothing is predicted
  positive."""
  labels, predictions = _as_arrays(labels, predictions)
  true_pos, false_pos, _, _ = _binary_counts(labels, predictions, positive)
  return true_pos / (true_pos + false_pos) if true_pos + false_pos else 0.0


def recall(labels, predictions, positive=1):
  """TP / (TP + FN) of the `positive` class; 0 without positive labels."""
  labels, predictions = _as_arrays(labels, predictions)
  true_pos, _, false_neg, _ = _binary_counts(labels, predictions, positive)
  return true_pos / (true_pos + false_neg) if true_pos + false_neg else 0.0


def matthews_corrcoef(labels, predictions, positive=1):
  """Matthews correlation of a binary task (CoLA's metric), in [-1, 1].

  (TP*TN - FP*FN) / sqrt((TP+FP)(TP+FN)(TN+FP)(TN+FN)); 0 when a factor of
  the denominator is 0 (e.g. a model that always predicts one class), as
  scikit-learn and GLUE's scorer do.
  """
  labels, predictions = _as_arrays(labels, predictions)
  true_pos, false_pos, false_neg, true_neg = _binary_counts(
      labels, predictions, positive)
  denominator = np.sqrt((true_pos + false_pos) * (true_pos + false_neg) *
                        (true_neg + false_pos) * (true_neg + false_neg))
  if not denominator:
    return 0.0
  return float((true_pos * true_neg - false_pos * false_neg) / denominator)


def pearson_corrcoef(labels, predictions):
  """Pearson correlation; 0 when either side is constant (no correlation can
  be measured, and keep-best needs a number rather than NaN)."""
  labels, predictions = _as_arrays(labels, predictions)
  x = labels.astype(np.float64) - np.mean(labels, dtype=np.float64)
  y = predictions.astype(np.float64) - np.mean(predictions, dtype=np.float64)
  denominator = np.sqrt(np.sum(x * x) * np.sum(y * y))
  if not denominator:
    return 0.0
  return float(np.sum(x * y) / denominator)


def average_ranks(values):
  """1-based ranks of `values`; tied values share the mean of their ranks.

  E.g. [10, 20, 20, 30] -> [1, 2.5, 2.5, 4].
  """
  values = np.asarray(values)
  order = np.argsort(values, kind="stable")
  sorted_values = values[order]
  ranks = np.empty(len(values), dtype=np.float64)
  start = 0
  while start < len(values):
    end = start
    while end + 1 < len(values) and sorted_values[end + 1] == sorted_values[
        start]:
      end += 1
    # Positions start..end (0-based) hold ranks start+1..end+1: their mean.
    ranks[order[start:end + 1]] = (start + end) / 2.0 + 1.0
    start = end + 1
  return ranks


def spearman_corrcoef(labels, predictions):
  """Spearman correlation: Pearson correlation of the average ranks."""
  labels, predictions = _as_arrays(labels, predictions)
  return pearson_corrcoef(average_ranks(labels), average_ranks(predictions))


_METRIC_FUNCTIONS = {
    "accuracy": accuracy,
    "f1": f1_score,
    "precision": precision,
    "recall": recall,
    "matthews_corr": matthews_corrcoef,
    "pearson": pearson_corrcoef,
    "spearman": spearman_corrcoef,
}


# ----------------------------------------------------------------------------
# What each task reports.


@dataclasses.dataclass(frozen=True)
class TaskMetrics:
  """The metrics a task reports, the one that picks the best checkpoint, and
  whether the task is a regression (one float output)."""
  names: Tuple[str, ...]
  main: str
  is_regression: bool = False

  @property
  def main_key(self):
    """The key of the main metric in eval_results.txt."""
    return "eval_" + self.main


_ACCURACY = TaskMetrics(("accuracy",), "accuracy")
_F1_ACCURACY = TaskMetrics(("f1", "accuracy"), "f1")

# GLUE's metrics per task (the leaderboard lists F1 before accuracy and
# Pearson before Spearman; the first listed picks the best checkpoint). The
# CLUE classification tasks and LCQMC/XNLI report accuracy.
TASK_METRICS = {
    "cola": TaskMetrics(("matthews_corr", "accuracy"), "matthews_corr"),
    "sst-2": _ACCURACY,
    "mrpc": _F1_ACCURACY,
    "sts-b": TaskMetrics(("pearson", "spearman"), "pearson",
                         is_regression=True),
    "qqp": _F1_ACCURACY,
    "mnli": _ACCURACY,
    "mnli-mm": _ACCURACY,
    "qnli": _ACCURACY,
    "rte": _ACCURACY,
    "wnli": _ACCURACY,
    "ax": _ACCURACY,
    "lcqmc": _ACCURACY,
    "lcqmc_pair": _ACCURACY,
    "xnli": _ACCURACY,
    "afqmc": _ACCURACY,
    "tnews": _ACCURACY,
    "iflytek": _ACCURACY,
    "cmnli": _ACCURACY,
    "ocnli": _ACCURACY,
    "cluewsc2020": _ACCURACY,
    "csl": _ACCURACY,
}


def task_metrics(task_name, num_labels=None):
  """The TaskMetrics of `task_name` (case-insensitive).

  A task not in the table (generic_single/generic_pair, a user's own data)
  reports accuracy, plus F1, precision and recall of label id 1 when it has
  two labels.
  """
  found = TASK_METRICS.get(task_name.lower())
  if found is not None:
    return found
  if num_labels == 2:
    return TaskMetrics(("accuracy", "f1", "precision", "recall"), "accuracy")
  return _ACCURACY


def compute_metrics(metrics, labels, predictions):
  """{"eval_<name>": value} for each of `metrics.names`.

  Args:
    metrics: a TaskMetrics.
    labels, predictions: label ids and predicted ids (classification) or gold
      and predicted scores (regression), one per real example.
  """
  return {"eval_" + name: _METRIC_FUNCTIONS[name](labels, predictions)
          for name in metrics.names}
