# coding=utf-8
"""Tests of squad_metrics on hand-computed cases."""

import pytest

import squad_metrics as m


def test_squad_normalisation():
  assert m.normalize_answer("The  Quick, brown FOX!") == "quick brown fox"
  assert m.normalize_answer("an apple a day") == "apple day"
  # Articles only as whole words; punctuation removal can join words.
  assert m.normalize_answer("Theatre's") == "theatres"
  assert m.normalize_answer("  ") == ""


def test_squad_exact_and_f1():
  assert m.squad_exact("the Eiffel Tower", "Eiffel tower.") == 1.0
  # pred [eiffel, tower, in, paris] vs gold [eiffel, tower]: P 1/2, R 1
  # -> 2/3 ("the" is dropped, "in" is not).
  assert m.squad_f1("Eiffel Tower", "the Eiffel Tower in Paris") == (
      pytest.approx(2 / 3))
  assert m.squad_f1("Eiffel Tower", "the Eiffel Tower, Paris") == (
      pytest.approx(0.8))
  # Repeated tokens count as a multiset: pred [a1 a1 a1] gold [a1 b]:
  # overlap 1, P 1/3, R 1/2 -> 0.4.
  assert m.squad_f1("x1 y1", "x1 x1 x1") == pytest.approx(0.4)
  assert m.squad_f1("Paris", "London") == 0.0
  # v1.1: an empty prediction scores 0; v2.0: empty against empty is 1.
  assert m.squad_f1("", "") == 0.0
  assert m.squad_f1("", "", empty_matches_empty=True) == 1.0
  assert m.squad_f1("Paris", "", empty_matches_empty=True) == 0.0


def test_evaluate_v1_max_over_answers_and_missing():
  gold = {"q1": ["Denver Broncos", "The Denver Broncos"],
          "q2": ["Santa Clara, California", "Levi's Stadium"],
          "q3": ["gold"]}
  predictions = {"q1": "Denver Broncos", "q2": "Stadium"}
  results = m.evaluate_v1(gold, predictions)
  # q1 exact; q2: "stadium" vs "levis stadium" P 1 R 1/2 -> 2/3; q3 missing.
  assert results["exact_match"] == pytest.approx(100 / 3)
  assert results["f1"] == pytest.approx(100 * (1 + 2 / 3) / 3)
  assert results["total"] == 3 and results["missing"] == 1


def test_cmrc_mixed_segmentation():
  assert m.mixed_segmentation("北京2008年奥运会") == [
      "北", "京", "2008", "年", "奥", "运", "会"]
  assert m.mixed_segmentation("Hello World，你好！") == [
      "hello", "world", "，", "你", "好", "！"]
  # With punctuation removed the listed marks vanish without splitting runs
  # (as in the official script): "a-b" -> "ab".
  assert m.mixed_segmentation("a-b《书》", remove_punctuation=True) == [
      "ab", "书"]
  # ASCII punctuation outside the list stays a word of its own.
  assert m.mixed_segmentation("5.8英寸") == ["5", ".", "8", "英", "寸"]


def test_cmrc_longest_common_run():
  assert m.longest_common_run(list("abcde"), list("xbcdy")) == 3
  assert m.longest_common_run(list("abc"), list("cab")) == 2
  assert m.longest_common_run([], list("abc")) == 0
  # Contiguous, not a subsequence: a?c?e vs ace has runs of 1 only.
  assert m.longest_common_run(list("axcye"), list("ace")) == 1


def test_cmrc_scores():
  assert m.cmrc_exact("《红楼梦》", "红楼梦") == 1.0
  assert m.cmrc_exact("ABC", " abc ") == 1.0
  # gold 曹雪芹 [曹 雪 芹], pred 作者曹雪芹 [作 者 曹 雪 芹]: lcs 3,
  # P 3/5, R 1 -> 0.75.
  assert m.cmrc_f1("曹雪芹", "作者曹雪芹") == pytest.approx(0.75)
  # gold [约 6300 公 里] vs pred [6300 公 里 长]: lcs 3, P 3/4 R 3/4.
  assert m.cmrc_f1("约6300公里", "6300公里长") == pytest.approx(0.75)
  # Only punctuation in the prediction: no segments, F1 0.
  assert m.cmrc_f1("东海", "。") == 0.0
  exact, f1 = m.question_scores(["东海", "中国东海"], "东海", m.CMRC2018)
  assert (exact, f1) == (1.0, 1.0)
  exact, f1 = m.question_scores(["11个", "11个省级行政区"], "11个省",
                                m.CMRC2018)
  # vs "11个": lcs 2, P 2/3, R 1 -> 0.8; vs the long one: P 1, R 3/7 -> 0.6.
  assert exact == 0.0 and f1 == pytest.approx(0.8)


def test_evaluate_v1_cmrc_reports_average():
  gold = {"a": ["东海"], "b": ["曹雪芹"]}
  results = m.evaluate_v1(gold, {"a": "东海。", "b": "作者曹雪芹"},
                          metric=m.CMRC2018)
  assert results["exact_match"] == pytest.approx(50.0)
  assert results["f1"] == pytest.approx(87.5)
  assert results["average"] == pytest.approx(68.75)


V2_GOLD = {"h1": ["Paris"], "h2": ["blue whale"], "n1": [], "n2": []}


def test_evaluate_v2_without_null_odds():
  predictions = {"h1": "Paris", "h2": "whale", "n1": "", "n2": "something"}
  results = m.evaluate_v2(V2_GOLD, predictions)
  # h2: P 1, R 1/2 -> 2/3. n1 right, n2 wrong.
  assert results["exact"] == pytest.approx(50.0)
  assert results["f1"] == pytest.approx(100 * (1 + 2 / 3 + 1) / 4)
  assert results["HasAns_exact"] == 50.0 and results["HasAns_total"] == 2
  assert results["NoAns_exact"] == 50.0 and results["NoAns_total"] == 2
  assert results["exact_match"] == results["exact"]
  assert "best_f1" not in results


def test_evaluate_v2_thresholds():
  predictions = {"h1": "Paris", "h2": "whale", "n1": "x", "n2": "y"}
  odds = {"h1": -2.0, "h2": 1.5, "n1": 0.5, "n2": 3.0}
  results = m.evaluate_v2(V2_GOLD, predictions, odds, threshold=1.0)
  # Above 1.0 (h2, n2) become "": h1 1, h2 0, n1 0 ("x"), n2 1.
  assert results["exact"] == pytest.approx(50.0)
  assert results["f1"] == pytest.approx(50.0)
  # Un-emptying by increasing odds from score 2 (both NoAns right):
  # h1 (+1) -> 3 at -2.0; n1 (-1) -> 2; h2 (+0 exact, +2/3 f1); n2 (-1).
  assert results["best_exact"] == pytest.approx(75.0)
  assert results["best_exact_thresh"] == -2.0
  # f1 running: 2, 3 (h1, -2.0), 2 (n1), 2.667 (h2, 1.5), 1.667: best 3.
  assert results["best_f1"] == pytest.approx(75.0)
  assert results["best_f1_thresh"] == -2.0


def test_best_threshold_prefers_later_gain():
  gold = {"h1": ["a b"], "h2": ["c"], "n1": []}
  predictions = {"h1": "a b", "h2": "c", "n1": "z"}
  odds = {"h1": 0.1, "n1": 0.2, "h2": 0.3}
  best, threshold = m.find_best_threshold(
      predictions, {"h1": 1.0, "h2": 1.0, "n1": 0.0}, odds,
      {"h1": True, "h2": True, "n1": False})
  # 1 -> 2 (h1 @0.1) -> 1 (n1) -> 2 (h2 @0.3): ties keep the first.
  assert best == pytest.approx(200 / 3) and threshold == 0.1
  del gold


def test_v2_cmrc_and_errors():
  gold = {"h": ["东海"], "n": []}
  results = m.evaluate_v2(gold, {"h": "东海", "n": "。"}, metric=m.CMRC2018)
  assert results["exact"] == 100.0  # "。" is punctuation only: empty
  with pytest.raises(ValueError, match="null odds lack"):
    m.evaluate_v2(gold, {"h": "东海", "n": ""}, {"h": 0.0})
  with pytest.raises(ValueError, match="No question"):
    m.evaluate_v2(gold, {})
  with pytest.raises(ValueError, match="Unknown metric"):
    m.question_scores(["a"], "a", "bleu")


def test_default_metric():
  assert m.default_metric(["长江全长约6300公里，是中国第一长河。"]) == m.CMRC2018
  assert m.default_metric(["臺灣大學創立於1928年"]) == m.CMRC2018
  assert m.default_metric(["The Normans (Norman: Nourmands) were 中国"]) == (
      m.SQUAD)
