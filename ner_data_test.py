# coding=utf-8
"""Tests of ner_data.py: readers, labels, WordPiece alignment, windows."""

import json
import os

import pytest

import ner_data
import ner_metrics
import tokenization

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",
         "北", "京", "在", "中", "国", "人", "张", "三", "是", "的", "，", "。",
         "iphone", "##12", "new", "york", "##ork", "y", "eu", "##ro", "1", "9",
         "8", "a", "-"]


@pytest.fixture
def tokenizer(tmp_path):
  path = tmp_path / "vocab.txt"
  path.write_text("\n".join(VOCAB) + "\n", encoding="utf-8")
  return tokenization.FullTokenizer(str(path), do_lower_case=True)


def _write(directory, name, text):
  path = os.path.join(str(directory), name)
  with open(path, "w", encoding="utf-8") as f:
    f.write(text)
  return path


def test_tag_file_bio_tab_and_space_separated(tmp_path):
  path = _write(tmp_path, "train.txt",
                "张\tB-PER\n三\tI-PER\n在\tO\n\n\n北 B-LOC\n京 I-LOC\n"
                "\u3000 O\n")
  examples = ner_data.read_examples("msra", path, "train")
  assert [e.words for e in examples] == [["张", "三", "在"],
                                         ["北", "京", "\u3000"]]
  assert examples[0].tags == ["B-PER", "I-PER", "O"]
  assert examples[1].separator == " "
  assert examples[1].where(1) == "%s:7" % path
  labels, scheme = ner_data.build_labels(examples)
  assert scheme == "bio"
  assert labels == ["O", "B-LOC", "I-LOC", "B-PER", "I-PER"]


@pytest.mark.parametrize("tags,scheme", [
    (["B-PER", "M-PER", "E-PER", "S-LOC"], "bmes"),
    (["B-PER", "I-PER", "E-PER", "S-LOC"], "bioes"),
    (["I-PER", "I-PER", "O", "I-LOC"], "io"),
    (["I-PER", "B-PER", "O", "I-LOC"], "iob1"),
])
def test_tag_schemes_detected_and_forced(tmp_path, tags, scheme):
  lines = "".join("%s\t%s\n" % (char, tag)
                  for char, tag in zip("张三北京", tags))
  path = _write(tmp_path, "train.char.bmes", lines)
  assert ner_data.split_file("bio", str(tmp_path), "train") == path
  examples = ner_data.read_examples("bio", path, "train")
  labels, detected = ner_data.build_labels(examples)
  assert detected == scheme
  ner_data.check_tags(examples, labels, detected)
  # Forcing BIO on S-/E- tags makes them unseen labels, named by line.
  if scheme in ("bioes", "bmes"):
    labels, _ = ner_data.build_labels(examples, scheme="bio")
    with pytest.raises(ner_data.NerDataError, match=r"train.char.bmes:\d"):
      ner_data.check_tags(examples, labels, "bio")


def test_unseen_dev_tag_names_file_and_line(tmp_path):
  train = ner_data.read_examples(
      "msra", _write(tmp_path, "train.txt", "张\tB-PER\n三\tO\n"), "train")
  dev = ner_data.read_examples(
      "msra", _write(tmp_path, "dev.txt", "北\tO\n\n京\tB-GPE\n"), "dev")
  labels, scheme = ner_data.build_labels(train)
  with pytest.raises(ner_data.NerDataError, match=r"dev.txt:3: tag 'B-GPE'"):
    ner_data.check_tags(dev, labels, scheme)


def test_bad_tag_lines(tmp_path):
  path = _write(tmp_path, "train.txt", "张\tB-PER\n三\tPER\n")
  with pytest.raises(ner_data.NerDataError, match=r"train.txt:2: tag 'PER'"):
    ner_data.read_examples("msra", path, "train")
  path = _write(tmp_path, "dev.txt", "张\tB-PER\n三\n")
  with pytest.raises(ner_data.NerDataError, match=r"dev.txt:2: line '三' "
                     "has no tag"):
    ner_data.read_examples("msra", path, "dev")
  # A test file may carry no tags at all.
  path = _write(tmp_path, "test.txt", "张\n三\n")
  assert ner_data.read_examples("msra", path, "test")[0].tags is None
  with pytest.raises(ner_data.NerDataError, match="no dev file"):
    ner_data.split_file("msra", str(tmp_path / "missing"), "dev")


def test_conll_reader_skips_docstart(tmp_path):
  path = _write(tmp_path, "train.txt",
                "-DOCSTART- -X- -X- O\n\nEU NNP B-NP B-ORG\nrejects VBZ B-VP O"
                "\n\n-DOCSTART- -X- -X- O\n\nNew NNP B-NP B-LOC\n"
                "York NNP I-NP I-LOC\n")
  examples = ner_data.read_examples("conll", path, "train")
  assert [e.words for e in examples] == [["EU", "rejects"], ["New", "York"]]
  assert examples[1].tags == ["B-LOC", "I-LOC"]
  assert examples[1].lines[0] == "New NNP B-NP B-LOC"
  assert examples[0].where(1) == "%s:4" % path


def _cluener_line(text, label=None, **extra):
  record = dict(extra, text=text)
  if label is not None:
    record["label"] = label
  return json.dumps(record, ensure_ascii=False)


def test_text_units_keep_exact_offsets():
  text = "张三 iPhone12，new-york"
  units = ner_data.text_units(text)
  assert [text[s:e] for s, e in units] == [
      "张", "三", "iPhone12", "，", "new", "-", "york"]
  assert units[2] == (3, 11)


def test_cluener_reader_latin_inside_chinese(tmp_path, tokenizer):
  text = "张三在北京买iPhone12。"
  label = {"name": {"张三": [[0, 1]]}, "address": {"北京": [[3, 4]]},
           "game": {"iPhone12": [[6, 13]]}}
  path = _write(tmp_path, "train.json", _cluener_line(text, label, id=7) + "\n")
  stats = {}
  examples = ner_data.read_examples("cluener", path, "train", "bioes", stats)
  example = examples[0]
  assert example.words == ["张", "三", "在", "北", "京", "买", "iPhone12", "。"]
  assert example.tags == ["B-name", "E-name", "O", "B-address", "E-address",
                          "O", "S-game", "O"]
  assert example.record_id == 7
  assert example.char_entities == [("name", 0, 2), ("address", 3, 5),
                                   ("game", 6, 14)]
  assert "misaligned_entities" not in stats
  # "iphone12" is two pieces; only the first carries the tag.
  alignment = ner_data.align(example, tokenizer)
  assert tokenizer.convert_ids_to_tokens(alignment.piece_ids) == [
      "张", "三", "在", "北", "京", "[UNK]", "iphone", "##12", "。"]
  assert alignment.first_piece == [0, 1, 2, 3, 4, 5, 6, 8]
  # Units tokenized alone give the pieces of the whole text.
  assert tokenizer.convert_tokens_to_ids(tokenizer.tokenize(text)) == (
      alignment.piece_ids)


def test_cluener_errors_name_file_and_line(tmp_path):
  good = _cluener_line("张三", {"name": {"张三": [[0, 1]]}})
  wrong_text = _cluener_line("张三在", {"name": {"张三": [[1, 2]]}})
  path = _write(tmp_path, "dev.json", good + "\n" + wrong_text + "\n")
  with pytest.raises(ner_data.NerDataError,
                     match=r"dev.json:2: label.name\['张三'\] span \[1, 2\] "
                     "covers '三在'"):
    ner_data.read_examples("cluener", path, "dev")
  outside = _cluener_line("张三", {"name": {"张三": [[0, 5]]}})
  path = _write(tmp_path, "dev.json", outside + "\n")
  with pytest.raises(ner_data.NerDataError, match="dev.json:1: .*outside"):
    ner_data.read_examples("cluener", path, "dev")
  path = _write(tmp_path, "dev.json", "{not json\n")
  with pytest.raises(ner_data.NerDataError, match="dev.json:1: invalid JSON"):
    ner_data.read_examples("cluener", path, "dev")


def test_cluener_entity_inside_a_latin_run_is_counted(tmp_path):
  text = "买iPhone12"
  label = {"game": {"iPhone": [[1, 6]]}}
  path = _write(tmp_path, "train.json", _cluener_line(text, label) + "\n")
  stats = {}
  example = ner_data.read_examples("cluener", path, "train", "bio", stats)[0]
  assert stats["misaligned_entities"] == 1
  assert example.tags == ["O", "B-game"]


def test_wordpiece_alignment_and_label_mask(tokenizer):
  example = ner_data.NerExample("x", ["EU", "rejects", "New", "York", "\x07"],
                                ["B-ORG", "O", "B-LOC", "I-LOC", "O"])
  labels = ["O", "B-LOC", "I-LOC", "B-ORG", "I-ORG"]
  label_map = {label: i for i, label in enumerate(labels)}
  stats = {}
  records = list(ner_data.example_records([example], tokenizer, label_map, 32,
                                          stats))
  assert len(records) == 1
  record = records[0]
  pieces = tokenizer.convert_ids_to_tokens(record["input_ids"])
  # "eu" is one piece, "rejects" unknown, the bell character has no piece
  # and gets [UNK] so it keeps a prediction.
  assert pieces == ["[CLS]", "eu", "[UNK]", "new", "york", "[UNK]", "[SEP]"]
  assert record["label_mask"] == [0, 1, 1, 1, 1, 1, 0]
  assert record["label_ids"] == [0, 3, 0, 1, 2, 0, 0]
  assert stats["words_without_pieces"] == 1
  multi = ner_data.NerExample("y", ["Euro", "York"], ["B-ORG", "O"])
  record = list(ner_data.example_records([multi], tokenizer, label_map, 32))[0]
  assert tokenizer.convert_ids_to_tokens(record["input_ids"]) == [
      "[CLS]", "eu", "##ro", "york", "[SEP]"]
  # The second piece of "Euro" is masked out of loss and metric.
  assert record["label_mask"] == [0, 1, 0, 1, 0]
  assert record["label_ids"] == [0, 3, 0, 0, 0]


def test_windows_cover_and_overlap():
  assert ner_data.windows(5, 8) == [(0, 5)]
  spans = ner_data.windows(21, 8)
  assert spans == [(0, 8), (4, 12), (8, 16), (12, 20), (13, 21)]
  covered = set()
  for start, end in spans:
    covered.update(range(start, end))
  assert covered == set(range(21))


def test_long_sentence_windows_merge_back_to_every_word(tokenizer):
  words = list("北京在中国人张三是的") * 3 + ["Euro"] + list("北京")
  tags = ["O"] * len(words)
  example = ner_data.NerExample("z", words, tags)
  label_map = {"O": 0}
  stats = {}
  records = list(ner_data.example_records([example], tokenizer, label_map,
                                          10, stats))
  assert stats["split_sentences"] == 1
  assert stats["windows"] == len(records) > 1
  assert all(len(record["input_ids"]) <= 10 for record in records)
  # A fake model that predicts each word's index (+1) and, to tell windows
  # apart, 1000 * window number: the merge must give every word exactly its
  # index, from the window where it is most central.
  predictions = []
  for window_number, record in enumerate(records):
    tag_ids = [0] * len(record["input_ids"])
    word = record["first_word"]
    for position, flag in enumerate(record["label_mask"]):
      if flag:
        tag_ids[position] = 1000 * window_number + word + 1
        word += 1
    predictions.append(dict(record, tag_ids=tag_ids))
  merged = ner_data.merge_windows([len(words)], predictions)[0]
  assert [tag % 1000 for tag in merged] == list(range(1, len(words) + 1))
  windows_used = [tag // 1000 for tag in merged]
  # Words come from successive windows in order; the first from window 0.
  assert windows_used == sorted(windows_used) and windows_used[0] == 0
  assert windows_used[-1] == len(records) - 1
  with pytest.raises(ValueError, match="no prediction"):
    ner_data.merge_windows([len(words)], predictions[:1])


def test_labels_flag_types_and_tags():
  labels, scheme = ner_data.parse_labels_flag("PER,LOC", "bioes")
  assert labels == ner_metrics.labels_for_scheme(["LOC", "PER"], "bioes")
  assert scheme == "bioes"
  labels, scheme = ner_data.parse_labels_flag("B-PER,I-PER,O")
  assert labels == ["O", "B-PER", "I-PER"] and scheme == "bio"
  with pytest.raises(ValueError, match="--labels"):
    ner_data.parse_labels_flag(" , ")
  with pytest.raises(ValueError, match="--task_name"):
    ner_data.check_task("pos")


@pytest.mark.parametrize("task_name,name,text", [
    ("msra", "test.txt", "张\tB-PER\n三\tI-PER\n在\tO\n\n北\tB-LOC\n"),
    ("conll", "test.txt", "-DOCSTART- -X- O\n\nEU NNP B-ORG\nsays VBZ O\n"),
    ("cluener", "test.json",
     _cluener_line("张三在iPhone12", {"name": {"张三": [[0, 1]]},
                                    "game": {"iPhone12": [[3, 10]]}}, id=3)),
])
def test_predictions_in_input_format_read_back(tmp_path, task_name, name,
                                               text):
  path = _write(tmp_path, name, text + "\n")
  examples = ner_data.read_examples(task_name, path, "test")
  # Predict the gold tags, shifted: the written file must read back to them.
  predicted = [list(example.tags) for example in examples]
  predicted[0][-1] = "B-LOC" if task_name != "cluener" else "O"
  lines = ner_data.prediction_lines(task_name, examples, predicted)
  os.makedirs(str(tmp_path / "out"))
  out_path = _write(tmp_path / "out", name, "\n".join(lines) + "\n")
  again = ner_data.read_examples(task_name, out_path, "test")
  assert [e.words for e in again] == [e.words for e in examples]
  if task_name == "cluener":
    assert again[0].record_id == 3
    assert again[0].char_entities == [("name", 0, 2)]
    gold = ner_data.gold_output_tags(examples[0], "bio")
    assert gold == ["B-name", "I-name", "O"] + ["B-game"] + ["I-game"] * 7
    assert ner_data.output_tags(examples[0], predicted[0], "bio") == (
        gold[:3] + ["O"] * 8)
  else:
    assert [e.tags for e in again] == predicted
  if task_name == "conll":
    assert lines[0] == "EU NNP B-ORG"


def test_digits_and_latin_lines_inside_chinese_each_get_a_tag(tmp_path,
                                                              tokenizer):
  # MSRA writes "1998年" as five lines: every character keeps its own piece
  # and its own prediction slot.
  path = _write(tmp_path, "train.txt", "".join(
      "%s\t%s\n" % pair for pair in zip("1998年a中", [
          "B-DATE", "I-DATE", "I-DATE", "I-DATE", "I-DATE", "O", "O"])))
  example = ner_data.read_examples("msra", path, "train")[0]
  labels, scheme = ner_data.build_labels([example])
  label_map = {label: i for i, label in enumerate(labels)}
  record = list(ner_data.example_records([example], tokenizer, label_map,
                                         16))[0]
  assert tokenizer.convert_ids_to_tokens(record["input_ids"]) == [
      "[CLS]", "1", "9", "9", "8", "[UNK]", "a", "中", "[SEP]"]
  assert record["label_mask"] == [0] + [1] * 7 + [0]
  assert [labels[i] for i in record["label_ids"][1:-1]] == example.tags
  assert scheme == "bio"
