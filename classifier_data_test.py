# coding=utf-8
"""Tests for classifier_data: every task reader on fixtures, headers, bad rows,
features, fingerprinted caches and length-bucketed batches."""

import json
import os

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

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
  with pytest.raises(ValueError, match="Unknown --task_name=mrpc.*lcqmc"):
    classifier_data.get_processor("mrpc")
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


def test_pad_examples_to_batch_multiple():
  examples = [classifier_data.InputExample(str(i), "a") for i in range(5)]
  padded = classifier_data.pad_examples(examples, 4)
  assert len(padded) == 8
  assert all(isinstance(e, classifier_data.PaddingInputExample)
             for e in padded[5:])


# ---------------------------------------------------------------------------
# Caches


def _fingerprint(data_dir, vocab_file, **overrides):
  args = dict(task_name="lcqmc", split="train",
              data_files=[os.path.join(data_dir, "train.txt")],
              vocab_files=[vocab_file], label_list=["0", "1"],
              max_seq_length=32, do_lower_case=True, skip_bad_rows=False)
  args.update(overrides)
  return classifier_data.cache_fingerprint(**args)


def test_fingerprint_changes_with_every_input(tmp_path):
  data_dir = tmp_path / "data"
  data_dir.mkdir()
  _write(data_dir / "train.txt", "我\t你\t1\n")
  _, vocab_file = _small_tokenizer(tmp_path)
  base = _fingerprint(str(data_dir), vocab_file)
  assert base == _fingerprint(str(data_dir), vocab_file)
  variants = [
      _fingerprint(str(data_dir), vocab_file, max_seq_length=64),
      _fingerprint(str(data_dir), vocab_file, task_name="afqmc"),
      _fingerprint(str(data_dir), vocab_file, do_lower_case=False),
      _fingerprint(str(data_dir), vocab_file, label_list=["1", "0"]),
  ]
  _write(data_dir / "train.txt", "我\t你\t0\n")
  variants.append(_fingerprint(str(data_dir), vocab_file))
  _write(vocab_file, open(vocab_file, encoding="utf-8").read() + "新\n")
  variants.append(_fingerprint(str(data_dir), vocab_file))
  assert len(set(variants + [base])) == len(variants) + 1


def _read_records(path):
  return [tf.train.Example.FromString(r)
          for r in tf.io.tf_record_iterator(path)]


def test_cache_is_reused_then_rebuilt_when_data_changes(tmp_path):
  tokenizer, vocab_file = _small_tokenizer(tmp_path)
  data_dir = tmp_path / "data"
  data_dir.mkdir()
  _write(data_dir / "train.txt", "我好\t你好\t1\n他\t你\t0\n")
  processor = classifier_data.get_processor("lcqmc")
  calls = []

  def prepare():
    fingerprint = _fingerprint(str(data_dir), vocab_file)

    def examples_fn():
      calls.append(1)
      return processor.get_train_examples(str(data_dir))
    return classifier_data.prepare_features_file(
        examples_fn, fingerprint, str(tmp_path / "cache"), "train", ["0", "1"],
        32, tokenizer)

  first = prepare()
  assert (first.num_examples, first.from_cache, len(calls)) == (2, False, 1)
  records = _read_records(first.path)
  ids = list(records[0].features.feature["input_ids"].int64_list.value)
  assert tokenizer.convert_ids_to_tokens(ids) == [
      "[CLS]", "我", "好", "[SEP]", "你", "好", "[SEP]"]
  assert list(records[1].features.feature["label_ids"].int64_list.value) == [0]

  second = prepare()
  assert (second.path, second.from_cache, len(calls)) == (first.path, True, 1)

  _write(data_dir / "train.txt", "我好\t你好\t1\n他\t你\t0\n你\t我\t1\n")
  third = prepare()
  assert (third.num_examples, third.from_cache, len(calls)) == (3, False, 2)
  assert third.path != first.path
  # The stale cache of the same split is gone; no temporary files remain.
  assert sorted(os.listdir(tmp_path / "cache")) == sorted(
      [os.path.basename(third.path), os.path.basename(third.path) + ".json"])


def test_sorted_cache_keeps_example_index(tmp_path):
  tokenizer, _ = _small_tokenizer(tmp_path)
  texts = ["我我我我", "你", "他他", "好好好", "的"]
  examples = [classifier_data.InputExample(str(i), t, None, "0")
              for i, t in enumerate(texts)]
  result = classifier_data.prepare_features_file(
      lambda: examples, "fp", str(tmp_path), "test", ["0"], 16, tokenizer,
      sort_by_length=True)
  records = _read_records(result.path)
  lengths = [len(r.features.feature["input_ids"].int64_list.value)
             for r in records]
  indices = [r.features.feature["example_index"].int64_list.value[0]
             for r in records]
  assert lengths == [3, 3, 4, 5, 6]
  # Stable: the two one-character texts keep their relative order.
  assert indices == [1, 4, 2, 3, 0]


def test_padded_cache_marks_fake_examples(tmp_path):
  tokenizer, _ = _small_tokenizer(tmp_path)
  examples = [classifier_data.InputExample(str(i), "我", "你", "1")
              for i in range(3)]
  result = classifier_data.prepare_features_file(
      lambda: examples, "fp", str(tmp_path), "dev", ["0", "1"], 16, tokenizer,
      pad_to_multiple=4)
  assert (result.num_examples, result.num_real_examples) == (4, 3)
  real = [r.features.feature["is_real_example"].int64_list.value[0]
          for r in _read_records(result.path)]
  assert real == [1, 1, 1, 0]


# ---------------------------------------------------------------------------
# Batching


def _write_length_file(tmp_path, lengths):
  path = str(tmp_path / "lengths.tf_record")
  with tf.io.TFRecordWriter(path) as writer:
    for index, length in enumerate(lengths):
      features = classifier_data.InputFeatures(
          input_ids=[index + 1] * length, input_mask=[1] * length,
          segment_ids=[0] * length, label_id=index % 2, example_index=index)
      writer.write(
          classifier_data.features_to_tf_example(features).SerializeToString())
  return path


def _batches(input_fn, batch_size, count):
  with tf.Graph().as_default():
    dataset = input_fn({"batch_size": batch_size})
    next_batch = tf.data.make_one_shot_iterator(dataset).get_next()
    with tf.Session() as sess:
      results = []
      for _ in range(count):
        try:
          results.append(sess.run(next_batch))
        except tf.errors.OutOfRangeError:
          break
      return results


def test_predict_batches_keep_order_and_pad_to_longest(tmp_path):
  lengths = [3, 9, 4, 5, 30]
  path = _write_length_file(tmp_path, lengths)
  input_fn = classifier_data.file_based_input_fn_builder(
      path, 64, is_training=False, drop_remainder=False)
  batches = _batches(input_fn, 2, 10)
  assert [b["input_ids"].shape for b in batches] == [(2, 9), (2, 5), (1, 30)]
  firsts = np.concatenate([b["input_ids"][:, 0] for b in batches])
  np.testing.assert_array_equal(firsts, [1, 2, 3, 4, 5])
  np.testing.assert_array_equal(
      np.concatenate([b["example_index"] for b in batches]), [0, 1, 2, 3, 4])
  np.testing.assert_array_equal(batches[0]["input_mask"][0],
                                [1, 1, 1] + [0] * 6)
  assert batches[0]["input_ids"].dtype == np.int32


def test_training_batches_come_from_one_length_bucket(tmp_path):
  lengths = [5, 6, 7, 8] * 8 + [60, 61, 62, 63] * 8
  path = _write_length_file(tmp_path, lengths)
  input_fn = classifier_data.file_based_input_fn_builder(
      path, 64, is_training=True, drop_remainder=True,
      bucket_boundaries=[16, 32], shuffle_buffer=64)
  for batch in _batches(input_fn, 4, 12):
    real_lengths = batch["input_mask"].sum(axis=1)
    # All short or all long: never a short example padded to 63.
    assert real_lengths.max() < 16 or real_lengths.min() >= 32
    assert batch["input_ids"].shape[1] == real_lengths.max()


def test_fixed_length_batches_are_static(tmp_path):
  path = _write_length_file(tmp_path, [3, 40])
  input_fn = classifier_data.file_based_input_fn_builder(
      path, 32, is_training=False, drop_remainder=True, dynamic_length=False)
  with tf.Graph().as_default():
    dataset = input_fn({"batch_size": 2})
    shapes = tf.data.get_output_shapes(dataset)
    assert shapes["input_ids"].as_list() == [2, 32]
  batch = _batches(input_fn, 2, 1)[0]
  # Longer than max_seq_length is cut, shorter padded.
  assert batch["input_mask"].sum(axis=1).tolist() == [3, 32]


def test_default_bucket_boundaries_stay_below_max_length():
  assert classifier_data.default_bucket_boundaries(64) == [16, 24, 32, 40, 48]
  assert classifier_data.default_bucket_boundaries(16) == []
