# coding=utf-8
"""Tests for glue_data (GLUE readers on release-shaped fixtures, leaderboard and
submission files, the summary table) and for the CLUE OCNLI and WSC readers
added to classifier_data."""

import json
import os

import pytest

import classifier_data
import glue_data

HERE = os.path.dirname(os.path.abspath(__file__))
GLUE = os.path.join(HERE, "testdata", "glue")
CLUE = os.path.join(HERE, "testdata", "classifier")


def _read(task, split, data_dir=GLUE, **kwargs):
  processor = classifier_data.get_processor(task, **kwargs)
  return processor.get_examples(data_dir, split)


def _write(path, lines):
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with open(path, "w", encoding="utf-8") as f:
    f.write("".join(line + "\n" for line in lines))


def _triples(examples):
  return [(e.text_a, e.text_b, e.label) for e in examples]


# ---------------------------------------------------------------------------
# GLUE readers


def test_every_glue_task_is_registered_under_googles_names():
  for name in ("cola", "sst-2", "mrpc", "sts-b", "qqp", "mnli", "mnli-mm",
               "qnli", "rte", "wnli", "ax"):
    assert name in classifier_data.PROCESSORS
  # google's run_glue.sh passes the directory spelling (--task_name=SST-2).
  assert isinstance(classifier_data.get_processor("SST-2"),
                    glue_data.Sst2Processor)


def test_cola_train_has_no_header_test_has_one():
  train = _read("cola", "train")
  # The first line is data, not a header; column 2 ('*') is not the label.
  assert [e.label for e in train] == ["1", "0", "1"]
  assert train[0].text_a.startswith("Our friends won't buy this analysis")
  assert train[1].text_b is None
  test = _read("cola", "test")
  assert [(e.guid, e.text_a, e.label) for e in test] == [
      ("0", "Bill whistled past the house.", None),
      ("1", "The car honked its way down the road.", None)]


def test_single_and_pair_tasks_by_header():
  assert _triples(_read("sst-2", "dev")) == [
      ("it 's a charming and often affecting journey . ", None, "1")]
  mrpc = _read("mrpc", "train")
  # Label from the first column (Quality), texts from #1/#2 String.
  assert _triples(mrpc)[1] == ("Shares rose 5 cents on Monday .",
                               "The company was founded in 1990 .", "0")
  assert [e.guid for e in _read("mrpc", "test")] == ["0", "1"]
  assert _triples(_read("qnli", "dev")) == [(
      "What came into force after the new constitution?",
      "The Regency Act came into force.", "entailment")]
  assert [e.label for e in _read("rte", "train")] == ["not_entailment",
                                                      "entailment"]
  assert _read("wnli", "dev")[0].text_b == "The hair has to be cleaned."


def test_quotes_are_text_not_csv_quoting():
  train = _read("qqp", "train")
  # An unbalanced quote does not swallow the tab or the next line.
  assert train[0].text_a == 'What does "quoted mean?'
  assert train[0].text_b == "What is the meaning of quoted?"
  assert [e.guid for e in train] == ["133273", "402555"]
  assert len(train) == 2
  mrpc = _read("mrpc", "train")
  assert mrpc[0].text_a == 'He called his brother " the witness " in court .'
  # QQP's test file has other columns (id, question1, question2).
  test = _read("qqp", "test")
  assert [(e.guid, e.text_a) for e in test] == [("0", 'Is "this" a test?'),
                                                ("1", "Can I learn?")]
  mnli = _read("mnli", "train")
  assert mnli[0].text_b == 'Product and geography are what make "cream ' \
      'skimming work.'


def test_mnli_matched_and_mismatched_dev_and_test():
  train = _read("mnli", "train")
  assert [e.label for e in train] == ["neutral", "entailment",
                                      "contradiction"]
  assert _read("mnli-mm", "train") == train
  # gold_label, not label1 (the first annotator says entailment here).
  assert _triples(_read("mnli", "dev")) == [(
      "The new rights are nice enough",
      "Everyone really likes the newest benefits", "neutral")]
  mismatched = _read("mnli-mm", "dev")
  assert [e.label for e in mismatched] == ["contradiction", "neutral"]
  assert _read("mnli", "test")[0].text_a == "Hierbas is a sweet liqueur."
  assert _read("mnli-mm", "test")[0].text_a == "What have I done?"


def test_stsb_scores_are_floats_and_checked(tmp_path):
  train = _read("sts-b", "train")
  assert [float(e.label) for e in train] == [5.0, 3.8, 0.0]
  assert train[1].text_b == "A man is playing a bamboo flute."
  assert classifier_data.get_processor("sts-b").get_labels() == []
  assert glue_data.StsbProcessor.is_regression
  assert _read("sts-b", "test")[0].label is None
  header = ("index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\t"
            "sentence1\tsentence2\tscore")
  row = "0\tg\tf\t2012\t1\tnone\tnone\tA b.\tC d.\t%s"
  _write(str(tmp_path / "STS-B" / "train.tsv"),
         [header, row % "2.5", row % "high", row % "5.2", row % "0.4"])
  processor = classifier_data.get_processor("sts-b", skip_bad_rows=True)
  examples = processor.get_train_examples(str(tmp_path))
  assert [e.label for e in examples] == ["2.5", "0.4"]
  reasons = {row.line_number: row.reason for row in processor.bad_rows}
  assert reasons == {3: "score 'high' is not a number",
                     4: "score 5.2 is outside [0, 5]"}


def test_task_directory_or_glue_root(tmp_path):
  from_root = _read("rte", "test")
  from_task_dir = _read("rte", "test", data_dir=os.path.join(GLUE, "RTE"))
  assert from_root == from_task_dir and len(from_root) == 2
  with pytest.raises(FileNotFoundError, match="RTE/dev.tsv.*--data_dir=the "
                     "GLUE root"):
    _read("rte", "dev", data_dir=str(tmp_path))


def test_ax_is_test_only():
  test = _read("ax", "test")
  assert [(e.guid, e.text_b) for e in test] == [
      ("0", "The cat did not sit on the mat."), ("1", "The cat sat on the mat.")]
  assert classifier_data.get_processor("ax").get_labels() == [
      "contradiction", "entailment", "neutral"]
  with pytest.raises(ValueError, match="train on mnli.*--task_name=ax "
                     "--do_predict"):
    _read("ax", "train")


def test_header_without_needed_columns_names_file_and_line(tmp_path):
  path = str(tmp_path / "RTE" / "train.tsv")
  # A header-less copy: its first row is read as the header and rejected.
  _write(path, ["0\tA.\tB.\tentailment"])
  with pytest.raises(classifier_data.BadRowsError,
                     match=r"RTE/train.tsv:1: header lacks column\(s\) "
                     r"sentence1, sentence2, label"):
    _read("rte", "train", data_dir=str(tmp_path))


def test_rows_with_wrong_column_count_are_bad_rows(tmp_path):
  path = str(tmp_path / "QQP" / "train.tsv")
  _write(path, ["id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate",
                "1\t1\t2\tHow?\tWhy?\t0",
                "2\t3\t4\tA question with a stray\ttab?\tWhat?\t1",
                "3\t5\t6\tShort row",
                "4\t7\t8\tWho?\tWhom?\t2",
                "5\t9\t10\tWhen?\tNow?\t1"])
  with pytest.raises(classifier_data.BadRowsError) as info:
    _read("qqp", "train", data_dir=str(tmp_path))
  message = str(info.value)
  assert "3 malformed train rows" in message
  assert "train.tsv:3: expected 6 tab-separated columns (id, qid1, qid2, " \
      "question1, question2, is_duplicate), found 7" in message
  assert "train.tsv:4: expected 6" in message
  assert "train.tsv:5: unknown label '2'" in message
  processor = classifier_data.get_processor("qqp", skip_bad_rows=True)
  kept = processor.get_train_examples(str(tmp_path))
  assert [e.guid for e in kept] == ["1", "5"]
  assert len(processor.bad_rows) == 3


# ---------------------------------------------------------------------------
# CLUE additions in classifier_data


def test_ocnli_reads_train_50k_and_drops_unlabelled_rows():
  processor = classifier_data.get_processor("ocnli")
  train = processor.get_train_examples(os.path.join(CLUE, "ocnli"))
  assert [(e.guid, e.label) for e in train] == [("0", "entailment"),
                                                ("2", "contradiction")]
  assert processor.num_dropped == 1  # the "-" row
  test = processor.get_test_examples(os.path.join(CLUE, "ocnli"))
  assert [(e.guid, e.text_b, e.label) for e in test] == [
      ("0", "气温很高", None), ("1", "我没去", None)]


def test_ocnli_missing_training_file_lists_both_names(tmp_path):
  with pytest.raises(FileNotFoundError, match="train.json.*train.50k.json"):
    classifier_data.get_processor("ocnli").get_train_examples(str(tmp_path))


def test_cluewsc2020_marks_noun_and_pronoun():
  processor = classifier_data.get_processor("cluewsc2020")
  assert processor.get_labels() == ["true", "false"]
  train = processor.get_train_examples(os.path.join(CLUE, "cluewsc2020"))
  assert train[1].text_a == "_小明_说[他]饿了"
  assert train[1].text_b is None and train[1].label == "true"
  assert train[0].text_a == ("裴少俊走到_床_边，只见那床上躺着一个人。他悄悄地从外边"
                             "走进来，伸手去掀开被子。他吃了一惊：[它]是空的。")
  # The pronoun may come first.
  dev = processor.get_dev_examples(os.path.join(CLUE, "cluewsc2020"))
  assert dev[0].text_a == "[她]笑了，因为_小红_赢了"
  test = processor.get_test_examples(os.path.join(CLUE, "cluewsc2020"))
  assert [(e.guid, e.label) for e in test] == [("7", None)]


def test_cluewsc2020_bad_rows(tmp_path):
  def record(span1_index, span2_index, label="true", span1_text="小明",
             text="小明说他饿了"):
    return json.dumps({"target": {"span1_text": span1_text,
                                  "span1_index": span1_index,
                                  "span2_text": "他", "span2_index": span2_index},
                       "idx": 0, "label": label, "text": text},
                      ensure_ascii=False)
  _write(str(tmp_path / "train.json"), [
      record(0, 3), record(1, 3), record(0, 3, label="maybe"),
      record(0, 2, span1_text="小明他", text="小明他饿了"), record(0, "3"),
      json.dumps({"text": "小明", "label": "true", "idx": 1})])
  processor = classifier_data.get_processor("cluewsc2020", skip_bad_rows=True)
  assert len(processor.get_train_examples(str(tmp_path))) == 1
  reasons = {row.line_number: row.reason for row in processor.bad_rows}
  assert reasons[2] == ("target.span1_text '小明' is not at text[1:3], which "
                        "holds '明说'")
  assert reasons[3].startswith("unknown label 'maybe'")
  assert reasons[4] == "target spans '小明他' and '他' overlap"
  assert reasons[5] == "target.span2_index should be a character offset, " \
      "found '3'"
  assert reasons[6].startswith("key 'target' should hold an object")


# ---------------------------------------------------------------------------
# Benchmark files


def _lines(path):
  with open(path, encoding="utf-8") as f:
    return f.read().splitlines()


def test_glue_leaderboard_files(tmp_path):
  path = glue_data.write_glue_leaderboard_file(
      str(tmp_path), "mnli-mm", ["0", "1", "2"],
      ["entailment", "neutral", "contradiction"])
  assert os.path.basename(path) == "MNLI-mm.tsv"
  assert _lines(path) == ["index\tprediction", "0\tentailment", "1\tneutral",
                          "2\tcontradiction"]
  # STS-B: floats, clipped to the score range.
  path = glue_data.write_glue_leaderboard_file(
      str(tmp_path), "STS-B", ["0", "1", "2"], [3.14159, -0.2, 5.7])
  assert os.path.basename(path) == "STS-B.tsv"
  assert _lines(path) == ["index\tprediction", "0\t3.142", "1\t0.000",
                          "2\t5.000"]
  names = {task: glue_data.leaderboard_file_name(task)
           for task in glue_data.GLUE_PROCESSORS}
  assert names == {"cola": "CoLA.tsv", "sst-2": "SST-2.tsv",
                   "mrpc": "MRPC.tsv", "sts-b": "STS-B.tsv", "qqp": "QQP.tsv",
                   "mnli": "MNLI-m.tsv", "mnli-mm": "MNLI-mm.tsv",
                   "qnli": "QNLI.tsv", "rte": "RTE.tsv", "wnli": "WNLI.tsv",
                   "ax": "AX.tsv"}
  assert glue_data.leaderboard_file_name("afqmc") is None
  with pytest.raises(ValueError, match="2 ids but 1 predictions"):
    glue_data.write_glue_leaderboard_file(str(tmp_path), "rte", ["0", "1"],
                                          ["entailment"])
  with pytest.raises(ValueError, match="afqmc is not a GLUE task"):
    glue_data.write_glue_leaderboard_file(str(tmp_path), "afqmc", [], [])


def test_clue_submission_file(tmp_path):
  path = glue_data.write_clue_submission_file(
      str(tmp_path), "TNEWS", ["2", "0", "x-1"], ["102", "116", "100"])
  assert os.path.basename(path) == "tnews_predict.json"
  assert [json.loads(line) for line in _lines(path)] == [
      {"id": 2, "label": "102"}, {"id": 0, "label": "116"},
      {"id": "x-1", "label": "100"}]
  path = glue_data.write_clue_submission_file(str(tmp_path), "cluewsc2020",
                                              ["7"], ["true"])
  assert _lines(path) == ['{"id": 7, "label": "true"}']


def test_summary_table(tmp_path):
  def results(task, lines, best=True):
    directory = tmp_path / task / ("best" if best else "")
    _write(str(directory / "eval_results.txt"), lines)
  results("CoLA", ["checkpoint = /o/CoLA/best/model.ckpt-20",
                   "eval_accuracy = 0.75", "eval_loss = 0.5",
                   "eval_matthews_corr = 0.3125", "global_step = 20"])
  results("STS-B", ["eval_pearson = 0.8", "eval_spearman = 0.7"], best=False)
  table = glue_data.summarize(str(tmp_path), ["CoLA", "STS-B", "AX"])
  lines = table.splitlines()
  assert lines[0].split() == ["task", "main", "metric", "value", "all",
                              "metrics", "checkpoint"]
  assert lines[1].split() == ["CoLA", "matthews_corr", "0.3125",
                              "accuracy=0.7500", "loss=0.5000",
                              "matthews_corr=0.3125",
                              "/o/CoLA/best/model.ckpt-20"]
  assert lines[2].split() == ["STS-B", "pearson", "0.8000", "pearson=0.8000",
                              "spearman=0.7000", "-"]
  assert lines[3].split()[:3] == ["AX", "-", "-"]
  tsv = _lines(str(tmp_path / "summary.tsv"))
  assert tsv[1].split("\t")[:3] == ["CoLA", "matthews_corr", "0.3125"]
