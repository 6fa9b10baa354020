# coding=utf-8
"""Tests of ner_metrics.py on hand-computed cases."""

import pytest

import ner_metrics


def test_get_entities_bio_and_stray_inside():
  tags = ["B-PER", "I-PER", "O", "I-LOC", "I-LOC", "B-LOC", "B-ORG", "I-PER"]
  assert ner_metrics.get_entities(tags) == [
      ("PER", 0, 2), ("LOC", 3, 5), ("LOC", 5, 6), ("ORG", 6, 7),
      ("PER", 7, 8)]
  # A stray I- at the very start also starts an entity.
  assert ner_metrics.get_entities(["I-PER", "O"]) == [("PER", 0, 1)]


def test_get_entities_bioes_and_bmes():
  tags = ["S-PER", "S-PER", "B-LOC", "I-LOC", "E-LOC", "E-LOC", "O", "B-ORG"]
  # Two adjacent singles; a stray E- after E- starts one; a B- at the end.
  assert ner_metrics.get_entities(tags) == [
      ("PER", 0, 1), ("PER", 1, 2), ("LOC", 2, 5), ("LOC", 5, 6),
      ("ORG", 7, 8)]
  assert ner_metrics.get_entities(["B-PER", "M-PER", "E-PER"]) == [
      ("PER", 0, 3)]


def test_evaluate_hand_computed():
  gold = [["B-PER", "I-PER", "O", "B-LOC", "I-LOC"],
          ["B-ORG", "I-ORG", "I-ORG", "O"]]
  predicted = [
      ["B-PER", "I-PER", "O", "B-LOC", "O"],       # PER right; LOC too short
      ["B-PER", "I-PER", "I-PER", "I-LOC"]]       # ORG as PER; stray I-LOC
  results = ner_metrics.evaluate(gold, predicted)
  # gold: PER, LOC, ORG = 3; predicted: PER, LOC(3,4), PER, LOC(3,4) = 4.
  assert (results["num_gold"], results["num_predicted"],
          results["num_correct"]) == (3, 4, 1)
  assert results["precision"] == pytest.approx(1 / 4)
  assert results["recall"] == pytest.approx(1 / 3)
  assert results["f1"] == pytest.approx(2 * (1 / 4) * (1 / 3) / (7 / 12))
  # 4 of 5 tags right in the first sentence, none of 4 in the second.
  assert results["token_accuracy"] == pytest.approx(4 / 9)
  per_type = results["per_type"]
  assert per_type["PER"]["precision"] == pytest.approx(1 / 2)
  assert per_type["PER"]["recall"] == 1.0
  assert per_type["LOC"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0,
                             "num_gold": 1, "num_predicted": 2,
                             "num_correct": 0}
  assert per_type["ORG"]["num_predicted"] == 0
  assert per_type["ORG"]["precision"] == 0.0


def test_evaluate_perfect_and_mismatched_lengths():
  gold = [["S-A", "O", "B-B", "E-B"]]
  results = ner_metrics.evaluate(gold, gold)
  assert results["f1"] == 1.0 and results["token_accuracy"] == 1.0
  with pytest.raises(ValueError, match="sentence 0 has 4 gold tags but 3"):
    ner_metrics.evaluate(gold, [["O", "O", "O"]])


def test_flatten_results_names():
  results = ner_metrics.evaluate([["B-PER"]], [["B-PER"]])
  flat = ner_metrics.flatten_results(results)
  assert flat["eval_f1"] == 1.0
  assert flat["eval_PER_f1"] == 1.0
  assert flat["eval_PER_num_gold"] == 1


@pytest.mark.parametrize("tags,scheme", [
    (["B-PER", "I-PER", "O"], "bio"),
    (["I-PER", "I-PER", "B-PER", "O"], "iob1"),
    (["S-PER", "B-LOC", "I-LOC", "E-LOC"], "bioes"),
    (["S-PER", "B-LOC", "M-LOC", "E-LOC"], "bmes"),
    (["I-PER", "O", "I-LOC"], "io"),
    (["O", "O"], "bio"),
])
def test_detect_scheme_and_tags_round_trip(tags, scheme):
  assert ner_metrics.detect_scheme([tags]) == scheme
  entities = ner_metrics.get_entities(tags)
  assert ner_metrics.entities_to_tags(entities, len(tags), scheme) == tags


def test_stray_inside_in_bio_data_is_not_iob1():
  # B- starting entities after O means BIO; the stray I-LOC is a slip.
  assert ner_metrics.detect_scheme([["B-PER", "O", "I-LOC"]]) == "bio"


def test_entities_to_tags_rejects_overlap_and_bad_tags():
  with pytest.raises(ValueError, match="overlaps"):
    ner_metrics.entities_to_tags([("A", 0, 2), ("B", 1, 3)], 4, "bio")
  with pytest.raises(ValueError, match="outside"):
    ner_metrics.entities_to_tags([("A", 2, 5)], 4, "bio")
  with pytest.raises(ner_metrics.TagError, match="B-PER"):
    ner_metrics.parse_tag("PER")
  with pytest.raises(ValueError, match="--tag_scheme"):
    ner_metrics.check_scheme("bilou")


def test_labels_for_scheme():
  assert ner_metrics.labels_for_scheme(["PER"], "bmes") == [
      "O", "B-PER", "M-PER", "E-PER", "S-PER"]
  assert ner_metrics.labels_for_scheme(["B", "A"], "io") == ["O", "I-A", "I-B"]
