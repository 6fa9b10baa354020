# coding=utf-8
"""Tests of run_race.py: the choice head's masking, and a short in-process run
on a tiny config that learns a toy C3-format choice task (2 to 4 choices,
subsets d and m), with its outputs, the kept best checkpoint and the export.

The toy task needs the context: a context is drawn from one of two disjoint
character groups, the right choice from the same group, the others from the
other group.
"""

import json
import os

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

import classifier_test_util
import export
import finetune_model
import finetuning
import race_utils
import run_race

GROUPS = (classifier_test_util.GROUP_0, classifier_test_util.GROUP_1)


# ---------------------------------------------------------------------------
# The head.


def _fake_encoder(input_ids, input_mask, segment_ids):
  """pooled = first token id, 4 times: a padded (all-zero) choice scores 0."""
  del input_mask, segment_ids
  first = tf.cast(input_ids[:, :1], tf.float32)
  pooled = first * tf.ones([1, 4])
  return finetune_model.EncoderOutputs(pooled, None)


def _head_outputs(skip_padded_choices, features):
  with tf.Graph().as_default():
    tensors = {name: tf.constant(value) for name, value in features.items()}
    head = run_race.head_fn_builder(race_utils.get_task("c3"), None,
                                    skip_padded_choices, ("d",))
    outputs = head(tensors, False, _fake_encoder)
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      weights, bias = tf.global_variables()
      # logit = 100 - first id: the all-zero padded choices would win.
      sess.run([weights.assign(-tf.ones_like(weights) / 4.0),
                bias.assign([100.0])])
      return sess.run(dict(outputs.predictions, loss=outputs.loss))


@pytest.mark.parametrize("skip_padded_choices", [True, False])
def test_padded_choices_get_no_probability(skip_padded_choices):
  # Two questions: 2 real choices (ids 7, 5) and 3 (ids 9, 6, 8); L = 2.
  input_ids = np.array([[[7, 1], [5, 1], [0, 0], [0, 0]],
                        [[9, 1], [6, 1], [8, 1], [0, 0]]], np.int32)
  features = dict(
      input_ids=input_ids, input_mask=(input_ids > 0).astype(np.int32),
      segment_ids=np.zeros_like(input_ids),
      choice_mask=np.array([[1, 1, 0, 0], [1, 1, 1, 0]], np.int32),
      label_ids=np.array([0, 2], np.int32),
      is_real_example=np.array([1, 1], np.int32),
      subset_id=np.array([1, 1], np.int32))
  out = _head_outputs(skip_padded_choices, features)
  probabilities = out["probabilities"]
  assert probabilities[0, 2:].tolist() == [0.0, 0.0]
  assert probabilities[1, 3] == 0.0
  np.testing.assert_allclose(probabilities.sum(axis=1), [1.0, 1.0], rtol=1e-6)
  # Real logits 93, 95 and 91, 94, 92: the lowest id wins, never padding.
  assert out["predicted_choice"].tolist() == [1, 1]
  for row, logits in enumerate(([93.0, 95.0], [91.0, 94.0, 92.0])):
    expected = np.exp(logits) / np.exp(logits).sum()
    np.testing.assert_allclose(probabilities[row, :len(logits)], expected,
                               rtol=1e-5)
  # Loss: mean of -log p(label) over the real examples, finite.
  want = -(np.log(probabilities[0, 0]) + np.log(probabilities[1, 2])) / 2
  np.testing.assert_allclose(out["loss"], want, rtol=1e-5)


# ---------------------------------------------------------------------------
# A tiny end-to-end run.


def _toy_question(rng, index):
  group = int(rng.randint(2))
  num_choices = int(rng.randint(2, 5))
  label = int(rng.randint(num_choices))
  text = lambda g, low, high: "".join(rng.choice(GROUPS[g], rng.randint(
      low, high)))
  choices = [text(group if i == label else 1 - group, 2, 5)
             for i in range(num_choices)]
  # Distinct choices: the answer is given as text.
  choices = [c + str(i) if choices.count(c) > 1 else c
             for i, c in enumerate(choices)]
  return [[text(group, 6, 20)],
          [{"question": "", "choice": choices, "answer": choices[label],
            "id": index}], "doc%d" % index]


def _write_toy_c3(data_dir, rng):
  """d-/m- files of the C3 release layout; returns the test documents."""
  os.makedirs(data_dir, exist_ok=True)
  counts = dict(train=240, dev=40, test=24)
  index = 0
  test_docs = []
  for split, count in counts.items():
    for subset in ("d", "m"):
      docs = []
      for _ in range(count // 2):
        docs.append(_toy_question(rng, index))
        index += 1
      if split == "test":
        test_docs += docs
      with open(os.path.join(data_dir, "%s-%s.json" % (subset, split)), "w",
                encoding="utf-8") as f:
        json.dump(docs, f, ensure_ascii=False)
  return test_docs


@pytest.fixture(name="workspace", scope="module")
def _workspace(tmp_path_factory):
  root = str(tmp_path_factory.mktemp("race"))
  pretrained = os.path.join(root, "pretrained")
  os.makedirs(pretrained)
  space = dict(root=root, vocab_file=classifier_test_util.write_vocab(root),
               config_file=classifier_test_util.write_config(root),
               data_dir=os.path.join(root, "c3"))
  space["test_docs"] = _write_toy_c3(space["data_dir"],
                                     np.random.RandomState(0))
  space["init_checkpoint"] = classifier_test_util.write_pretrained_checkpoint(
      pretrained, space["config_file"])
  return space


def _flags(space, output_dir, **extra):
  values = dict(
      task_name="c3", data_dir=space["data_dir"],
      vocab_file=space["vocab_file"], bert_config_file=space["config_file"],
      init_checkpoint=space["init_checkpoint"], output_dir=output_dir,
      max_seq_length=32, max_qa_length=8, train_batch_size=16,
      eval_batch_size=16, predict_batch_size=16, learning_rate=2e-3,
      train_step=150, warmup_step=10, save_checkpoints_steps=75, num_gpus=0,
      random_seed=1)
  values.update(extra)
  return finetuning.flags_namespace(**values)


def _read_key_values(path):
  with open(path) as f:
    return dict(line.rstrip("\n").split(" = ", 1) for line in f)


@pytest.fixture(name="fine_tuned", scope="module")
def _fine_tuned(workspace):
  """Train (evaluating dev at steps 75 and 150), predict test, export."""
  output_dir = os.path.join(workspace["root"], "out")
  export_dir = os.path.join(workspace["root"], "export")
  results = run_race.run(_flags(workspace, output_dir, do_train=True,
                                do_eval=True, do_predict=True,
                                export_dir=export_dir))
  return dict(workspace, results=results, output_dir=output_dir,
              export_dir=export_dir)


def test_tiny_run_learns_a_toy_choice_task(fine_tuned):
  workspace, results = fine_tuned, fine_tuned["results"]
  output_dir, export_dir = fine_tuned["output_dir"], fine_tuned["export_dir"]
  assert results["eval_accuracy"] >= 0.9, results
  # Per-subset accuracy for the release's d and m files, nothing for others.
  assert results["eval_accuracy_d"] >= 0.8 and results["eval_accuracy_m"] >= 0.8
  assert not any(key.startswith("eval_accuracy_") and key[-1] not in "dm"
                 for key in results)
  written = _read_key_values(os.path.join(output_dir, "eval_results.txt"))
  assert {"eval_accuracy", "eval_loss", "eval_accuracy_d",
          "eval_accuracy_m"} <= set(written)
  best = _read_key_values(os.path.join(output_dir, "best",
                                       "eval_results.txt"))
  assert float(best["eval_accuracy"]) >= float(results["eval_accuracy"])

  # Predictions: the chosen choice's text per question id; padded choices
  # have no probability, real ones sum to 1.
  with open(os.path.join(output_dir, "test_predictions.json")) as f:
    predictions = json.load(f)
  with open(os.path.join(output_dir, "test_probabilities.json")) as f:
    probabilities = json.load(f)
  questions = {str(doc[1][0]["id"]): doc[1][0]
               for doc in workspace["test_docs"]}
  assert set(predictions) == set(questions)
  correct = sum(predictions[qid] == q["answer"] for qid, q in questions.items())
  assert correct / len(questions) >= 0.85
  for qid, question in questions.items():
    assert predictions[qid] in question["choice"]
    assert len(probabilities[qid]) == len(question["choice"])
    assert abs(sum(probabilities[qid]) - 1.0) < 1e-4

  # The export gives the same probabilities as the prediction run (same best
  # checkpoint), exactly 0 for padded choices.
  runner = export.SavedModelRunner(os.path.join(export_dir,
                                                run_race.EXPORT_NAME))
  assert runner.info["task"] == "c3" and runner.info["max_choices"] == 4
  doc = workspace["test_docs"][0]
  example = race_utils.ChoiceExample("x", doc[0], doc[1][0]["question"],
                                     doc[1][0]["choice"])
  converter = race_utils.ChoiceConverter(
      race_utils.get_task("c3"), runner.tokenizer, 32, 8)
  record = converter.convert(example, 0, {})
  feeds = {name: np.array(record[name], np.int32).reshape([1, 4, -1])
           for name in ("input_ids", "input_mask", "segment_ids")}
  feeds["choice_mask"] = np.array([record["choice_mask"]], np.int32)
  served = runner.run(feeds)["probabilities"][0]
  runner.close()
  num_real = len(example.choices)
  np.testing.assert_allclose(served[:num_real],
                             probabilities[str(doc[1][0]["id"])], atol=2e-5)
  assert (served[num_real:] == 0.0).all()


def test_bad_records_stop_the_run_before_training(workspace, tmp_path):
  data_dir = str(tmp_path / "bad")
  os.makedirs(data_dir)
  good = {"question": "", "choice": ["甲乙", "子丑"], "answer": "甲乙"}
  docs = [[["甲乙丙"], [good], "a"],
          [["甲乙丙"], [good, dict(good, answer="寅卯")], "b"]]
  for split in ("train", "dev"):
    with open(os.path.join(data_dir, split + ".json"), "w",
              encoding="utf-8") as f:
      json.dump(docs, f, ensure_ascii=False)
  output_dir = str(tmp_path / "out")
  flags_obj = _flags(workspace, output_dir, data_dir=data_dir, do_train=True,
                     do_eval=True)
  with pytest.raises(race_utils.BadRecordsError,
                     match=r"train\.json\[1\]\.questions\[1\]: answer '寅卯'"):
    run_race.run(flags_obj)
  assert tf.train.latest_checkpoint(output_dir) is None
  with pytest.raises(ValueError, match="--max_qa_length=30"):
    run_race.run(_flags(workspace, output_dir, do_train=True,
                        max_qa_length=30))
  with pytest.raises(ValueError, match="task_name=squad"):
    run_race.run(_flags(workspace, output_dir, do_train=True,
                        task_name="squad"))


def test_fine_tune_from_exported_hub_module(fine_tuned, tmp_path):
  output_dir = str(tmp_path / "hub_out")
  # No --vocab_file: the module's tokenization_info supplies it.
  flags_obj = _flags(fine_tuned, output_dir, do_train=True, do_eval=True,
                     do_predict=True, init_checkpoint=None, vocab_file=None,
                     albert_hub_module_handle=os.path.join(
                         fine_tuned["export_dir"], "hub_module"),
                     save_checkpoints_steps=150)
  results = run_race.run(flags_obj)
  assert results["eval_accuracy"] >= 0.8, results
  names = [name for name, _ in tf.train.list_variables(
      tf.train.latest_checkpoint(output_dir))]
  assert "output_weights" in names and "output_bias" in names
  assert any(name.startswith("module/bert/encoder/") for name in names)
  with open(os.path.join(output_dir, "test_predictions.json")) as f:
    assert len(json.load(f)) == len(fine_tuned["test_docs"])
