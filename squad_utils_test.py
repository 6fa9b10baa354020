# coding=utf-8
"""Tests of squad_utils: reader, character alignment, windows, post-processing,
the evaluator command."""

import json
import os

import numpy as np
import pytest
import sentencepiece as spm

import squad_utils
import tokenization

HERE = os.path.dirname(os.path.abspath(__file__))
TESTDATA = os.path.join(HERE, "testdata", "squad")
VOCAB = os.path.join(HERE, "albert_config", "vocab.txt")
CHINESE_FIXTURES = ("cmrc2018_train.json", "drcd_train.json")


@pytest.fixture(scope="module")
def chinese_tokenizer():
  return tokenization.FullTokenizer(VOCAB, do_lower_case=True)


@pytest.fixture(scope="module")
def spm_tokenizer(tmp_path_factory):
  """A tiny SentencePiece model trained on the English fixture's words."""
  directory = tmp_path_factory.mktemp("spm")
  corpus = directory / "corpus.txt"
  corpus.write_text("\n".join([
      "the normans were the people who gave their name to normandy in france",
      "computational complexity theory classifies problems by difficulty",
      "they were descended from norse raiders in the 10th century"] * 20),
                    encoding="utf-8")
  prefix = str(directory / "tiny")
  spm.SentencePieceTrainer.train(
      input=str(corpus), model_prefix=prefix, vocab_size=90,
      hard_vocab_limit=False, control_symbols=["[CLS]", "[SEP]", "[MASK]"],
      pad_id=0, unk_id=1, bos_id=-1, eos_id=-1, minloglevel=2)
  return tokenization.FullTokenizer(None, do_lower_case=True,
                                    spm_model_file=prefix + ".model")


def write_json(path, value):
  path.write_text(json.dumps(value, ensure_ascii=False), encoding="utf-8")
  return str(path)


def one_question_file(tmp_path, context="今天天气很好。", qa=None,
                      name="data.json"):
  qa = qa if qa is not None else {
      "id": "q1", "question": "天气怎么样？",
      "answers": [{"text": "很好", "answer_start": 4}]}
  return write_json(tmp_path / name, {"data": [{"paragraphs": [
      {"context": context, "qas": [qa]}]}]})


# ----------------------------------------------------------------------------
# Reader.


def test_reads_cmrc_fixture_with_paths():
  examples = squad_utils.read_examples(
      os.path.join(TESTDATA, "cmrc2018_train.json"), is_training=True)
  assert len(examples) == 9
  second = examples[1]
  assert second.qas_id == "TRAIN_1_QUERY_1"
  assert second.json_path == "data[0].paragraphs[0].qas[1]"
  start = second.answers[0]["answer_start"]
  assert second.context[start:start + 5] == "７９９美元"
  assert examples[-1].json_path == "data[2].paragraphs[0].qas[1]"


def test_reads_squad_v2_unanswerable():
  path = os.path.join(TESTDATA, "squad_v2_train.json")
  examples = squad_utils.read_examples(path, is_training=True,
                                       version_2_with_negative=True)
  impossible = [e for e in examples if e.is_impossible]
  assert [e.qas_id for e in impossible] == ["5ad39d53604f3c001a3fe8d1",
                                            "5ad3a4d9604f3c001a3fe9f5"]
  assert all(e.answers == [] for e in impossible)  # plausible_answers unused
  # v1 training cannot use them: an error naming the JSON path ...
  with pytest.raises(squad_utils.SquadDataError,
                     match=r"data\[0\]\.paragraphs\[0\]\.qas\[2\].*run_squad_v2"):
    squad_utils.read_examples(path, is_training=True)
  # ... or skipped and counted.
  stats = {}
  examples = squad_utils.read_examples(path, is_training=True,
                                       skip_bad_rows=True, stats=stats)
  assert len(examples) == 4
  assert stats == {"bad_items": 2,
                   "bad_item_reasons": {"unanswerable_in_v1": 2}}


def test_bad_json_names_file_and_line(tmp_path):
  path = tmp_path / "broken.json"
  path.write_text('{"data": [\n  {"paragraphs": [}\n]}', encoding="utf-8")
  with pytest.raises(squad_utils.SquadDataError,
                     match=r"broken\.json is not valid JSON.*line 2"):
    squad_utils.read_examples(str(path), is_training=True)


def test_missing_file_and_wrong_top_level(tmp_path):
  with pytest.raises(squad_utils.SquadDataError, match="does not exist"):
    squad_utils.read_examples(str(tmp_path / "nope.json"), True)
  path = write_json(tmp_path / "list.json", [1, 2])
  with pytest.raises(squad_utils.SquadDataError, match='"data" list'):
    squad_utils.read_examples(path, True)


@pytest.mark.parametrize("context, qa, path_and_reason", [
    ("今天天气很好。", {"id": "q1", "answers": []},
     r"data\[0\]\.paragraphs\[0\]\.qas\[0\]: missing field \"question\""),
    ("今天天气很好。", {"id": "q1", "question": "天气？",
                    "answers": [{"text": "很好", "answer_start": 3}]},
     r"qas\[0\]: answers\[0\]: answer_start=3 does not match .*'很好'.*"
     r"occurs at 4"),
    ("今天天气很好。", {"id": "q1", "question": "天气？",
                    "answers": [{"text": "很好"}]},
     r"qas\[0\]: answers\[0\]: missing field \"answer_start\""),
    ("今天天气很好。", {"id": "q1", "question": "天气？",
                    "answers": [{"text": "很好", "answer_start": "4"}]},
     r"field \"answer_start\" is \"4\", expected an integer"),
    ("  \n ", {"id": "q1", "question": "天气？", "answers": []},
     r"data\[0\]\.paragraphs\[0\]: the context is empty"),
    ("今天天气很好。", {"id": "q1", "question": "天气？", "answers": []},
     r"qas\[0\]: a training question needs an answer"),
])
def test_bad_items_name_json_path(tmp_path, context, qa, path_and_reason):
  path = one_question_file(tmp_path, context, qa)
  with pytest.raises(squad_utils.SquadDataError, match=path_and_reason):
    squad_utils.read_examples(path, is_training=True)


def test_skip_bad_rows_counts_every_kind(tmp_path):
  good = {"id": "ok", "question": "天气？",
          "answers": [{"text": "很好", "answer_start": 4}]}
  data = {"data": [
      {"paragraphs": [
          {"context": "今天天气很好。", "qas": [
              good,
              {"id": "ok", "question": "重复？",
               "answers": [{"text": "很好", "answer_start": 4}]},
              {"id": "q3", "question": "", "answers": []},
              {"id": "q4", "question": "错位？",
               "answers": [{"text": "很好", "answer_start": 0}]}]},
          {"context": "", "qas": [good]}]},
      {"title": "no paragraphs"}]}
  path = write_json(tmp_path / "mixed.json", data)
  with pytest.raises(squad_utils.SquadDataError, match=(
      r"(?s)5 malformed items.*qas\[1\]: id 'ok' repeats the question at "
      r"data\[0\]\.paragraphs\[0\]\.qas\[0\]")):
    squad_utils.read_examples(path, is_training=True)
  stats = {}
  examples = squad_utils.read_examples(path, True, skip_bad_rows=True,
                                       stats=stats)
  assert [e.qas_id for e in examples] == ["ok"]
  assert stats["bad_items"] == 5
  assert stats["bad_item_reasons"] == {
      "duplicate_id": 1, "empty_question": 1, "answer_start_mismatch": 1,
      "empty_context": 1, "missing_paragraphs": 1}


def test_eval_files_need_no_answer_start(tmp_path):
  path = one_question_file(tmp_path, qa={
      "id": "q1", "question": "天气？", "answers": [{"text": "很好"}]})
  examples = squad_utils.read_examples(path, is_training=False)
  assert examples[0].answers == [{"text": "很好", "answer_start": None}]


# ----------------------------------------------------------------------------
# Character alignment.


def test_chinese_tokens_map_back_to_exact_characters(chinese_tokenizer):
  aligner = squad_utils.TokenAligner(chinese_tokenizer)
  text = "苹果于2018年发布iPhone XS，售价１２９９美元（约8000元）。"
  aligned = aligner.tokenize(text)
  assert aligned.tokens == chinese_tokenizer.tokenize(text)
  pieces = [text[s:e] for s, e in zip(aligned.starts, aligned.ends)]
  # ## pieces join back without spaces; full-width characters are kept.
  assert "".join(pieces) == text.replace(" ", "")
  assert pieces[:8] == ["苹", "果", "于", "201", "8", "年", "发", "布"]
  assert pieces[pieces.index("售") + 2:pieces.index("美")] == list("１２９９")
  assert aligner.approximate == 0


def test_deleted_characters_and_unknown_words(chinese_tokenizer):
  aligner = squad_utils.TokenAligner(chinese_tokenizer)
  text = "Héllo\x0bworld 한국어 ok"
  aligned = aligner.tokenize(text)
  assert aligned.tokens == chinese_tokenizer.tokenize(text)
  spans = {t: text[s:e] for t, s, e in
           zip(aligned.tokens, aligned.starts, aligned.ends)}
  assert spans["he"] == "Hé"
  assert spans["[UNK]"] == "한국어"  # an unknown word keeps its whole span


def test_sentencepiece_tokens_map_back(spm_tokenizer):
  aligner = squad_utils.TokenAligner(spm_tokenizer)
  text = "The  Normans gave\ntheir name to ＮＯＲＭＡＮＤＹ."
  aligned = aligner.tokenize(text)
  assert aligned.tokens == spm_tokenizer.tokenize(text)
  pieces = "".join(text[s:e] for s, e in zip(aligned.starts, aligned.ends))
  assert pieces == "".join(text.split())
  assert aligned.starts == sorted(aligned.starts)


@pytest.mark.parametrize("name", CHINESE_FIXTURES)
def test_every_chinese_fixture_answer_is_a_token_span(name, chinese_tokenizer):
  aligner = squad_utils.TokenAligner(chinese_tokenizer)
  examples = squad_utils.read_examples(os.path.join(TESTDATA, name), True)
  for example in examples:
    aligned = aligner.tokenize(example.context)
    answer = example.answers[0]
    first, last, problem = squad_utils.answer_token_span(
        aligned, example.context, answer["answer_start"], answer["text"])
    assert problem is None, (example.qas_id, problem)
    assert example.context[aligned.starts[first]:aligned.ends[last]] == (
        answer["text"])


def test_every_english_fixture_answer_is_a_token_span(spm_tokenizer):
  aligner = squad_utils.TokenAligner(spm_tokenizer)
  examples = squad_utils.read_examples(
      os.path.join(TESTDATA, "squad_v2_train.json"), True,
      version_2_with_negative=True)
  answered = [e for e in examples if not e.is_impossible]
  assert len(answered) == 4
  for example in answered:
    aligned = aligner.tokenize(example.context)
    answer = example.answers[0]
    first, last, problem = squad_utils.answer_token_span(
        aligned, example.context, answer["answer_start"], answer["text"])
    assert problem is None, (example.qas_id, problem)


def test_answer_problems_are_classified(chinese_tokenizer):
  aligner = squad_utils.TokenAligner(chinese_tokenizer)
  context = "发布iPhone XS， 售价"
  aligned = aligner.tokenize(context)

  def problem_of(text, start):
    return squad_utils.answer_token_span(aligned, context, start, text)[2]

  assert problem_of("iPhone", 2) is None
  assert problem_of("Phone", 3) == "starts_inside_token"  # "ip" "##ho" "##ne"
  assert problem_of("iPho", 2) is None  # "ip" + "##ho"
  assert problem_of("iPhon", 2) == "ends_inside_token"
  assert problem_of("， 售", 11) is None
  assert problem_of(" 售", 12) == "whitespace_at_edges"
  assert problem_of(" ", 12) == "no_tokens"


# ----------------------------------------------------------------------------
# Windows and records.


def test_doc_windows_and_max_context():
  windows = squad_utils.doc_windows(10, 4, 2)
  assert windows == [(0, 4), (2, 4), (4, 4), (6, 4)]
  assert squad_utils.doc_windows(3, 4, 2) == [(0, 3)]
  assert squad_utils.doc_windows(0, 4, 2) == []
  flags = squad_utils.max_context_flags(windows)
  # Token 3: score min(3,0)=0 in window 0, min(1,2)=1 in window 1 -> window 1.
  # Token 2: min(2,1)=1 in w0, min(0,3)=0 in w1 -> w0.
  assert flags == [[1, 1, 1, 0], [0, 1, 1, 0], [0, 1, 1, 0], [0, 1, 1, 1]]


def _make_records(tokenizer, examples, is_training=True, max_seq_length=24,
                  doc_stride=4, max_query_length=6):
  maker = squad_utils.RecordMaker(tokenizer, max_seq_length, doc_stride,
                                  max_query_length, is_training)
  stats, windows = {}, []
  records = list(maker.records(examples, stats, on_window=windows.append))
  return records, windows, stats


def _example(context, answer, question="问题？", qas_id="q"):
  return squad_utils.SquadExample(
      qas_id, question, context,
      [{"text": answer, "answer_start": context.index(answer)}])


def test_answers_at_window_edges_are_labelled_exactly(chinese_tokenizer):
  # 20 one-character tokens and a 3-token question: with max_seq_length 14
  # a window holds 14 - 3 - 3 = 8 tokens; stride 4 gives windows
  # [0,8) [4,12) [8,16) [12,20).
  context = "甲乙丙丁戊己庚辛壬癸子丑寅卯辰巳午未申酉"
  cases = {"己庚辛": None, "戊": None, "辛壬": None, "申酉": None}
  for answer in cases:
    records, windows, stats = _make_records(
        chinese_tokenizer, [_example(context, answer)], max_seq_length=14)
    assert [len(w.starts) for w in windows] == [8, 8, 8, 8]
    labelled = []
    for record, window in zip(records, windows):
      if record["is_impossible"]:
        assert record["start_positions"] == record["end_positions"] == 0
        continue
      first = record["start_positions"] - window.doc_offset
      last = record["end_positions"] - window.doc_offset
      assert record["context_mask"][record["start_positions"]] == 1
      labelled.append(context[window.starts[first]:window.ends[last]])
    cases[answer] = labelled
    assert stats["windows"] == 4
    assert stats["answers_exact"] == 1
  # "己庚辛" (tokens 5-7) ends at window 0's last token and sits inside
  # window 1; "戊" (token 4) is window 1's first token; "辛壬" (7-8) crosses
  # the end of window 0 and the start of window 2, whole only in window 1;
  # "申酉" (18-19) ends the last window.
  assert cases == {"己庚辛": ["己庚辛"] * 2, "戊": ["戊"] * 2,
                   "辛壬": ["辛壬"], "申酉": ["申酉"]}


def test_records_layout_and_counts(chinese_tokenizer):
  examples = [_example("甲乙丙丁戊己", "丙丁", question="一二三四五六七八九十")]
  records, windows, stats = _make_records(chinese_tokenizer, examples)
  record = records[0]
  tokens = chinese_tokenizer.convert_ids_to_tokens(record["input_ids"])
  assert tokens == (["[CLS]"] + list("一二三四五六") + ["[SEP]"] +
                    list("甲乙丙丁戊己") + ["[SEP]"])
  assert record["segment_ids"] == [0] * 8 + [1] * 7
  assert record["context_mask"] == [0] * 8 + [1] * 6 + [0]
  assert (record["start_positions"], record["end_positions"]) == (10, 11)
  assert windows[0].doc_offset == 8
  assert stats["questions_truncated"] == 1
  assert stats["examples_with_several_windows"] == 0


def test_unrecoverable_answers_are_counted_not_dropped(chinese_tokenizer):
  examples = [_example("发布iPhone手机", "Phone", qas_id="a"),
              _example("甲乙丙", "乙", qas_id="b")]
  records, _, stats = _make_records(chinese_tokenizer, examples)
  assert stats["answer_problems"] == {"starts_inside_token": 1}
  assert stats["answers_exact"] == 1
  assert len(records) == 2  # trained on the covering tokens, not dropped


def test_prediction_records_are_unlabelled(chinese_tokenizer):
  records, windows, stats = _make_records(
      chinese_tokenizer, [_example("甲乙丙丁", "乙")], is_training=False)
  assert records[0]["start_positions"] == 0
  assert records[0]["is_impossible"] == 0
  assert "answers_exact" not in stats


# ----------------------------------------------------------------------------
# Post-processing.


def _window(example_index, starts, doc_offset=2, max_context=None):
  return squad_utils.Window(example_index, doc_offset, starts,
                            [s + 1 for s in starts],
                            max_context or [1] * len(starts))


def test_v1_best_span_is_exact_argmax_over_windows():
  context = "甲乙丙丁戊己"
  example = _example(context, "乙")
  # Windows over tokens [0,4) and [2,6); sequence = [CLS] q [SEP] context.
  w0 = _window(0, [0, 1, 2, 3], max_context=[1, 1, 1, 0])
  w1 = _window(0, [2, 3, 4, 5], max_context=[0, 1, 1, 1])
  # Starts with max_context 0 (丁 in w0, 丙 in w1) score 20 but are not
  # valid there; [CLS] and the question are never answers.
  r0 = dict(start_logits=[9, 9, -5, 1, 2, 20],
            end_logits=[9, 9, -5, 0, 3, 1])
  r1 = dict(start_logits=[9, 9, 20, 3, 0, -5],
            end_logits=[9, 9, -5, 0, 4, -5])
  # w0: 丙-丙 2+3=5 is best; w1: 丁-戊 3+4=7 is best overall.
  predictions, nbest = squad_utils.postprocess_v1(
      [example], [w0, w1], [r0, r1], n_best_size=2, max_answer_length=3)
  assert predictions == {"q": "丁戊"}
  entries = nbest["q"]
  assert [e["text"] for e in entries] == ["丁戊", "丙"]
  assert (entries[0]["start_char"], entries[0]["end_char"]) == (3, 5)
  assert (entries[0]["start_logit"], entries[0]["end_logit"]) == (3, 4)
  expected = np.exp([0.0, -2.0]) / np.exp([0.0, -2.0]).sum()
  np.testing.assert_allclose([e["probability"] for e in entries], expected)
  for entry in entries:
    assert context[entry["start_char"]:entry["end_char"]] == entry["text"]


def test_v1_respects_max_answer_length():
  example = _example("甲乙丙丁", "乙")
  window = _window(0, [0, 1, 2, 3])
  result = dict(start_logits=[0, 0, 10, 0, 0, 0],
                end_logits=[0, 0, 0, 1, 0, 10])
  predictions, _ = squad_utils.postprocess_v1([example], [window], [result],
                                              5, max_answer_length=2)
  assert predictions["q"] == "甲乙"  # 甲..丁 (20) is 4 tokens long
  predictions, _ = squad_utils.postprocess_v1([example], [window], [result],
                                              5, max_answer_length=4)
  assert predictions["q"] == "甲乙丙丁"


def test_v2_beam_and_null_odds():
  examples = [_example("甲乙丙丁", "乙", qas_id="a"),
              _example("戊己庚辛", "己", qas_id="b")]
  windows = [_window(0, [0, 1, 2, 3]), _window(1, [0, 1, 2, 3]),
             _window(1, [0, 1, 2, 3])]

  def result(starts, start_lp, ends, end_lp, cls_logit):
    return dict(start_top_index=starts, start_top_log_probs=start_lp,
                end_top_index=ends, end_top_log_probs=end_lp,
                cls_logits=cls_logit)

  results = [
      # start 乙(3): ends 丙(4) / 甲(2, before the start: invalid);
      # start 甲(2): ends 乙(3) / 丁(5, 4 tokens: too long).
      result([3, 2], [-0.1, -3.0], [4, 2, 3, 5], [-0.2, -0.1, -1.0, -2.0],
             -2.0),
      result([2, 3], [-1.0, -2.0], [2, 3, 3, 4], [-0.5, -0.7, -0.1, -0.2],
             1.5),
      result([4], [-0.3], [5], [-0.3], 0.5),
  ]
  predictions, nbest, null_odds = squad_utils.postprocess_v2(
      examples, windows, results, n_best_size=5, max_answer_length=3)
  assert predictions == {"a": "乙丙", "b": "庚辛"}
  assert [e["text"] for e in nbest["a"]] == ["乙丙", "甲乙"]
  assert nbest["a"][0]["start_logit"] == pytest.approx(-0.1)
  assert null_odds == {"a": -2.0, "b": 0.5}
  assert squad_utils.apply_null_threshold(predictions, null_odds, 0.0) == {
      "a": "乙丙", "b": ""}


# ----------------------------------------------------------------------------
# Evaluation command.


def test_evaluate_command(tmp_path, capsys):
  data = os.path.join(TESTDATA, "cmrc2018_dev.json")
  predictions = write_json(tmp_path / "pred.json", {
      "DEV_1_QUERY_0": "6300公里", "DEV_1_QUERY_1": "11个省"})
  assert squad_utils.main(["--evaluate", data, predictions]) == 0
  results = json.loads(capsys.readouterr().out)
  assert results["metric"] == "cmrc2018"
  # q0 exact; q1 vs "11个省级行政区": segs [11 个 省 级 行 政 区] vs
  # [11 个 省]: lcs 3, P 1, R 3/7, F1 0.6; vs "11个": lcs 2, P 2/3, R 1, 0.8.
  assert results["exact_match"] == pytest.approx(50.0)
  assert results["f1"] == pytest.approx(90.0)
  assert squad_utils.main(["--evaluate", data, predictions,
                           "--metric", "squad"]) == 0
  results = json.loads(capsys.readouterr().out)
  assert results["f1"] == pytest.approx(50.0)  # whole strings as one token


def test_evaluate_command_v2_and_errors(tmp_path, capsys):
  data = os.path.join(TESTDATA, "squad_v2_train.json")
  predictions = write_json(tmp_path / "pred.json", {
      "56ddde6b9a695914005b9628": "France",
      "56ddde6b9a695914005b9629": "10th century",
      "5ad39d53604f3c001a3fe8d1": "Normans",
      "56ddde6b9a695914005b962a": "Norse raiders",
      "56e7fd2d00c9c71400d7e6e2": "inherent difficulty",
      "5ad3a4d9604f3c001a3fe9f5": ""})
  odds = write_json(tmp_path / "odds.json", {
      "56ddde6b9a695914005b9628": -3.0, "56ddde6b9a695914005b9629": -1.0,
      "5ad39d53604f3c001a3fe8d1": 2.0, "56ddde6b9a695914005b962a": -2.0,
      "56e7fd2d00c9c71400d7e6e2": 0.5, "5ad3a4d9604f3c001a3fe9f5": 3.0})
  assert squad_utils.main(["--evaluate", data, predictions, "--null_odds",
                           odds, "--null_threshold", "1.0"]) == 0
  results = json.loads(capsys.readouterr().out)
  assert results["metric"] == "squad"
  assert results["total"] == 6
  assert results["NoAns_exact"] == 100.0  # "Normans" emptied: odds 2 > 1
  assert results["HasAns_exact"] == pytest.approx(50.0)
  # "10th century": P 1/2, R 1/4 -> 1/3; "inherent difficulty": P 1, R 2/3
  # -> 0.8 (the gold's "their" is not an article).
  assert results["HasAns_f1"] == pytest.approx(100 * (2 + 1 / 3 + 0.8) / 4)
  assert squad_utils.main(["--evaluate", data,
                           str(tmp_path / "missing.json")]) == 2
  assert "missing.json does not exist" in capsys.readouterr().err
