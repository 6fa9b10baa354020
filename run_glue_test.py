# coding=utf-8
"""End-to-end tests of run_glue.sh and run_clue.sh on tiny release-shaped data
and a tiny model (STEP_CAP keeps each task to a few steps).

The scripts run as users run them (bash, one run_classifier.py process per
task); the test checks what they leave behind: per-task results, the
leaderboard / submission files and the summary table.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import classifier_metrics
import classifier_test_util
import finetuning
import run_classifier

HERE = os.path.dirname(os.path.abspath(__file__))

WORDS_A = ["apple", "banana", "cherry", "grape", "lemon", "melon"]
WORDS_B = ["river", "mountain", "forest", "ocean", "valley", "desert"]
CHARS_A = classifier_test_util.GROUP_0
CHARS_B = classifier_test_util.GROUP_1
VOCAB = (["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", "_", "[", "]"] +
         WORDS_A + WORDS_B + CHARS_A + CHARS_B)


def _write(path, rows):
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with open(path, "w", encoding="utf-8") as f:
    for row in rows:
      f.write((row if isinstance(row, str) else "\t".join(row)) + "\n")


def _sentence(words, rng):
  return " ".join(rng.choice(words, size=rng.randint(2, 6))) + " ."


@pytest.fixture(scope="module")
def model(tmp_path_factory):
  """A tiny config, its vocab and a 'pretrained' checkpoint."""
  directory = str(tmp_path_factory.mktemp("model"))
  vocab_file = os.path.join(directory, "vocab.txt")
  _write(vocab_file, VOCAB)
  config_file = classifier_test_util.write_config(directory,
                                                  vocab_size=len(VOCAB))
  checkpoint = classifier_test_util.write_pretrained_checkpoint(directory,
                                                                config_file)
  return dict(ALBERT_CONFIG=config_file, VOCAB_FILE=vocab_file,
              INIT_CHECKPOINT=checkpoint)


def _pair(rng):
  """Two sentences from word groups; which groups decides the labels."""
  group_a, group_b = rng.randint(2), rng.randint(2)
  words = [WORDS_A, WORDS_B]
  return (_sentence(words[group_a], rng), _sentence(words[group_b], rng),
          group_a, group_b)


def write_mnli(root, rng):
  """MNLI and the diagnostic set shaped like the GLUE release."""
  prefix = ["index", "promptID", "pairID", "genre", "sentence1_binary_parse",
            "sentence2_binary_parse", "sentence1_parse", "sentence2_parse",
            "sentence1", "sentence2"]
  labels = {(0, 0): "entailment", (1, 1): "contradiction"}

  def mnli_rows(count, annotators):
    rows = [prefix + ["label%d" % (k + 1) for k in range(annotators)] +
            (["gold_label"] if annotators else [])]
    for i in range(count):
      text_a, text_b, group_a, group_b = _pair(rng)
      label = labels.get((group_a, group_b), "neutral")
      rows.append([str(i), str(i), "%dn" % i, "fiction", "( a )", "( b )",
                   "(ROOT a)", "(ROOT b)", text_a, text_b] +
                  [label] * (annotators + 1 if annotators else 0))
    return rows

  _write(os.path.join(root, "MNLI", "train.tsv"), mnli_rows(48, 1))
  for name in ("dev_matched", "dev_mismatched"):
    _write(os.path.join(root, "MNLI", name + ".tsv"), mnli_rows(9, 5))
  for name, count in (("test_matched", 4), ("test_mismatched", 3)):
    _write(os.path.join(root, "MNLI", name + ".tsv"), mnli_rows(count, 0))
  _write(os.path.join(root, "diagnostic", "diagnostic.tsv"),
         [["index", "sentence1", "sentence2"]] +
         [[str(i), _pair(rng)[0], _pair(rng)[1]] for i in range(6)])


def write_cluewsc(directory, rng):
  """CLUE WSC 2020 JSON lines: the label says whether the text's characters
  come from group 1."""
  for split, count in (("train", 32), ("dev", 8), ("test", 5)):
    lines = []
    for i in range(count):
      label = int(rng.randint(2))
      chars = CHARS_B if label else CHARS_A
      text = "".join(rng.choice(chars, size=rng.randint(6, 12)))
      record = {"target": {"span1_text": text[0:2], "span1_index": 0,
                           "span2_text": text[4], "span2_index": 4},
                "idx": 100 + i, "text": text}
      if split != "test":
        record["label"] = "true" if label else "false"
      lines.append(json.dumps(record, ensure_ascii=False))
    _write(os.path.join(directory, split + ".json"), lines)


def run_script(script, env, expect_success=True):
  full_env = dict(os.environ, PYTHON=sys.executable, TF_CPP_MIN_LOG_LEVEL="2",
                  **env)
  result = subprocess.run(["bash", os.path.join(HERE, script)], env=full_env,
                          capture_output=True, text=True, timeout=600)
  if expect_success and result.returncode != 0:
    raise AssertionError("%s failed:\n%s\n%s" % (script, result.stdout[-3000:],
                                                 result.stderr[-6000:]))
  return result


def _lines(path):
  with open(path, encoding="utf-8") as f:
    return f.read().splitlines()


def _summary(output_dir):
  rows = [line.split("\t") for line in _lines(os.path.join(output_dir,
                                                           "summary.tsv"))]
  assert rows[0] == ["task", "main metric", "value", "all metrics",
                     "checkpoint"]
  return {row[0]: row for row in rows[1:]}


def test_run_glue_end_to_end(tmp_path, model):
  glue_dir = str(tmp_path / "glue")
  write_mnli(glue_dir, np.random.RandomState(3))
  output_dir = str(tmp_path / "out")
  # MNLI brings MNLI-mm and AX: three runs of run_classifier. STS-B (the
  # regression) is exercised in-process by the next test.
  result = run_script("run_glue.sh", dict(
      model, GLUE_DIR=glue_dir, OUTPUT_DIR=output_dir, TASKS="MNLI",
      MAX_SEQ_LENGTH="32", TRAIN_BATCH_SIZE="8", STEP_CAP="4"))
  # google's MNLI settings, scaled to the cap: 1000 of 10000 steps warm up.
  assert "MNLI: 4 steps of 8, lr 3e-5, warmup 0, dev every 4" in \
      result.stdout

  summary = _summary(output_dir)
  assert sorted(summary) == ["AX", "MNLI", "MNLI-mm"]
  assert summary["MNLI"][1] == "accuracy"
  assert summary["MNLI"][4].endswith(os.path.join("MNLI", "best",
                                                  "model.ckpt-4"))
  # MNLI-mm is the MNLI model on the mismatched dev set (9 examples).
  assert summary["MNLI-mm"][1] == "accuracy"
  with open(os.path.join(output_dir, "MNLI-mm", "eval_results.txt")) as f:
    results = dict(line.rstrip("\n").split(" = ", 1) for line in f)
  correct = float(results["eval_accuracy"]) * 9
  assert correct == pytest.approx(round(correct), abs=1e-6)
  assert summary["MNLI-mm"][4].endswith(os.path.join("MNLI-mm", "best",
                                                     "model.ckpt-4"))
  assert summary["AX"][1:3] == ["-", "-"]  # predicted, never evaluated
  assert "MNLI-mm" in result.stdout and "accuracy" in result.stdout

  submission = os.path.join(output_dir, "submission")
  assert sorted(os.listdir(submission)) == ["AX.tsv", "MNLI-m.tsv",
                                            "MNLI-mm.tsv"]
  mnli_labels = {"contradiction", "entailment", "neutral"}
  for name, count in (("MNLI-m.tsv", 4), ("MNLI-mm.tsv", 3), ("AX.tsv", 6)):
    rows = _lines(os.path.join(submission, name))
    assert rows[0] == "index\tprediction" and len(rows) == count + 1
    assert {row.split("\t")[1] for row in rows[1:]} <= mnli_labels


def test_run_clue_end_to_end(tmp_path, model):
  clue_dir = str(tmp_path / "clue")
  # CLUE's download unpacks to <task>_public/.
  write_cluewsc(os.path.join(clue_dir, "cluewsc2020_public"),
                np.random.RandomState(4))
  output_dir = str(tmp_path / "out")
  result = run_script("run_clue.sh", dict(
      model, CLUE_DIR=clue_dir, OUTPUT_DIR=output_dir, TASKS="cluewsc2020",
      MAX_SEQ_LENGTH="32", STEP_CAP="4"))
  # CLUE's ALBERT-tiny WSC settings (batch 8, lr 1e-4), capped steps.
  assert ("cluewsc2020: batch 8, length 32, epochs (capped at 4 steps), "
          "lr 1e-4") in result.stdout
  row = _summary(output_dir)["cluewsc2020"]
  assert row[1] == "accuracy" and 0.0 <= float(row[2]) <= 1.0
  predictions = [json.loads(line) for line in _lines(
      os.path.join(output_dir, "submission", "cluewsc2020_predict.json"))]
  assert [p["id"] for p in predictions] == [100, 101, 102, 103, 104]
  assert {p["label"] for p in predictions} <= {"true", "false"}


def write_linear_stsb(directory, rng):
  """STS-B-shaped files whose score is linear in the texts: 5 x the fraction
  of their words drawn from WORDS_B."""
  header = ["index", "genre", "filename", "year", "old_index", "source1",
            "source2", "sentence1", "sentence2", "score"]
  targets = {}
  for split, count in (("train", 160), ("dev", 40), ("test", 8)):
    rows = [header if split != "test" else header[:-1]]
    targets[split] = []
    for i in range(count):
      share = rng.uniform()
      words = [rng.choice(WORDS_B if rng.uniform() < share else WORDS_A)
               for _ in range(8)]
      score = 5.0 * sum(word in WORDS_B for word in words) / len(words)
      targets[split].append(score)
      row = [str(i), "g", "f", "2012", str(i), "none", "none",
             " ".join(words[:4]), " ".join(words[4:])]
      rows.append(row if split == "test" else row + ["%.3f" % score])
    _write(os.path.join(directory, split + ".tsv"), rows)
  return targets


def test_regression_learns_a_linear_target(tmp_path, model):
  data_dir = str(tmp_path / "STS-B")
  targets = write_linear_stsb(data_dir, np.random.RandomState(5))
  output_dir = str(tmp_path / "out")
  run_classifier.run(finetuning.flags_namespace(
      task_name="sts-b", data_dir=data_dir, vocab_file=model["VOCAB_FILE"],
      bert_config_file=model["ALBERT_CONFIG"],
      init_checkpoint=model["INIT_CHECKPOINT"], output_dir=output_dir,
      do_train=True, do_eval=True, do_predict=True, max_seq_length=16,
      train_batch_size=16, eval_batch_size=16, predict_batch_size=16,
      learning_rate=2e-3, train_step=60, warmup_step=6,
      save_checkpoints_steps=30, num_gpus=0))
  results = {}
  with open(os.path.join(output_dir, "eval_results.txt")) as f:
    for line in f:
      key, _, value = line.rstrip("\n").partition(" = ")
      results[key] = value
  assert int(results["global_step"]) == 60
  # Far better than predicting the mean (whose squared error is the variance).
  assert float(results["eval_pearson"]) > 0.9
  assert float(results["eval_spearman"]) > 0.9
  assert float(results["eval_loss"]) < 0.25 * np.var(targets["dev"])
  # The best checkpoint was chosen by Pearson correlation.
  with open(os.path.join(output_dir, "best", "best_metric.json")) as f:
    assert json.load(f)["metric"] == "eval_pearson"
  # Test predictions are floats; the leaderboard file clips them to [0, 5].
  scores = [float(line) for line in _lines(os.path.join(output_dir,
                                                        "test_results.tsv"))]
  assert len(scores) == 8
  assert classifier_metrics.pearson_corrcoef(targets["test"], scores) > 0.8
  rows = _lines(os.path.join(output_dir, "STS-B.tsv"))
  assert rows[0] == "index\tprediction"
  assert [float(row.split("\t")[1]) for row in rows[1:]] == [
      min(max(round(score, 3), 0.0), 5.0) for score in scores]


def test_scripts_reject_unknown_tasks_before_running(tmp_path):
  result = run_script("run_glue.sh", dict(GLUE_DIR=str(tmp_path),
                                          TASKS="RTE SST2"),
                      expect_success=False)
  assert result.returncode != 0
  assert "unknown GLUE task 'SST2'" in result.stderr
  assert "=====" not in result.stdout  # nothing ran
  result = run_script("run_clue.sh", dict(CLUE_DIR=str(tmp_path),
                                          MODEL_SIZE="large"),
                      expect_success=False)
  assert "no settings for MODEL_SIZE=large" in result.stderr
  env = {key: value for key, value in os.environ.items()
         if key != "GLUE_DIR"}
  result = subprocess.run(["bash", os.path.join(HERE, "run_glue.sh")],
                          env=env, capture_output=True, text=True)
  assert result.returncode != 0 and "set GLUE_DIR" in result.stderr
