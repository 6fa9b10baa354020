# coding=utf-8
"""End-to-end tests of run_squad_v1.py / run_squad_v2.py (in-process) on a
tiny config and a toy span task, the export / squad_predictor.py round trip,
and bad inputs.

The toy task is learnable by construction (and quickly, by a 2-layer model):
a context is drawn from one group of characters (甲乙丙丁戊己庚辛) except for
a single run of 2-4 characters from another, and the answer is that run. The
run opens with 子 or 丑 and closes with 午 or 未 (寅卯辰巳 between), so each
boundary is visible in its own token. Contexts are up to 40 characters,
longer than a window (max_seq_length 32 holds 27 context tokens), so answers
also sit near window edges and in two windows.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

import classifier_test_util
import finetuning
import run_squad_v1
import run_squad_v2
import squad_predictor
import squad_task
import squad_utils

HERE = os.path.dirname(os.path.abspath(__file__))
PLAIN = classifier_test_util.GROUP_0
OPENING, MIDDLE, CLOSING = list("子丑"), list("寅卯辰巳"), list("午未")
QUESTION = "甲乙"


def toy_question(rng, qas_id, answerable=True):
  """A SQuAD question dict and its context."""
  length = rng.randint(6, 41)
  context = list(rng.choice(PLAIN, size=length))
  if not answerable:
    return {"id": qas_id, "question": QUESTION, "answers": [],
            "is_impossible": True}, "".join(context)
  run = ([rng.choice(OPENING)] + list(rng.choice(MIDDLE,
                                                 size=rng.randint(0, 3))) +
         [rng.choice(CLOSING)])
  run_length = len(run)
  start = rng.randint(0, length - run_length + 1)
  context[start:start + run_length] = run
  context = "".join(context)
  answer = context[start:start + run_length]
  return {"id": qas_id, "question": QUESTION,
          "answers": [{"text": answer, "answer_start": start}]}, context


def write_squad(path, rng, num_questions, impossible_every=0):
  paragraphs = []
  for index in range(num_questions):
    answerable = not (impossible_every and index % impossible_every == 0)
    qa, context = toy_question(rng, "q%d" % index, answerable)
    paragraphs.append({"context": context, "qas": [qa]})
  with open(path, "w", encoding="utf-8") as f:
    json.dump({"version": "toy", "data": [{"title": "toy",
                                           "paragraphs": paragraphs}]},
              f, ensure_ascii=False)
  return path


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
  root = str(tmp_path_factory.mktemp("squad"))
  rng = np.random.RandomState(0)
  pretrained = os.path.join(root, "pretrained")
  os.makedirs(pretrained)
  config_file = classifier_test_util.write_config(root)
  return dict(
      root=root,
      train_file=write_squad(os.path.join(root, "train.json"), rng, 160),
      dev_file=write_squad(os.path.join(root, "dev.json"), rng, 40),
      v2_train_file=write_squad(os.path.join(root, "v2_train.json"), rng, 96,
                                impossible_every=4),
      v2_dev_file=write_squad(os.path.join(root, "v2_dev.json"), rng, 24,
                              impossible_every=4),
      vocab_file=classifier_test_util.write_vocab(root),
      config_file=config_file,
      init_checkpoint=classifier_test_util.write_pretrained_checkpoint(
          pretrained, config_file))


def flags_for(space, output_dir, **extra):
  values = dict(train_file=space["train_file"], predict_file=space["dev_file"],
                vocab_file=space["vocab_file"],
                bert_config_file=space["config_file"],
                init_checkpoint=space["init_checkpoint"],
                output_dir=output_dir, max_seq_length=32, doc_stride=12,
                max_query_length=8, max_answer_length=5, n_best_size=4,
                train_batch_size=16, predict_batch_size=32,
                learning_rate=3e-3, num_train_epochs=6,
                warmup_proportion=0.1, save_checkpoints_steps=50, num_gpus=0)
  values.update(extra)
  return finetuning.flags_namespace(**values)


def read_key_values(path):
  with open(path) as f:
    return dict(line.rstrip("\n").split(" = ", 1) for line in f)


def read_json(path):
  with open(path, encoding="utf-8") as f:
    return json.load(f)


@pytest.fixture(scope="module")
def v1_run(workspace):
  output_dir = os.path.join(workspace["root"], "v1_out")
  export_dir = os.path.join(workspace["root"], "v1_export")
  results = run_squad_v1.run(flags_for(
      workspace, output_dir, do_train=True, do_eval=True, do_predict=True,
      export_dir=export_dir))
  return dict(workspace, output_dir=output_dir, export_dir=export_dir,
              results=results)


def test_v1_learns_toy_task(v1_run):
  results = read_key_values(os.path.join(v1_run["output_dir"],
                                         "eval_results.txt"))
  assert results["metric"] == "cmrc2018"
  assert float(results["exact_match"]) >= 90.0, results
  assert float(results["f1"]) >= 95.0, results
  assert os.path.exists(os.path.join(v1_run["output_dir"], "best",
                                     "eval_results.txt"))


def test_v1_outputs_are_exact_context_substrings(v1_run):
  examples = squad_utils.read_examples(v1_run["dev_file"], False)
  predictions = read_json(os.path.join(v1_run["output_dir"],
                                       "predictions.json"))
  nbest = read_json(os.path.join(v1_run["output_dir"],
                                 "nbest_predictions.json"))
  assert list(predictions) == [e.qas_id for e in examples]
  several_windows = 0
  for example in examples:
    entries = nbest[example.qas_id]
    assert 1 <= len(entries) <= 4
    assert entries[0]["text"] == predictions[example.qas_id]
    assert sum(e["probability"] for e in entries) == pytest.approx(1.0)
    for entry in entries:
      assert example.context[entry["start_char"]:entry["end_char"]] == (
          entry["text"])
    several_windows += len(example.context) > 27
  assert several_windows >= 5  # the dev set exercises the windows


def test_v1_feature_caches_are_reused(v1_run):
  output_dir = v1_run["output_dir"]
  caches = sorted(name for name in os.listdir(output_dir)
                  if ".tf_record" in name)
  assert len([n for n in caches if n.startswith("train.")]) == 2  # + sidecar
  assert len([n for n in caches if n.startswith("predict.")]) == 3  # windows
  meta = [n for n in caches if n.startswith("train.") and n.endswith(".json")]
  stats = read_json(os.path.join(output_dir, meta[0]))["stats"]
  assert stats["examples"] == 160
  assert stats["answers_exact"] == 160
  assert stats["examples_with_several_windows"] > 10
  assert stats["windows"] > 160
  # Predicting again reads the caches and gives the same answers.
  before = read_json(os.path.join(output_dir, "predictions.json"))
  os.remove(os.path.join(output_dir, "predictions.json"))
  run_squad_v1.run(flags_for(v1_run, output_dir, do_predict=True))
  assert read_json(os.path.join(output_dir, "predictions.json")) == before
  assert sorted(n for n in os.listdir(output_dir) if ".tf_record" in n) == (
      caches)


def test_v1_export_and_predictor_round_trip(v1_run):
  predictor = squad_predictor.SquadPredictor(
      os.path.join(v1_run["export_dir"], "squad"))
  examples = squad_utils.read_examples(v1_run["dev_file"], False)[:12]
  predictions = read_json(os.path.join(v1_run["output_dir"],
                                       "predictions.json"))
  answers = predictor.predict([(e.question, e.context) for e in examples])
  for example, answer in zip(examples, answers):
    assert answer["text"] == predictions[example.qas_id]
    assert example.context[answer["start"]:answer["end"]] == answer["text"]
    assert 0.0 < answer["score"] <= 1.0
  single = predictor.answer("甲乙", "丙丁戊子卯午己庚")
  assert single["text"] == "子卯午" and (single["start"], single["end"]) == (
      3, 6)
  with pytest.raises(ValueError, match="Context 0 is empty"):
    predictor.predict([("甲乙", "  ")])


def test_predictor_command(v1_run):
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
  completed = subprocess.run(
      [sys.executable, os.path.join(HERE, "squad_predictor.py"),
       "--saved_model=" + os.path.join(v1_run["export_dir"], "squad")],
      input=json.dumps({"question": "甲乙", "context": "丙丁丑未戊"}) + "\n",
      capture_output=True, text=True, env=env, check=True, cwd=HERE)
  answer = json.loads(completed.stdout.strip().splitlines()[-1])
  assert answer["text"] == "丑未" and answer["start"] == 2


def test_v1_fine_tunes_from_the_exported_hub_module(v1_run, tmp_path):
  # run_stages exported the pretrained encoder beside the SavedModel; with no
  # --vocab_file the module's tokenization_info supplies the vocab.
  output_dir = str(tmp_path / "hub_out")
  run_squad_v1.run(flags_for(
      v1_run, output_dir, do_train=True, do_eval=True, init_checkpoint=None,
      vocab_file=None, albert_hub_module_handle=os.path.join(
          v1_run["export_dir"], "hub_module")))
  results = read_key_values(os.path.join(output_dir, "eval_results.txt"))
  assert float(results["exact_match"]) >= 90.0, results
  names = [name for name, _ in tf.train.list_variables(
      tf.train.latest_checkpoint(output_dir))]
  assert any(name.startswith("module/bert/encoder/") for name in names)


def test_v2_trains_and_writes_null_odds(workspace):
  output_dir = os.path.join(workspace["root"], "v2_out")
  export_dir = os.path.join(workspace["root"], "v2_export")
  run_squad_v2.run(flags_for(
      workspace, output_dir, train_file=workspace["v2_train_file"],
      predict_file=workspace["v2_dev_file"], do_train=True, do_predict=True,
      num_train_epochs=8, start_n_top=3, end_n_top=3, export_dir=export_dir))
  results = read_key_values(os.path.join(output_dir, "eval_results.txt"))
  for key in ("exact", "f1", "HasAns_f1", "NoAns_exact", "best_f1",
              "best_f1_thresh", "null_score_diff_threshold"):
    assert key in results
  assert float(results["best_f1"]) >= float(results["f1"]) - 1e-6
  assert int(results["NoAns_total"]) == 6
  predictions = read_json(os.path.join(output_dir, "predictions.json"))
  null_odds = read_json(os.path.join(output_dir, "null_odds.json"))
  assert set(predictions) == set(null_odds)
  threshold = float(results["null_score_diff_threshold"])
  for qid, text in predictions.items():
    assert (text == "") == (null_odds[qid] > threshold)
  # The export carries the threshold; the predictor agrees with the run.
  predictor = squad_predictor.SquadPredictor(os.path.join(export_dir,
                                                          "squad"))
  assert predictor.null_threshold == pytest.approx(threshold)
  examples = squad_utils.read_examples(workspace["v2_dev_file"], False)[:8]
  answers = predictor.predict([(e.question, e.context) for e in examples])
  for example, answer in zip(examples, answers):
    assert answer["text"] == predictions[example.qas_id]
    assert answer["null_odds"] == pytest.approx(null_odds[example.qas_id],
                                                abs=1e-4)


# ----------------------------------------------------------------------------
# Bad inputs: all rejected before any training.


def test_bad_flags(workspace, tmp_path):
  output_dir = str(tmp_path / "out")
  with pytest.raises(ValueError, match="--do_train needs --train_file"):
    run_squad_v1.run(flags_for(workspace, output_dir, train_file=None,
                               do_train=True))
  with pytest.raises(ValueError, match="--doc_stride=40 is longer"):
    run_squad_v1.run(flags_for(workspace, output_dir, do_train=True,
                               doc_stride=40))
  with pytest.raises(ValueError, match="leaves no room"):
    run_squad_v1.run(flags_for(workspace, output_dir, do_train=True,
                               max_query_length=29))
  with pytest.raises(ValueError, match="null_score_diff_threshold is for"):
    run_squad_v1.run(flags_for(workspace, output_dir, do_predict=True,
                               null_score_diff_threshold=0.5))
  with pytest.raises(ValueError, match="predict_file=.*missing.json does not"):
    run_squad_v1.run(flags_for(workspace, output_dir, do_predict=True,
                               predict_file=str(tmp_path / "missing.json")))


def test_bad_data_stops_before_training(workspace, tmp_path):
  bad = tmp_path / "bad.json"
  bad.write_text(json.dumps({"data": [{"paragraphs": [
      {"context": "甲乙子丙", "qas": [
          {"id": "a", "question": "甲乙",
           "answers": [{"text": "子", "answer_start": 1}]}]}]}]},
                            ensure_ascii=False), encoding="utf-8")
  output_dir = str(tmp_path / "out")
  with pytest.raises(squad_utils.SquadDataError,
                     match=r"bad\.json: data\[0\]\.paragraphs\[0\]\.qas\[0\]: "
                     r"answers\[0\]: answer_start=1"):
    run_squad_v1.run(flags_for(workspace, output_dir, do_train=True,
                               train_file=str(bad)))
  assert not any(name.startswith("model.ckpt")
                 for name in os.listdir(output_dir))
  unanswered = tmp_path / "test.json"
  unanswered.write_text(json.dumps({"data": [{"paragraphs": [
      {"context": "甲乙子丙", "qas": [{"id": "a", "question": "甲乙"}]}]}]},
                                   ensure_ascii=False), encoding="utf-8")
  with pytest.raises(ValueError, match="has no answers to score"):
    run_squad_v1.run(flags_for(workspace, output_dir, do_eval=True,
                               predict_file=str(unanswered)))


def test_margin_threshold():
  # Best at 0.5 (a question's odds); the next larger odds is 1.5.
  assert squad_task.margin_threshold(0.5, [-1.0, 0.5, 1.5, 3.0]) == 1.0
  assert squad_task.margin_threshold(3.0, [-1.0, 3.0]) == 4.0
