# coding=utf-8
"""Tests for race_utils: the RACE, C3 and CHID readers on fixtures written here,
choice padding, truncation that keeps question and option, bad input."""

import json
import os

import pytest

import race_utils
import tokenization

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
ENGLISH = ("the cat sat on a mat dog ran run to park where did what is it red "
           "blue green yes no . ?").split() + ["w%d" % i for i in range(40)]
CHINESE = sorted(set("男女你好今天去哪儿我们学校吧他在图书馆看书问题是什么地方一二三四五六七八九十"
               "画蛇添足守株待兔对牛弹琴亡羊补牢这个人做事总喜欢结果坏了家"))


def _write(path, text):
  os.makedirs(os.path.dirname(str(path)), exist_ok=True)
  with open(str(path), "w", encoding="utf-8") as f:
    f.write(text)
  return str(path)


def _write_json(path, obj):
  return _write(path, json.dumps(obj, ensure_ascii=False))


@pytest.fixture(name="tokenizer")
def _tokenizer(tmp_path):
  vocab = _write(tmp_path / "vocab" / "vocab.txt",
                 "\n".join(SPECIALS + ENGLISH + CHINESE) + "\n")
  return tokenization.FullTokenizer(vocab, do_lower_case=True)


def _converter(task_name, tokenizer, max_seq_length=64, max_qa_length=20,
               side="right"):
  return race_utils.ChoiceConverter(race_utils.get_task(task_name), tokenizer,
                                    max_seq_length, max_qa_length, side)


def _rows(record, tokenizer, num_choices):
  """The record's choices as token lists (padding dropped), checking layout."""
  ids = record["input_ids"]
  assert len(ids) % num_choices == 0
  length = len(ids) // num_choices
  for key in ("input_mask", "segment_ids"):
    assert len(record[key]) == len(ids)
  rows = []
  for choice in range(num_choices):
    row = ids[choice * length:(choice + 1) * length]
    mask = record["input_mask"][choice * length:(choice + 1) * length]
    real = sum(mask)
    assert mask == [1] * real + [0] * (length - real)
    rows.append(tokenizer.convert_ids_to_tokens(row[:real]))
  return rows


def _race_article(article_id, questions, options, answers):
  return dict(id=article_id, article="the cat sat on a mat . the dog ran to "
              "the park .", questions=questions, options=options,
              answers=answers)


def _write_race(root):
  _write_json(root / "train" / "high" / "1.txt", _race_article(
      "high1.txt", ["the cat sat on _ .", "where did the dog run ?"],
      [["a mat", "the park", "a dog", "the cat"],
       ["the mat", "the park", "red", "blue"]], ["A", "B"]))
  _write_json(root / "train" / "middle" / "7.txt", _race_article(
      "middle7.txt", ["what is red ?"], [["yes", "no", "cat", "dog"]],
      ["D"]))


# ---------------------------------------------------------------------------
# Readers and conversion


def test_race_cloze_and_non_cloze_questions(tmp_path, tokenizer):
  _write_race(tmp_path)
  examples = race_utils.get_reader("race").get_examples(str(tmp_path), "train")
  assert [e.guid for e in examples] == ["high1.txt-0", "high1.txt-1",
                                        "middle7.txt-0"]
  assert [e.subset for e in examples] == ["high", "high", "middle"]
  assert [e.label for e in examples] == [0, 1, 3]
  converter = _converter("race", tokenizer)
  stats = {}
  cloze = converter.convert(examples[0], 0, stats)
  rows = _rows(cloze, tokenizer, 4)
  context = "the cat sat on a mat . the dog ran to the park .".split()
  # The option fills the blank.
  assert rows[0] == (["[CLS]"] + context + ["[SEP]"] +
                     "the cat sat on a mat .".split() + ["[SEP]"])
  assert rows[1][-5:] == ["on", "the", "park", ".", "[SEP]"]
  plain = converter.convert(examples[1], 1, stats)
  # Question then option.
  assert _rows(plain, tokenizer, 4)[2][len(context) + 2:] == \
      "where did the dog run ? red [SEP]".split()
  assert plain["choice_mask"] == [1, 1, 1, 1]
  assert plain["label_ids"] == 1 and plain["example_index"] == 1
  middle = converter.convert(examples[2], 2, stats)
  assert cloze["subset_id"] == 0 and middle["subset_id"] == 1
  # Segment 0 through the first [SEP], then 1.
  length = len(cloze["input_ids"]) // 4
  first = cloze["segment_ids"][:length]
  assert first[:len(context) + 2] == [0] * (len(context) + 2)
  assert set(first[len(context) + 2:sum(cloze["input_mask"][:length])]) == {1}
  assert stats == dict(qa_truncated=0, context_truncated=0, padded_choices=0)


def test_c3_two_three_and_four_choices_are_padded_and_masked(tmp_path,
                                                             tokenizer):
  _write_json(tmp_path / "dev.json", [
      [["男：你好", "女：今天去哪儿？"],
       [{"question": "他们去哪儿？", "choice": ["学校", "图书馆"],
         "answer": "图书馆", "id": 10},
        {"question": "今天是什么？", "choice": ["一", "二", "三"],
         "answer": "三", "id": 11}], "m1-1"],
      [["他在图书馆看书。"],
       [{"question": "他在哪儿？", "choice": ["学校", "图书馆", "家", "地方"],
         "answer": "地方", "id": 12}], "d2-1"]])
  examples = race_utils.get_reader("c3").get_examples(str(tmp_path), "dev")
  assert [e.guid for e in examples] == ["10", "11", "12"]
  assert [e.label for e in examples] == [1, 2, 3]
  assert [len(e.choices) for e in examples] == [2, 3, 4]
  converter = _converter("c3", tokenizer)
  stats = {}
  for example, num_real in zip(examples, (2, 3, 4)):
    record = converter.convert(example, 0, stats)
    assert record["choice_mask"] == [1] * num_real + [0] * (4 - num_real)
    rows = _rows(record, tokenizer, 4)
    # Each row ends with its own choice; padded rows are empty.
    for choice, row in zip(example.choices, rows):
      assert "".join(row[-1 - len(choice):-1]) == choice
    assert all(row == [] for row in rows[num_real:])
    # L is the longest real choice of this example, not max_seq_length.
    assert len(record["input_ids"]) == 4 * max(len(r) for r in rows)
  assert stats["padded_choices"] == 2 + 1 + 0
  two = converter.convert(examples[0], 0, {})
  # Dialogue lines joined (the newline is whitespace to the tokenizer; "："
  # is not in the vocab).
  assert _rows(two, tokenizer, 4)[0][1:11] == [
      "男", "[UNK]", "你", "好", "女", "[UNK]", "今", "天", "去", "哪"]


def test_c3_release_files_keep_subsets_and_number_questions(tmp_path):
  doc = [["你好"], [{"question": "好吗？", "choice": ["好", "不"],
                     "answer": "好"}], "5"]
  _write_json(tmp_path / "d-train.json", [doc])
  _write_json(tmp_path / "m-train.json", [doc, doc[:2]])
  reader = race_utils.get_reader("c3")
  examples = reader.get_examples(str(tmp_path), "train")
  assert [(e.guid, e.subset) for e in examples] == [
      ("d-5-0", "d"), ("m-5-0", "m"), ("m-1-0", "m")]
  assert race_utils.get_task("c3").subsets.index("m") == 2


def test_chid_two_blanks_in_one_text(tmp_path, tokenizer):
  candidates = ["画蛇添足", "守株待兔", "对牛弹琴", "亡羊补牢"]
  text = "这个人做事总喜欢#idiom000001#，结果#idiom000002#。"
  _write(tmp_path / "train.json", json.dumps(
      {"candidates": candidates, "content": [text]}, ensure_ascii=False) +
         "\n")
  _write_json(tmp_path / "train_answer.json",
              {"#idiom000001#": 0, "#idiom000002#": 3})
  examples = race_utils.get_reader("chid").get_examples(str(tmp_path),
                                                        "train")
  assert [(e.guid, e.label) for e in examples] == [("#idiom000001#", 0),
                                                   ("#idiom000002#", 3)]
  converter = _converter("chid", tokenizer)
  first = _rows(converter.convert(examples[0], 0, {}), tokenizer, 10)
  second = _rows(converter.convert(examples[1], 1, {}), tokenizer, 10)
  prefix = list("这个人做事总喜欢")
  # The blank being filled is [MASK]; the other blank is [UNK].
  assert first[0][:13] == ["[CLS]"] + prefix + ["[MASK]", "[UNK]", "结", "果"]
  assert second[0][:13] == ["[CLS]"] + prefix + ["[UNK]", "[UNK]", "结", "果"]
  assert second[0][13] == "[MASK]"
  assert first[1][-6:] == ["[SEP]"] + list("守株待兔") + ["[SEP]"]
  record = converter.convert(examples[1], 1, {})
  assert record["choice_mask"] == [1] * 4 + [0] * 6
  assert race_utils.predictions_dict(
      race_utils.get_task("chid"), examples, [0, 3]) == {
          "#idiom000001#": 0, "#idiom000002#": 3}


def test_test_split_without_answers(tmp_path, tokenizer):
  _write_json(tmp_path / "test.json", [[["你好"], [
      {"question": "好吗？", "choice": ["好", "不"], "id": 3}], "x"]])
  examples = race_utils.get_reader("c3").get_examples(str(tmp_path), "test")
  assert examples[0].label is None
  assert _converter("c3", tokenizer).convert(examples[0], 0, {})[
      "label_ids"] == 0
  _write(tmp_path / "chid" / "test.json", json.dumps(
      {"candidates": ["画蛇添足", "守株待兔"], "content": ["#idiom9#"]}))
  chid = race_utils.get_reader("chid").get_examples(str(tmp_path / "chid"),
                                                    "test")
  assert [(e.guid, e.label) for e in chid] == [("#idiom9#", None)]


def test_answer_formats(tmp_path):
  _write_race(tmp_path)
  examples = race_utils.get_reader("race").get_examples(str(tmp_path), "train")
  assert race_utils.predictions_dict(race_utils.get_task("race"), examples,
                                     [3, 0, 1]) == {
                                         "high1.txt-0": "D",
                                         "high1.txt-1": "A",
                                         "middle7.txt-0": "B"}
  c3 = race_utils.ChoiceExample("q", ["x"], "y", ["学校", "图书馆"])
  assert race_utils.answer(race_utils.get_task("c3"), c3, 1) == "图书馆"


# ---------------------------------------------------------------------------
# Truncation


def _long_example(question="where did the dog run ?", choices=("the park",
                                                                 "a mat")):
  context = " ".join("w%d" % i for i in range(40))
  return race_utils.ChoiceExample("x", [context], question, list(choices),
                                  label=0, subset="high")


@pytest.mark.parametrize("side", ["right", "left"])
def test_truncation_keeps_question_and_option_whole(tokenizer, side):
  converter = _converter("race", tokenizer, max_seq_length=16,
                         max_qa_length=10, side=side)
  stats = {}
  record = converter.convert(_long_example(), 0, stats)
  rows = _rows(record, tokenizer, 4)
  for row, choice in zip(rows, ["the park", "a mat"]):
    qa = "where did the dog run ?".split() + choice.split()
    assert len(row) <= 16
    assert row[-len(qa) - 1:] == qa + ["[SEP]"]
    context = row[1:row.index("[SEP]")]
    assert len(context) == 16 - 3 - len(qa)
  assert stats["context_truncated"] == 1 and stats["qa_truncated"] == 0
  # The context loses tokens from the named side: right keeps the start.
  context_tokens = tokenizer.tokenize(_long_example().context[0])
  kept = rows[0][1:rows[0].index("[SEP]")]
  expected = (context_tokens[:len(kept)] if side == "right" else
              context_tokens[-len(kept):])
  assert kept == expected


def test_question_longer_than_max_qa_length_keeps_the_option(tokenizer):
  converter = _converter("race", tokenizer, max_seq_length=16,
                         max_qa_length=5)
  stats = {}
  rows = _rows(converter.convert(
      _long_example("where did the red dog run to ?", ["the park", "no"]),
      0, stats), tokenizer, 4)
  assert rows[0][-6:] == ["run", "to", "?", "the", "park", "[SEP]"]
  assert rows[1][-6:] == ["dog", "run", "to", "?", "no", "[SEP]"]
  assert stats["qa_truncated"] == 1
  # A cloze loses question tokens on both sides of the option, longer first.
  tokens, truncated = race_utils.qa_tokens(
      "the cat sat on _ . the dog ran to the park", "a mat", tokenizer, 5)
  assert truncated and tokens == ["on", "a", "mat", ".", "the"]


def test_chid_truncation_keeps_a_window_around_the_blank():
  tokens = ["t%d" % i for i in range(30)]
  assert race_utils.truncate_context(tokens, 5, "right", 20) == \
      tokens[18:23]
  assert race_utils.truncate_context(tokens, 5, "left", 1) == tokens[:5]
  assert race_utils.truncate_context(tokens, 5, "right", 29) == tokens[25:]
  assert race_utils.truncate_context(tokens, 5, "right") == tokens[:5]
  assert race_utils.truncate_context(tokens, 5, "left") == tokens[25:]


def test_converter_rejects_bad_settings(tokenizer):
  with pytest.raises(ValueError, match="max_qa_length=61"):
    _converter("race", tokenizer, max_seq_length=64, max_qa_length=61)
  with pytest.raises(ValueError, match="truncation_side=middle"):
    _converter("race", tokenizer, side="middle")
  with pytest.raises(ValueError, match="task_name=squad"):
    race_utils.get_task("squad")


# ---------------------------------------------------------------------------
# Bad input


def test_bad_race_records_name_file_and_question(tmp_path):
  _write_race(tmp_path)
  bad = _write_json(tmp_path / "dev" / "high" / "3.txt", _race_article(
      "high3.txt", ["what is it ?", "what is red ?"],
      [["a", "b", "c", "d"], ["a", "b", "c", "d"]], ["A", "E"]))
  broken = _write(tmp_path / "dev" / "middle" / "4.txt", "{not json")
  reader = race_utils.get_reader("race")
  with pytest.raises(race_utils.BadRecordsError) as info:
    reader.get_examples(str(tmp_path), "dev")
  message = str(info.value)
  assert "%s.questions[1]: answers[1] is 'E'" % bad in message
  assert "%s: invalid JSON" % broken in message
  assert "--skip_bad_rows" in message
  reader = race_utils.get_reader("race", skip_bad_rows=True)
  examples = reader.get_examples(str(tmp_path), "dev")
  assert [e.guid for e in examples] == ["high3.txt-0"]
  assert len(reader.bad_records) == 2
  with pytest.raises(ValueError, match="test/{high,middle}"):
    reader.get_examples(str(tmp_path), "test")


def test_bad_c3_records_name_document_and_question(tmp_path):
  good = {"question": "好吗？", "choice": ["好", "不"], "answer": "好"}
  path = _write_json(tmp_path / "dev.json", [
      [["你好"], [good], "a"],
      [["你好"], [good, dict(good, answer="坏")], "b"],
      [["你好"], [dict(good, choice=list("一二三四五"), answer="一")], "c"],
      [["你好"], [dict(good, choice=["好"])], "d"],
      "not a document",
      [["你好"], [dict(good, id=1), dict(good, id=1)], "e"],
  ])
  with pytest.raises(race_utils.BadRecordsError) as info:
    race_utils.get_reader("c3").get_examples(str(tmp_path), "dev")
  message = str(info.value)
  assert "%s[1].questions[1]: answer '坏' is not one of its choices" % path \
      in message
  assert "%s[2].questions[0]: choice has 5 entries; expected 2 to 4" % path \
      in message
  assert "%s[3].questions[0]: choice has 1 entries" % path in message
  assert "%s[4]: expected [context lines, questions, id]" % path in message
  assert "%s[5].questions[1]: id '1' repeats the id of %s[5].questions[0]" % (
      path, path) in message
  reader = race_utils.get_reader("c3", skip_bad_rows=True)
  examples = reader.get_examples(str(tmp_path), "dev")
  assert [e.guid for e in examples] == ["a-0", "b-0", "1"]
  assert len(reader.bad_records) == 5


def test_bad_chid_records_name_line_text_and_blank(tmp_path):
  candidates = ["画蛇添足", "守株待兔"]
  lines = [{"candidates": candidates, "content": ["你#idiom1#好", "没有空"]},
           {"candidates": candidates, "content": ["#idiom2#和#idiom3#"]}]
  path = _write(tmp_path / "dev.json", "\n".join(
      json.dumps(line, ensure_ascii=False) for line in lines) + "\n{bad\n")
  _write_json(tmp_path / "dev_answer.json", {"#idiom1#": 1, "#idiom2#": 5})
  with pytest.raises(race_utils.BadRecordsError) as info:
    race_utils.get_reader("chid").get_examples(str(tmp_path), "dev")
  message = str(info.value)
  assert "%s:1.content[1]: no #idiomNNNNNN# blank" % path in message
  assert "%s:2.content[0] #idiom2#: answer 5 is not a candidate index 0..1" % (
      path) in message
  assert "%s:2.content[0] #idiom3#: no answer for this blank" % path in message
  assert "%s:3: invalid JSON" % path in message
  reader = race_utils.get_reader("chid", skip_bad_rows=True)
  assert [e.guid for e in reader.get_examples(str(tmp_path), "dev")] == [
      "#idiom1#"]
  assert len(reader.bad_records) == 4
  other = tmp_path / "other"
  _write(other / "dev.json", json.dumps(lines[0]))
  with pytest.raises(ValueError, match="dev_answer.json do not exist"):
    race_utils.get_reader("chid").get_examples(str(other), "dev")
