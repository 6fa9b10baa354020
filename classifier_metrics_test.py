# coding=utf-8
"""Tests for classifier_metrics against values worked out by hand."""

import math

import pytest

import classifier_metrics as cm


def test_accuracy():
  assert cm.accuracy([0, 1, 1, 0], [0, 1, 0, 0]) == 0.75
  assert cm.accuracy(["a", "b"], ["b", "b"]) == 0.5


def test_f1_counts_the_positive_class_only():
  # labels    1 1 1 0 0 0
  # predicted 1 1 0 1 0 0  -> TP 2, FP 1, FN 1: F1 = 4 / (4 + 1 + 1) = 2/3.
  labels = [1, 1, 1, 0, 0, 0]
  predictions = [1, 1, 0, 1, 0, 0]
  assert cm.f1_score(labels, predictions) == pytest.approx(2.0 / 3.0)
  # Positive class 0: TP 2, FP 1, FN 1 as well, by symmetry of this example.
  assert cm.f1_score(labels, predictions, positive=0) == pytest.approx(2 / 3)
  # All negative: TP 0, FP 0, FN 2 -> 0 (not a division by zero).
  assert cm.f1_score([1, 1, 0], [0, 0, 0]) == 0.0
  assert cm.f1_score([0, 0], [0, 0]) == 0.0
  # TP 1, FP 2, FN 1: precision 1/3, recall 1/2; 0 without positives.
  assert cm.precision([1, 1, 0, 0], [1, 0, 1, 1]) == pytest.approx(1 / 3)
  assert cm.recall([1, 1, 0, 0], [1, 0, 1, 1]) == pytest.approx(1 / 2)
  assert cm.precision([1, 0], [0, 0]) == 0.0
  assert cm.recall([0, 0], [1, 0]) == 0.0


def test_matthews_correlation():
  # TP 3, TN 2, FP 1, FN 1:
  # (3*2 - 1*1) / sqrt((3+1)(3+1)(2+1)(2+1)) = 5 / sqrt(144) = 5/12.
  labels = [1, 1, 1, 1, 0, 0, 0]
  predictions = [1, 1, 1, 0, 0, 0, 1]
  assert cm.matthews_corrcoef(labels, predictions) == pytest.approx(5 / 12)
  # Perfect and perfectly wrong.
  assert cm.matthews_corrcoef([0, 1, 1], [0, 1, 1]) == pytest.approx(1.0)
  assert cm.matthews_corrcoef([0, 1, 1], [1, 0, 0]) == pytest.approx(-1.0)
  # A constant prediction has no correlation (GLUE scores it 0).
  assert cm.matthews_corrcoef([0, 1, 1], [1, 1, 1]) == 0.0


def test_pearson():
  # x = 1,2,3,4; y = 2,4,5,9: dx = -1.5,-.5,.5,1.5; dy = -3,-1,0,4.
  # sum dxdy = 4.5+.5+0+6 = 11; sum dx2 = 5; sum dy2 = 26.
  expected = 11 / math.sqrt(5 * 26)
  assert cm.pearson_corrcoef([1, 2, 3, 4], [2, 4, 5, 9]) == pytest.approx(
      expected)
  assert cm.pearson_corrcoef([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
  assert cm.pearson_corrcoef([1, 2, 3], [2, 2, 2]) == 0.0


def test_average_ranks_share_ties():
  assert list(cm.average_ranks([10, 20, 20, 30])) == [1, 2.5, 2.5, 4]
  assert list(cm.average_ranks([3.0, 1.0, 3.0, 3.0, 0.5])) == [4, 2, 4, 4, 1]


def test_spearman_with_ties():
  # labels 1,2,2,3 -> ranks 1,2.5,2.5,4; predictions 0.1,0.3,0.2,0.4 ->
  # ranks 1,3,2,4. dr = -1.5,0,0,1.5 and -1.5,.5,-.5,1.5:
  # sum = 2.25+0+0+2.25 = 4.5; sum dr_l^2 = 4.5; sum dr_p^2 = 5.
  expected = 4.5 / math.sqrt(4.5 * 5)
  assert cm.spearman_corrcoef([1, 2, 2, 3], [0.1, 0.3, 0.2, 0.4]) == \
      pytest.approx(expected)
  # Any increasing transform of the predictions keeps Spearman at 1.
  assert cm.spearman_corrcoef([1, 2, 3, 4], [1, 8, 27, 64]) == \
      pytest.approx(1.0)


def test_bad_inputs_name_the_problem():
  with pytest.raises(ValueError, match="equal length"):
    cm.accuracy([0, 1], [0])
  with pytest.raises(ValueError, match="no examples"):
    cm.pearson_corrcoef([], [])


def test_task_table_and_compute_metrics():
  cola = cm.task_metrics("CoLA")
  assert cola.main_key == "eval_matthews_corr"
  stsb = cm.task_metrics("sts-b")
  assert stsb.is_regression and stsb.main == "pearson"
  assert cm.task_metrics("mrpc").names == ("f1", "accuracy")
  assert cm.task_metrics("cluewsc2020").main == "accuracy"
  assert cm.task_metrics("generic_pair", num_labels=2).names == (
      "accuracy", "f1", "precision", "recall")
  assert cm.task_metrics("generic_single", num_labels=3).names == (
      "accuracy",)
  results = cm.compute_metrics(cola, [1, 1, 1, 1, 0, 0, 0],
                               [1, 1, 1, 0, 0, 0, 1])
  assert results["eval_matthews_corr"] == pytest.approx(5 / 12)
  assert results["eval_accuracy"] == pytest.approx(5 / 7)
  assert set(results) == {"eval_matthews_corr", "eval_accuracy"}
