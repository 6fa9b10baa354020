# coding=utf-8
"""Answers questions about raw contexts with a model exported by
run_squad_v1.py / run_squad_v2.py (--export_dir).

Loads the SavedModel once (export.SavedModelRunner: one session, graph
finalised) and, per call, windows each context exactly as training did
(squad_utils.RecordMaker with the exported max_seq_length, doc_stride and
max_query_length), runs all windows padded only to the longest, and
post-processes as the scripts do. The answer is always a substring of the
context as given: context[start:end].

From Python:
  from squad_predictor import SquadPredictor
  predictor = SquadPredictor("out/export/squad")
  predictor.answer("长江注入哪里？", "长江……最终注入东海。")
  # {"text": "东海", "score": 0.93, "start": 40, "end": 42,
  #  "null_odds": ... (v2 only)}
  predictor.predict([(question, context), ...])   # one dict per pair

`score` is the answer's probability among the n best spans; a v2 model
answers "" (start = end = -1) when the question's null odds exceed the
exported threshold.

As a command (one question and context as arguments, or JSON lines
{"question": ..., "context": ...} on stdin; prints one JSON answer per line):
  python squad_predictor.py --saved_model=out/export/squad 长江注入哪里？ 长江……注入东海。
  python squad_predictor.py --saved_model=out/export/squad < questions.jsonl
"""

import json
import sys

from absl import app
from absl import flags

import export
import shared_flags
import squad_task
import squad_utils

FLAGS = flags.FLAGS

shared_flags.define("saved_model", "num_threads", "batch_size")


class SquadPredictor(object):
  """Extracts answers with one loaded SavedModel of run_squad_v1/v2."""

  def __init__(self, saved_model, num_threads=0, batch_size=32):
    self._runner = export.SavedModelRunner(
        saved_model, info_file=squad_task.SQUAD_INFO_FILE,
        num_threads=num_threads)
    info = self._runner.info
    self.version_2 = bool(info["version_2"])
    self.n_best_size = info["n_best_size"]
    self.max_answer_length = info["max_answer_length"]
    threshold = info.get("null_score_diff_threshold")
    self.null_threshold = 0.0 if threshold is None else threshold
    self.batch_size = batch_size
    self.tokenizer = self._runner.tokenizer
    self._maker = squad_utils.RecordMaker(
        self._runner.tokenizer, info["max_seq_length"], info["doc_stride"],
        info["max_query_length"], is_training=False)

  def answer(self, question, context):
    """The answer dict of one question about one context."""
    return self.predict([(question, context)])[0]

  def predict(self, pairs):
    """[(question, context)] -> [{"text", "score", "start", "end"}]."""
    examples = []
    for index, (question, context) in enumerate(pairs):
      if not question or not question.strip():
        raise ValueError("Question %d is empty." % index)
      if not context or not context.strip():
        raise ValueError("Context %d is empty." % index)
      examples.append(squad_utils.SquadExample(str(index), question, context,
                                               []))
    windows = []
    records = list(self._maker.records(examples, {},
                                       on_window=windows.append))
    # Batches of similar lengths pad little; outputs go back to record order.
    order = sorted(range(len(records)),
                   key=lambda i: len(records[i]["input_ids"]))
    outputs = [None] * len(records)
    for begin in range(0, len(order), self.batch_size):
      rows = order[begin:begin + self.batch_size]
      for row, output in zip(rows, self._run([records[i] for i in rows])):
        outputs[row] = output
    return self._answers(examples, windows, outputs)

  def _run(self, records):
    names = ("input_ids", "input_mask", "segment_ids", "context_mask")
    arrays = export.pad_batch([[r[name] for r in records] for name in names])
    fetched = self._runner.run(dict(zip(names, arrays)))
    return [{name: value[row] for name, value in fetched.items()}
            for row in range(len(records))]

  def _answers(self, examples, windows, outputs):
    null_odds = None
    if self.version_2:
      _, nbest, null_odds = squad_utils.postprocess_v2(
          examples, windows, outputs, self.n_best_size,
          self.max_answer_length)
    else:
      _, nbest = squad_utils.postprocess_v1(
          examples, windows, outputs, self.n_best_size,
          self.max_answer_length)
    answers = []
    for example in examples:
      entries = nbest[example.qas_id]
      result = dict(text="", score=0.0, start=-1, end=-1)
      if entries and not (null_odds and null_odds[example.qas_id] >
                          self.null_threshold):
        best = entries[0]
        result = dict(text=best["text"], score=best["probability"],
                      start=best["start_char"], end=best["end_char"])
      if null_odds is not None:
        result["null_odds"] = null_odds[example.qas_id]
      answers.append(result)
    return answers


def _read_stdin_pairs():
  pairs = []
  for line_number, line in enumerate(sys.stdin, start=1):
    if not line.strip():
      continue
    try:
      item = json.loads(line)
      pairs.append((item["question"], item["context"]))
    except (ValueError, KeyError, TypeError):
      raise ValueError("stdin line %d: expected a JSON object with "
                       "\"question\" and \"context\"." % line_number) from None
  return pairs


def main(argv):
  if not FLAGS.saved_model:
    raise app.UsageError("--saved_model is required.")
  if len(argv) not in (1, 3):
    raise app.UsageError("Pass a question and a context, or JSON lines on "
                         "stdin.")
  predictor = SquadPredictor(FLAGS.saved_model, FLAGS.num_threads,
                             FLAGS.batch_size)
  pairs = [(argv[1], argv[2])] if len(argv) == 3 else _read_stdin_pairs()
  for answer in predictor.predict(pairs):
    print(json.dumps(answer, ensure_ascii=False))


if __name__ == "__main__":
  app.run(main)
