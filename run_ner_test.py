# coding=utf-8
"""End-to-end tests of run_ner.py (in-process) on a tiny config and a toy
tagging task, with the export / ner_predictor.py round trip and bad inputs.

The toy task is learnable by construction: entity characters come from two
groups that never appear outside entities (PER: 甲乙丙丁, LOC: 戊己庚辛), the
rest of a sentence from a third group, and entities are separated by at least
one outside character, so B-/I- follow from the previous character.
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
import ner_data
import ner_metrics
import ner_predictor
import run_ner

HERE = os.path.dirname(os.path.abspath(__file__))
ENTITY_CHARS = {"PER": "甲乙丙丁", "LOC": "戊己庚辛"}
OUTSIDE_CHARS = "子丑寅卯辰巳午未"


def toy_sentence(rng, max_length):
  """(text, [(type, start, end)]) with 1-3 outside characters between
  entities of 1-3 characters."""
  text, entities = "", []
  while True:
    text += "".join(rng.choice(list(OUTSIDE_CHARS), size=rng.randint(1, 4)))
    length = rng.randint(1, 4)
    if len(text) + length > max_length:
      return text, entities
    entity_type = "PER" if rng.randint(2) else "LOC"
    chars = rng.choice(list(ENTITY_CHARS[entity_type]), size=length)
    entities.append((entity_type, len(text), len(text) + length))
    text += "".join(chars)


def write_bio(path, sentences):
  lines = []
  for text, entities in sentences:
    tags = ner_metrics.entities_to_tags(entities, len(text), "bio")
    lines.extend("%s\t%s" % pair for pair in zip(text, tags))
    lines.append("")
  with open(path, "w", encoding="utf-8") as f:
    f.write("\n".join(lines) + "\n")


def write_cluener(path, sentences):
  with open(path, "w", encoding="utf-8") as f:
    for text, entities in sentences:
      label = ner_data.cluener_label(text, entities)
      f.write(json.dumps({"text": text, "label": label},
                         ensure_ascii=False) + "\n")


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
  root = str(tmp_path_factory.mktemp("ner"))
  rng = np.random.RandomState(0)
  splits = {
      "train": [toy_sentence(rng, rng.randint(4, 30)) for _ in range(128)],
      # Dev and test hold sentences longer than max_seq_length (24): they are
      # split into windows and merged back.
      "dev": [toy_sentence(rng, rng.randint(4, 40)) for _ in range(40)],
      "test": [toy_sentence(rng, rng.randint(4, 40)) for _ in range(30)],
  }
  bio_dir = os.path.join(root, "bio")
  cluener_dir = os.path.join(root, "cluener")
  os.makedirs(bio_dir)
  os.makedirs(cluener_dir)
  for split, sentences in splits.items():
    write_bio(os.path.join(bio_dir, split + ".txt"), sentences)
    write_cluener(os.path.join(cluener_dir, split + ".json"), sentences)
  pretrained = os.path.join(root, "pretrained")
  os.makedirs(pretrained)
  config_file = classifier_test_util.write_config(root)
  return dict(root=root, bio_dir=bio_dir, cluener_dir=cluener_dir,
              splits=splits, vocab_file=classifier_test_util.write_vocab(root),
              config_file=config_file,
              init_checkpoint=classifier_test_util.write_pretrained_checkpoint(
                  pretrained, config_file))


def flags_for(space, output_dir, **extra):
  values = dict(task_name="msra", data_dir=space["bio_dir"],
                vocab_file=space["vocab_file"],
                bert_config_file=space["config_file"],
                init_checkpoint=space["init_checkpoint"],
                output_dir=output_dir, max_seq_length=24, train_batch_size=16,
                eval_batch_size=32, predict_batch_size=32, learning_rate=3e-3,
                num_train_epochs=12, warmup_proportion=0.1,
                save_checkpoints_steps=48, num_gpus=0)
  values.update(extra)
  return finetuning.flags_namespace(**values)


def read_key_values(path):
  with open(path) as f:
    return dict(line.rstrip("\n").split(" = ", 1) for line in f)


@pytest.fixture(scope="module")
def crf_run(workspace):
  output_dir = os.path.join(workspace["root"], "crf_out")
  export_dir = os.path.join(workspace["root"], "crf_export")
  run_ner.run(flags_for(workspace, output_dir, do_train=True, do_eval=True,
                        do_predict=True, use_crf=True, export_dir=export_dir))
  return dict(workspace, output_dir=output_dir, export_dir=export_dir)


def test_crf_run_learns_toy_task_and_writes_outputs(crf_run):
  output_dir = crf_run["output_dir"]
  results = read_key_values(os.path.join(output_dir, "eval_results.txt"))
  assert float(results["eval_f1"]) >= 0.9
  assert float(results["eval_token_accuracy"]) >= 0.95
  for entity_type in ENTITY_CHARS:
    assert float(results["eval_%s_f1" % entity_type]) >= 0.85
  num_gold = sum(len(e) for _, e in crf_run["splits"]["dev"])
  assert int(results["eval_num_gold"]) == num_gold
  best = read_key_values(os.path.join(output_dir, "best", "eval_results.txt"))
  assert float(best["eval_f1"]) >= float(results["eval_f1"])
  with open(os.path.join(output_dir, run_ner.LABELS_FILE)) as f:
    saved = json.load(f)
  assert saved == dict(task_name="msra", scheme="bio", use_crf=True,
                       labels=["O", "B-LOC", "I-LOC", "B-PER", "I-PER"])

  # Predictions in the input's format: every character of every test
  # sentence (long ones included) with a tag, scored like the gold file.
  path = os.path.join(output_dir, "test_predictions.txt")
  predicted = ner_data.read_examples("msra", path, "test")
  test = crf_run["splits"]["test"]
  assert ["".join(e.words) for e in predicted] == [t for t, _ in test]
  assert max(len(t) for t, _ in test) > 24
  gold_tags = [ner_metrics.entities_to_tags(e, len(t), "bio") for t, e in test]
  scores = ner_metrics.evaluate(gold_tags, [e.tags for e in predicted])
  assert scores["f1"] >= 0.9
  test_results = read_key_values(os.path.join(output_dir, "test_results.txt"))
  assert float(test_results["test_f1"]) == pytest.approx(scores["f1"])


def test_predictor_round_trip(crf_run):
  predictor = ner_predictor.NerPredictor(os.path.join(crf_run["export_dir"],
                                                      "ner"))
  test = crf_run["splits"]["test"]
  # Raw texts with spaces and a Latin run inside: offsets stay exact.
  texts = [text for text, _ in test] + ["子甲乙 丑abc戊未"]
  found = predictor.predict(texts)
  gold = [ner_metrics.entities_to_tags(e, len(t), "bio") for t, e in test]
  guessed = [ner_metrics.entities_to_tags(
      [(e["type"], e["start"], e["end"]) for e in entities], len(text), "bio")
             for text, entities in zip(texts, found)]
  assert ner_metrics.evaluate(gold, guessed[:-1])["f1"] >= 0.9
  for text, entities in zip(texts, found):
    for entity in entities:
      assert text[entity["start"]:entity["end"]] == entity["text"]
  assert {(e["type"], e["text"]) for e in found[-1]} >= {("PER", "甲乙")}
  # The same model on the command line (a text argument and stdin).
  command = [sys.executable, os.path.join(HERE, "ner_predictor.py"),
             "--saved_model=%s" % os.path.join(crf_run["export_dir"], "ner")]
  result = subprocess.run(command, input=texts[0] + "\n", cwd=HERE,
                          capture_output=True, text=True,
                          env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
  assert result.returncode == 0, result.stderr[-2000:]
  assert json.loads(result.stdout.splitlines()[0]) == found[0]
  predictor.close()


def test_softmax_run_on_cluener_writes_json(workspace):
  # IO tags: a per-token softmax needs no B-/I- context, so a short run
  # suffices (the CRF run above learns BIO boundaries).
  output_dir = os.path.join(workspace["root"], "cluener_out")
  run_ner.run(flags_for(workspace, output_dir, task_name="cluener",
                        data_dir=workspace["cluener_dir"], do_train=True,
                        do_eval=True, do_predict=True, tag_scheme="io",
                        num_train_epochs=6, save_checkpoints_steps=1000))
  results = read_key_values(os.path.join(output_dir, "eval_results.txt"))
  assert float(results["eval_f1"]) >= 0.85
  with open(os.path.join(output_dir, "test_predictions.json"),
            encoding="utf-8") as f:
    records = [json.loads(line) for line in f]
  test = workspace["splits"]["test"]
  assert [r["text"] for r in records] == [t for t, _ in test]
  correct = total = 0
  for record, (text, entities) in zip(records, test):
    for entity_type, mentions in record["label"].items():
      for entity_text, spans in mentions.items():
        for start, end in spans:
          assert text[start:end + 1] == entity_text
          correct += (entity_type, start, end + 1) in entities
    total += len(entities)
  assert correct >= 0.85 * total


def test_bad_inputs(workspace, tmp_path):
  data_dir = str(tmp_path / "data")
  os.makedirs(data_dir)
  with open(os.path.join(workspace["bio_dir"], "train.txt"),
            encoding="utf-8") as f:
    train_text = f.read()
  with open(os.path.join(data_dir, "train.txt"), "w", encoding="utf-8") as f:
    f.write(train_text)
  with open(os.path.join(data_dir, "dev.txt"), "w", encoding="utf-8") as f:
    f.write("子\tO\n甲\tB-ORG\n")
  output_dir = str(tmp_path / "out")
  with pytest.raises(ner_data.NerDataError, match=r"dev.txt:2: tag 'B-ORG'"):
    run_ner.run(flags_for(workspace, output_dir, data_dir=data_dir,
                          do_train=True, do_eval=True))
  with pytest.raises(ValueError, match="--tag_scheme"):
    run_ner.run(flags_for(workspace, output_dir, data_dir=data_dir,
                          do_train=True, tag_scheme="bilou"))
  with pytest.raises(ValueError, match="--task_name"):
    run_ner.run(flags_for(workspace, output_dir, task_name="pos",
                          do_train=True))
  with pytest.raises(ner_data.NerDataError, match="no test file"):
    run_ner.run(flags_for(workspace, output_dir, data_dir=data_dir,
                          do_predict=True))
  # Nothing was trained, so nothing may be written but the checks' output.
  assert not tf.io.gfile.glob(os.path.join(output_dir, "*.index"))


def test_reusing_output_dir_with_other_head_fails(crf_run):
  with pytest.raises(ValueError, match="trained with --use_crf"):
    run_ner.run(flags_for(crf_run, crf_run["output_dir"], do_eval=True,
                          use_crf=False))


def test_fine_tune_from_exported_hub_module(crf_run, tmp_path):
  output_dir = str(tmp_path / "hub_out")
  # No --vocab_file: the module's tokenization_info supplies it.
  results = run_ner.run(flags_for(
      crf_run, output_dir, do_train=True, do_eval=True, do_predict=True,
      use_crf=True, init_checkpoint=None, vocab_file=None,
      albert_hub_module_handle=os.path.join(crf_run["export_dir"],
                                            "hub_module")))
  assert results["eval_f1"] >= 0.85, results
  names = [name for name, _ in tf.train.list_variables(
      tf.train.latest_checkpoint(output_dir))]
  assert any(name.startswith("module/bert/encoder/") for name in names)
  assert not any(name.startswith("bert/") for name in names)
  with open(os.path.join(output_dir, "test_predictions.txt"),
            encoding="utf-8") as f:
    predicted = [line for line in f.read().split("\n\n") if line.strip()]
  assert len(predicted) == len(crf_run["splits"]["test"])
