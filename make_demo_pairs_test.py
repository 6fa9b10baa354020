# coding=utf-8
"""Tests for make_demo_pairs, both tasks (altered sentences, retold pairs):
labels mean what they say, balance, seeding, and the output reads back
through the generic_single / generic_pair processors."""

import numpy as np

import classifier_data
import make_demo_pairs

CHAPTERS = [["c%ds%d" % (c, s) for s in range(30)] for c in range(4)]


def test_labels_match_how_pairs_were_drawn():
  pairs = make_demo_pairs.make_pairs(CHAPTERS, np.random.RandomState(0), 1000)
  assert len(pairs) == 4 * 30  # one pair per sentence
  for text_a, text_b, label in pairs:
    chapter, index = (int(part) for part in text_a[1:].split("s"))
    if label == "1":
      # A retelling: no longer than the original, mostly its characters.
      assert len(text_b) <= len(text_a)
      assert sum(c in text_a for c in text_b) >= 0.6 * len(text_b)
    else:
      other_chapter, other = (int(part) for part in text_b[1:].split("s"))
      assert other_chapter == chapter and 0 < abs(other - index) <= 5
  positives = sum(label == "1" for _, _, label in pairs)
  assert 0.35 < positives / len(pairs) < 0.65


def test_retell_drops_and_replaces_characters():
  rng = np.random.RandomState(3)
  sentence = "甲乙丙丁戊己庚辛壬癸" * 10
  retold = make_demo_pairs.retell(sentence, "子", rng)
  assert 0.6 * len(sentence) < len(retold) < 0.95 * len(sentence)
  assert 0 < retold.count("子") < 0.25 * len(retold)


def test_seeded_and_capped():
  first = make_demo_pairs.make_pairs(CHAPTERS, np.random.RandomState(7), 20)
  again = make_demo_pairs.make_pairs(CHAPTERS, np.random.RandomState(7), 20)
  other = make_demo_pairs.make_pairs(CHAPTERS, np.random.RandomState(8), 20)
  assert first == again and first != other and len(first) == 20


def test_read_chapters_and_round_trip(tmp_path):
  text = "第一回\n甲说了话。\n乙答了话。\n\n\n第二回\n丙走了。\n丁来了。\n"
  path = tmp_path / "sample.txt"
  path.write_text(text, encoding="utf-8")
  chapters = make_demo_pairs.read_chapters(str(path), min_chars=4)
  assert chapters == [["甲说了话。", "乙答了话。"], ["丙走了。", "丁来了。"]]
  pairs = make_demo_pairs.make_pairs(chapters, np.random.RandomState(0), 10)
  make_demo_pairs.write_pairs(str(tmp_path / "train.tsv"), pairs)
  processor = classifier_data.get_processor(
      "generic_pair", data_dir=str(tmp_path), labels=["0", "1"])
  examples = processor.get_train_examples(str(tmp_path))
  # The header line is recognised, not read as a pair.
  assert [(e.text_a, e.text_b, e.label) for e in examples] == pairs


def test_alter_replaces_content_characters_from_the_pool_only():
  rng = np.random.RandomState(5)
  sentence = "玄德曰：“吾乃汉室宗亲，姓刘名备，字玄德。”"
  pool = list("曹操孙权")
  altered = make_demo_pairs.alter(sentence, pool, rng)
  assert len(altered) == len(sentence)
  changed = [(a, b) for a, b in zip(sentence, altered) if a != b]
  content = sum(make_demo_pairs.is_content(c) for c in sentence)
  # About a sixth of the content characters, at least two.
  assert max(2, round(content / 6) - 1) <= len(changed) <= round(content / 6)
  for original, replacement in changed:
    assert make_demo_pairs.is_content(original) and replacement in pool
  # Punctuation never changes.
  assert [c for c in altered if not make_demo_pairs.is_content(c)] == [
      c for c in sentence if not make_demo_pairs.is_content(c)]
  # Short sentences still get two replacements.
  short = make_demo_pairs.alter("甲乙丙丁", pool, rng)
  assert sum(a != b for a, b in zip("甲乙丙丁", short)) == 2


def test_altered_examples_are_balanced_and_labelled_by_what_was_done():
  chapters = [["第%d句%s。" % (i, "甲乙丙丁戊己庚辛"[c:] + "子丑寅卯")
               for i in range(40)] for c in range(3)]
  originals = {s for chapter in chapters for s in chapter}
  examples = make_demo_pairs.make_altered_examples(
      chapters, np.random.RandomState(2), 1000)
  assert len(examples) == 120
  for text, label in examples:
    assert (text in originals) == (label == "1")
  positives = sum(label == "1" for _, label in examples)
  assert 0.35 < positives / len(examples) < 0.65


def test_altered_task_reads_back_as_generic_single(tmp_path):
  examples = [("甲乙丙丁。", "1"), ("甲子丙丁。", "0")]
  make_demo_pairs.write_pairs(str(tmp_path / "train.tsv"), examples)
  processor = classifier_data.get_processor(
      "generic_single", data_dir=str(tmp_path), labels=["0", "1"])
  read = processor.get_train_examples(str(tmp_path))
  assert [(e.text_a, e.label) for e in read] == examples
