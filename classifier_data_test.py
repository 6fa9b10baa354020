# coding=utf-8
"""Tests for classifier_data: every task reader on fixtures, headers, bad rows
and features (caches and batches are tested in finetune_data_test)."""

import os

import pytest

import classifier_data
import tokenization

TESTDATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "testdata",
                        "classifier")


def _data(name):
  return os.path.join(TESTDATA, name)


def _write(path, text):
  with open(path, "w", encoding="utf-8") as f:
    f.write(text)
  return str(path)


def _small_tokenizer(tmp_path, extra_tokens=()):
  """A WordPiece tokenizer whose vocab holds the specials and a few chars."""
  tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
  tokens += list("我你他好的是吗不") + list(extra_tokens)
  vocab_file = _write(tmp_path / "vocab.txt", "\n".join(tokens) + "\n")
  return tokenization.FullTokenizer(vocab_file, do_lower_case=True), vocab_file


# ---------------------------------------------------------------------------
# Readers


def test_lcqmc_keeps_first_line_without_header_and_skips_real_header():
  processor = classifier_data.get_processor("lcqmc")
  train = processor.get_train_examples(_data("lcqmc"))
  # The original dropped line 1 of every file; this file has no header.
  assert len(train) == 3
  assert train[0].text_a == "喜欢打篮球的男生喜欢什么样的女生"
  assert train[0].text_b == "爱打篮球的男生喜欢什么样的女生"
  assert [e.label for e in train] == ["1", "1", "0"]
  dev = processor.get_dev_examples(_data("lcqmc"))
  assert [e.text_a for e in dev] == ["开初婚未育证明怎么弄？", "谁知道她是网络美女吗？"]
  test = processor.get_test_examples(_data("lcqmc"))
  assert len(test) == 2 and all(e.label is None for e in test)
  assert test[1].text_b == "英雄联盟最好英雄是什么"
  assert classifier_data.get_processor("lcqmc_pair").get_labels() == ["0", "1"]


def test_bad_rows_are_reported_with_file_and_line():
  processor = classifier_data.get_processor("lcqmc")
  with pytest.raises(classifier_data.BadRowsError) as info:
    processor.get_train_examples(_data("lcqmc_bad"))
  message = str(info.value)
  path = os.path.join(_data("lcqmc_bad"), "train.txt")
  assert "3 malformed train rows" in message
  assert "%s:2: expected 3 tab-separated columns" % path in message
  assert "%s:3: empty text_b" % path in message
  assert "%s:5: unknown label '2'" % path in message
  assert "--skip_bad_rows" in message


def test_skip_bad_rows_counts_and_keeps_good_rows():
  processor = classifier_data.get_processor("lcqmc", skip_bad_rows=True)
  examples = processor.get_train_examples(_data("lcqmc_bad"))
  assert [e.text_a for e in examples] == ["第一句", "好的"]
  assert [row.line_number for row in processor.bad_rows] == [2, 3, 5]


def test_invalid_json_and_encoding_are_bad_rows(tmp_path):
  _write(tmp_path / "train.json",
         '{"sentence1": "a", "sentence2": "b", "label": "1"}\n{not json\n'
         '{"sentence1": "a", "label": "0"}\n[1, 2]\n')
  with open(tmp_path / "train.json", "ab") as f:
    f.write(b'{"sentence1": "\xff", "sentence2": "b", "label": "0"}\n')
  processor = classifier_data.get_processor("afqmc", skip_bad_rows=True)
  examples = processor.get_train_examples(str(tmp_path))
  assert len(examples) == 1
  reasons = {row.line_number: row.reason for row in processor.bad_rows}
  assert sorted(reasons) == [2, 3, 4, 5]
  assert reasons[2].startswith("invalid JSON")
  assert reasons[3] == "missing key 'sentence2'"
  assert reasons[4] == "expected a JSON object, found list"
  assert reasons[5].startswith("not valid UTF-8")


@pytest.mark.parametrize("fields,expected", [
    (["text_a", "text_b", "label"], True),
    (["sentence1", "sentence2", "label"], True),
    (["你好", "您好", "1"], False),
    # A data row that happens to start with a column name keeps its label.
    (["label", "标签", "0"], False),
    (["hello", "world", "label"], True),
])
def test_header_detection(fields, expected):
  assert classifier_data._is_tsv_header(fields, True, ["0", "1"]) == expected


def test_xnli_clue_json():
  processor = classifier_data.get_processor("xnli")
  train = processor.get_train_examples(_data("xnli_clue"))
  assert [e.label for e in train] == ["neutral", "contradiction"]
  assert train[1].text_b == "他没说一句话。"
  assert processor.get_dev_examples(_data("xnli_clue"))[0].label == "entailment"
  assert processor.get_test_examples(_data("xnli_clue"))[0].text_a == "这是什么？"


def test_xnli_tsv_release():
  processor = classifier_data.get_processor("xnli")
  train = processor.get_train_examples(_data("xnli_tsv"))
  # XNLI-MT spells the label "contradictory".
  assert [e.label for e in train] == ["contradiction", "entailment"]
  dev = processor.get_dev_examples(_data("xnli_tsv"))
  # Only the zh rows, by header column names.
  assert [(e.text_a, e.text_b, e.label) for e in dev] == [
      ("你好。", "嗨。", "neutral"), ("下雨了。", "天气不好。", "entailment")]
  assert processor.get_test_examples(_data("xnli_tsv"))[0].text_b == "他走了。"


def test_xnli_tsv_without_needed_columns_names_the_file(tmp_path):
  _write(tmp_path / "xnli.dev.tsv", "language\tsentence1\nzh\t你好\n")
  with pytest.raises(classifier_data.BadRowsError, match="xnli.dev.tsv:1: "
                     "header lacks column.*sentence2, gold_label"):
    classifier_data.get_processor("xnli").get_dev_examples(str(tmp_path))


def test_missing_files_say_what_was_looked_for(tmp_path):
  with pytest.raises(FileNotFoundError, match="multinli.train.zh.tsv"):
    classifier_data.get_processor("xnli").get_train_examples(str(tmp_path))


def test_clue_tasks():
  afqmc = classifier_data.get_processor("afqmc")
  assert [e.label for e in afqmc.get_train_examples(_data("afqmc"))] == ["0", "1"]
  # Integer labels in JSON compare as text.
  assert afqmc.get_dev_examples(_data("afqmc"))[0].label == "1"
  assert afqmc.get_test_examples(_data("afqmc"))[0].guid == "0"

  tnews = classifier_data.get_processor("tnews")
  labels = tnews.get_labels()
  assert len(labels) == 15 and "105" not in labels and "111" not in labels
  train = tnews.get_train_examples(_data("tnews"))
  assert train[0].text_b is None and train[1].label == "116"

  iflytek = classifier_data.get_processor("iflytek")
  assert len(iflytek.get_labels()) == 119
  assert [e.label for e in iflytek.get_train_examples(_data("iflytek"))] == [
      "11", "118"]

  cmnli = classifier_data.get_processor("cmnli")
  train = cmnli.get_train_examples(_data("cmnli"))
  assert [e.label for e in train] == ["neutral", "contradiction"]
  assert cmnli.num_dropped == 1 and not cmnli.bad_rows

  csl = classifier_data.get_processor("csl")
  train = csl.get_train_examples(_data("csl"))
  assert (train[0].text_a, train[0].text_b) == ("算法 不足",
                                                "针对传统方法的不足，提出一种新的算法。")
  assert [e.label for e in train] == ["1", "0"]
  assert csl.get_test_examples(_data("csl"))[0].label is None


def test_generic_single_tsv_labels_from_training_file():
  processor = classifier_data.get_processor(
      "generic_single", data_dir=_data("generic_single_tsv"))
  assert processor.get_labels() == ["negative", "neutral", "positive"]
  train = processor.get_train_examples(_data("generic_single_tsv"))
  assert len(train) == 4 and train[0].text_a == "这部电影太好看了"
  assert train[0].text_b is None
  assert processor.get_test_examples(_data("generic_single_tsv"))[0].text_a == "真不错"


def test_generic_pair_jsonl_numeric_labels_and_flag():
  data_dir = _data("generic_pair_jsonl")
  processor = classifier_data.get_processor("generic_pair", data_dir=data_dir)
  assert processor.get_labels() == ["2", "10"]
  assert [e.label for e in processor.get_train_examples(data_dir)] == [
      "10", "2", "2"]
  given = classifier_data.get_processor("generic_pair", data_dir=data_dir,
                                        labels=["10", "2", "7"])
  assert given.get_labels() == ["10", "2", "7"]
  only = classifier_data.get_processor("generic_pair", data_dir=data_dir,
                                       labels=["10"])
  with pytest.raises(classifier_data.BadRowsError, match="unknown label '2'"):
    only.get_train_examples(data_dir)


def test_generic_without_training_file_needs_labels(tmp_path):
  processor = classifier_data.get_processor("generic_pair", data_dir=str(tmp_path))
  with pytest.raises(ValueError, match="--labels"):
    processor.get_labels()


def test_unknown_task_and_labels_for_fixed_task():
  with pytest.raises(ValueError, match="Unknown --task_name=no_such_task.*"
                     "lcqmc"):
    classifier_data.get_processor("no_such_task")
  with pytest.raises(ValueError, match="only for the generic"):
    classifier_data.get_processor("lcqmc", labels=["a", "b"])


# ---------------------------------------------------------------------------
# Features


def test_convert_pair_example_layout_and_truncation(tmp_path):
  tokenizer, _ = _small_tokenizer(tmp_path)
  example = classifier_data.InputExample("g", "我好我好我好", "你", "1")
  features = classifier_data.convert_single_example(
      example, {"0": 0, "1": 1}, 7, tokenizer)
  tokens = tokenizer.convert_ids_to_tokens(features.input_ids)
  # Longest-first truncation keeps the short second text whole.
  assert tokens == ["[CLS]", "我", "好", "我", "[SEP]", "你", "[SEP]"]
  assert features.segment_ids == [0, 0, 0, 0, 0, 1, 1]
  assert features.input_mask == [1] * 7 and features.label_id == 1
  single = classifier_data.convert_single_example(
      classifier_data.InputExample("s", "他是谁", None, None), {"0": 0}, 16,
      tokenizer)
  assert tokenizer.convert_ids_to_tokens(single.input_ids) == [
      "[CLS]", "他", "是", "[UNK]", "[SEP]"]
  assert single.segment_ids == [0] * 5 and single.label_id == 0


def test_classifier_records_number_examples_and_map_labels(tmp_path):
  tokenizer, _ = _small_tokenizer(tmp_path)
  examples = [classifier_data.InputExample("a", "我", "你", "1"),
              classifier_data.InputExample("b", "他好", None, None)]
  records = list(classifier_data.classifier_records(examples, ["0", "1"], 16,
                                                    tokenizer))
  assert [r["example_index"] for r in records] == [0, 1]
  # Unlabelled (test) examples get the placeholder label id 0.
  assert [r["label_ids"] for r in records] == [1, 0]
  assert tokenizer.convert_ids_to_tokens(records[1]["input_ids"]) == [
      "[CLS]", "他", "好", "[SEP]"]
  assert records[0]["segment_ids"] == [0, 0, 0, 1, 1]




# ---------------------------------------------------------------------------
# Headers in files without labels (issue 14, item 5)


def _lcqmc_test_dir(tmp_path, text):
  data_dir = tmp_path / "lcqmc_headers"
  data_dir.mkdir()
  _write(data_dir / "test.txt", text)
  return str(data_dir)


def test_test_file_keeps_a_first_row_that_starts_with_a_column_name(
    tmp_path, caplog):
  # 问题 is a column name, but 答案是什么 is not: a real question pair whose
  # loss would shift every prediction by one line against the file.
  data_dir = _lcqmc_test_dir(tmp_path, "问题\t答案是什么\n你好吗\t我很好\n")
  with caplog.at_level("WARNING"):
    test = classifier_data.get_processor("lcqmc").get_test_examples(data_dir)
  assert [(e.text_a, e.text_b) for e in test] == [
      ("问题", "答案是什么"), ("你好吗", "我很好")]
  # Read as data, but the user is told it looked like a header.
  assert any("test.txt:1" in r.getMessage() and "read as data" in
             r.getMessage() for r in caplog.records
             if r.levelname == "WARNING")


@pytest.mark.parametrize("header", [
    "text_a\ttext_b", "sentence1\tsentence2\tlabel", "问题1\t问题2",
    "Question1\tQUESTION2\tid"])
def test_test_file_header_of_column_names_is_skipped_with_warning(
    tmp_path, caplog, header):
  data_dir = _lcqmc_test_dir(tmp_path, header + "\n你好吗\t我很好\n")
  with caplog.at_level("WARNING"):
    test = classifier_data.get_processor("lcqmc").get_test_examples(data_dir)
  assert [(e.text_a, e.text_b) for e in test] == [("你好吗", "我很好")]
  warnings = [r.getMessage() for r in caplog.records
              if r.levelname == "WARNING"]
  assert any("test.txt:1" in m and "skipping header" in m for m in warnings)


def test_placeholder_label_in_test_file_does_not_make_a_header(tmp_path):
  # Test labels are not checked (placeholders are common), so a label column
  # holding no valid label is no evidence of a header there.
  data_dir = _lcqmc_test_dir(tmp_path, "问题\t答案是什么\t?\n你好吗\t我很好\t?\n")
  test = classifier_data.get_processor("lcqmc").get_test_examples(data_dir)
  assert [e.text_a for e in test] == ["问题", "你好吗"]


def test_generic_single_test_file_keeps_one_word_row(tmp_path):
  data_dir = tmp_path / "generic"
  data_dir.mkdir()
  _write(data_dir / "train.tsv", "text\tlabel\n好\tpos\n不好\tneg\n")
  _write(data_dir / "test.tsv", "问题\n好吗\n")
  processor = classifier_data.get_processor("generic_single",
                                            data_dir=str(data_dir))
  # In a file without labels a first row counts as a header only when every
  # field is a column name; a one-column row `问题` is one (README says so).
  train = processor.get_train_examples(str(data_dir))
  assert [e.text_a for e in train] == ["好", "不好"]
  assert [e.text_a for e in processor.get_test_examples(str(data_dir))] == [
      "好吗"]
