# coding=utf-8
"""GLUE for run_classifier: the release's TSV readers and the benchmark files.

What lives here:
  * One processor per GLUE task, under google-research/albert's task names:
    `cola`, `sst-2`, `mrpc`, `sts-b` (regression), `qqp`, `mnli` (dev and test
    matched), `mnli-mm` (mismatched), `qnli`, `rte`, `wnli` and `ax` (the
    diagnostic set, test only, predicted with an MNLI model). They register
    themselves in classifier_data.PROCESSORS.
  * Columns are found by the names in each file's header, because positions
    differ between tasks and between the splits of one task (QQP's test file
    drops two columns, MNLI's dev files carry five annotator labels). CoLA's
    train and dev files are the exception: they have no header, and their
    columns are fixed (source, label, original judgement, sentence).
  * Lines are split on tabs only, never with csv quoting: QQP and MNLI texts
    contain unbalanced double quotes, which a csv reader would use to glue
    lines together.
  * `--data_dir` may be the GLUE root (holding CoLA/, MNLI/, ...; google's
    run_glue.sh passes that) or the task's own directory.
  * The benchmark files --do_predict writes: GLUE leaderboard TSVs
    (`<TASK>.tsv`, `index<TAB>prediction`) and CLUE submission files
    (`<task>_predict.json`).
  * What run_glue.sh and run_clue.sh call between and after their runs:
    `python glue_data.py summary OUTPUT_ROOT TASK...` (the one-table summary,
    and the benchmark files gathered in OUTPUT_ROOT/submission/) and
    `python glue_data.py copy_trained_model MNLI_DIR NEW_DIR` (MNLI-mm and AX
    are evaluated / predicted with the model trained on MNLI).
"""

import json
import os
import re

from absl import app
import tensorflow.compat.v1 as tf

import classifier_data
import classifier_metrics
import estimator_utils
import gfile_utils

_BadRow = classifier_data._BadRow  # pylint: disable=protected-access
_read_lines = classifier_data._read_lines  # pylint: disable=protected-access

class GlueProcessor(classifier_data.DataProcessor):
  """A GLUE task: TSV files with a header row naming the columns.

  Subclasses set the task's directory in the release, its file names, and the
  names of its text, label and id columns.
  """

  # The task's directory in the GLUE release (and in google's --data_dir).
  task_dir = None
  # Split -> candidate file names (the first one found is read).
  file_names = {"train": ("train.tsv",), "dev": ("dev.tsv",),
                "test": ("test.tsv",)}
  text_a_column = "sentence1"
  text_b_column = "sentence2"
  label_column = "label"
  # The first of these found in a header gives the example ids (the ids the
  # leaderboard files are keyed by).
  id_columns = ("index", "id")
  # The leaderboard file the test predictions go to.
  leaderboard_file = None
  # STS-B's label is a score, not a class.
  is_regression = False

  @property
  def is_pair(self):
    return self.text_b_column is not None

  def split_files(self, data_dir, split):
    names = self.file_names.get(split)
    if not names:
      raise ValueError(self._missing_split_message(split))
    candidates = []
    for name in names:
      candidates += [os.path.join(data_dir, self.task_dir, name),
                     os.path.join(data_dir, name)]
    for path in candidates:
      if tf.io.gfile.exists(path):
        return [path]
    raise FileNotFoundError(
        "No GLUE %s %s file: looked for %s. Pass --data_dir=the GLUE root "
        "(holding %s/) or the task's own directory." % (
            self.task_dir, split, ", ".join(candidates), self.task_dir))

  def _missing_split_message(self, split):
    return "%s has no %s split." % (self.task_dir, split)

  def _fixed_columns(self, split):  # pylint: disable=unused-argument
    """Column names of a file without a header row; None if it has one."""
    return None

  def _wanted_columns(self, split):
    """{record key: column name} this split must provide."""
    wanted = {"text_a": self.text_a_column}
    if self.is_pair:
      wanted["text_b"] = self.text_b_column
    if split != "test":
      wanted["label"] = self.label_column
    return wanted

  def _records(self, path, split):
    lines = _read_lines(path)
    columns = self._fixed_columns(split)
    if columns is None:
      columns = classifier_data.read_tsv_header(
          lines, path, list(self._wanted_columns(split).values()),
          "Is this the GLUE release's %s %s file?" % (self.task_dir, split))
    indices = {key: columns.index(name)
               for key, name in self._wanted_columns(split).items()}
    id_column = next((name for name in self.id_columns if name in columns),
                     None)
    if id_column is not None:
      indices["guid"] = columns.index(id_column)
    return classifier_data.tsv_rows_by_columns(lines, columns, indices)

  def _parse_record(self, record, split):
    label = record.get("label")
    return (record["text_a"], record.get("text_b"),
            label.strip() if label is not None else None, record.get("guid"))


class ColaProcessor(GlueProcessor):
  """CoLA: is the sentence grammatical? Labels 0/1; Matthews correlation.

  train.tsv/dev.tsv have no header: source, label, original judgement ('*'
  or empty), sentence. test.tsv has the header `index<TAB>sentence`.
  """

  task_dir = "CoLA"
  leaderboard_file = "CoLA.tsv"
  text_a_column = "sentence"
  text_b_column = None

  def get_labels(self):
    return ["0", "1"]

  def _fixed_columns(self, split):
    if split == "test":
      return None
    return ["source", "label", "original_judgement", "sentence"]


class Sst2Processor(GlueProcessor):
  """SST-2: sentence sentiment, labels 0/1."""

  task_dir = "SST-2"
  leaderboard_file = "SST-2.tsv"
  text_a_column = "sentence"
  text_b_column = None

  def get_labels(self):
    return ["0", "1"]


class MrpcProcessor(GlueProcessor):
  """MRPC: are the two sentences paraphrases? `Quality` 0/1; F1, accuracy."""

  task_dir = "MRPC"
  leaderboard_file = "MRPC.tsv"
  text_a_column = "#1 String"
  text_b_column = "#2 String"
  label_column = "Quality"

  def get_labels(self):
    return ["0", "1"]


class QqpProcessor(GlueProcessor):
  """QQP: duplicate questions? `is_duplicate` 0/1; F1, accuracy.

  The test file has only id, question1, question2.
  """

  task_dir = "QQP"
  leaderboard_file = "QQP.tsv"
  text_a_column = "question1"
  text_b_column = "question2"
  label_column = "is_duplicate"

  def get_labels(self):
    return ["0", "1"]


class MnliProcessor(GlueProcessor):
  """MNLI, matched dev and test sets; `gold_label` (the last column)."""

  task_dir = "MNLI"
  leaderboard_file = "MNLI-m.tsv"
  file_names = {"train": ("train.tsv",), "dev": ("dev_matched.tsv",),
                "test": ("test_matched.tsv",)}
  label_column = "gold_label"
  # No annotator majority (SNLI-style data); GLUE's MNLI has none, others may.
  dropped_labels = frozenset(["-"])

  def get_labels(self):
    return ["contradiction", "entailment", "neutral"]


class MnliMismatchedProcessor(MnliProcessor):
  """MNLI trained on the same data, evaluated on the mismatched genres."""

  leaderboard_file = "MNLI-mm.tsv"
  file_names = {"train": ("train.tsv",), "dev": ("dev_mismatched.tsv",),
                "test": ("test_mismatched.tsv",)}


class AxProcessor(MnliProcessor):
  """AX, GLUE's diagnostic set: MNLI-style pairs, test only.

  The release has diagnostic/diagnostic.tsv (index, sentence1, sentence2);
  the leaderboard wants an MNLI model's predictions on it.
  """

  task_dir = "diagnostic"
  leaderboard_file = "AX.tsv"
  file_names = {"test": ("diagnostic.tsv", "AX.tsv")}

  def _missing_split_message(self, split):
    return ("ax is GLUE's diagnostic set and has no %s split: train on mnli, "
            "then run --task_name=ax --do_predict with --output_dir=that MNLI "
            "run (its trained checkpoint predicts AX)." % split)


class QnliProcessor(GlueProcessor):
  """QNLI: does the sentence answer the question? entailment/not_entailment."""

  task_dir = "QNLI"
  leaderboard_file = "QNLI.tsv"
  text_a_column = "question"
  text_b_column = "sentence"

  def get_labels(self):
    return ["entailment", "not_entailment"]


class RteProcessor(GlueProcessor):
  """RTE: entailment/not_entailment."""

  task_dir = "RTE"
  leaderboard_file = "RTE.tsv"

  def get_labels(self):
    return ["entailment", "not_entailment"]


class WnliProcessor(GlueProcessor):
  """WNLI: labels 0/1."""

  task_dir = "WNLI"
  leaderboard_file = "WNLI.tsv"

  def get_labels(self):
    return ["0", "1"]


class StsbProcessor(GlueProcessor):
  """STS-B: similarity `score`, a float in [0, 5] (regression).

  get_labels() is empty: the label is the score itself, kept as its text
  (e.g. "3.800") and read as a float when the features are made.
  """

  task_dir = "STS-B"
  leaderboard_file = "STS-B.tsv"
  label_column = "score"
  is_regression = True
  min_score, max_score = 0.0, 5.0

  def get_labels(self):
    return []

  def _make_example(self, record, split, index):
    if isinstance(record, _BadRow):
      raise record
    text_a, text_b, label, guid = self._parse_record(record, split)
    if not text_a.strip():
      raise _BadRow("empty text_a")
    if not text_b.strip():
      raise _BadRow("empty text_b (this is a sentence-pair task)")
    if split == "test":
      label = None
    else:
      self.check_score(label)
    return classifier_data.InputExample(
        guid=guid or "%s-%d" % (split, index), text_a=text_a, text_b=text_b,
        label=label)

  def check_score(self, label):
    """Returns the score as a float; raises _BadRow if it is not one in
    [min_score, max_score]."""
    try:
      score = float(label)
    except (TypeError, ValueError):
      raise _BadRow("score %r is not a number" % (label,)) from None
    if not self.min_score <= score <= self.max_score:
      raise _BadRow("score %s is outside [%g, %g]" % (
          label, self.min_score, self.max_score))
    return score


GLUE_PROCESSORS = {
    "cola": ColaProcessor,
    "sst-2": Sst2Processor,
    "mrpc": MrpcProcessor,
    "sts-b": StsbProcessor,
    "qqp": QqpProcessor,
    "mnli": MnliProcessor,
    "mnli-mm": MnliMismatchedProcessor,
    "qnli": QnliProcessor,
    "rte": RteProcessor,
    "wnli": WnliProcessor,
    "ax": AxProcessor,
}

# Registered here rather than listed in classifier_data, which this module
# builds on (classifier_data imports this module after its own processors).
classifier_data.PROCESSORS.update(GLUE_PROCESSORS)

CLUE_TASKS = frozenset(["afqmc", "tnews", "iflytek", "cmnli", "ocnli",
                        "cluewsc2020", "csl"])


# ----------------------------------------------------------------------------
# Benchmark files.


def leaderboard_file_name(task_name):
  """`<TASK>.tsv` as GLUE's leaderboard names it, or None for a non-GLUE task."""
  processor_class = GLUE_PROCESSORS.get(task_name.lower())
  return processor_class.leaderboard_file if processor_class else None


def write_glue_leaderboard_file(output_dir, task_name, ids, predictions):
  """Writes the task's GLUE leaderboard file; returns its path.

  Args:
    output_dir: directory to write `<TASK>.tsv` into.
    task_name: a GLUE task name.
    ids: the test file's index values, in test order.
    predictions: label names (classification) or scores (sts-b), one per id.
      Scores are clipped to STS-B's range [0, 5] and written with 3 decimals.
  """
  name = leaderboard_file_name(task_name)
  if name is None:
    raise ValueError("%s is not a GLUE task; leaderboard files exist for: %s"
                     % (task_name, ", ".join(sorted(GLUE_PROCESSORS))))
  if len(ids) != len(predictions):
    raise ValueError("%d ids but %d predictions" % (len(ids),
                                                    len(predictions)))
  is_regression = GLUE_PROCESSORS[task_name.lower()].is_regression
  lines = ["index\tprediction"]
  for example_id, prediction in zip(ids, predictions):
    if is_regression:
      prediction = "%.3f" % min(max(float(prediction), StsbProcessor.min_score),
                                StsbProcessor.max_score)
    lines.append("%s\t%s" % (example_id, prediction))
  path = os.path.join(output_dir, name)
  gfile_utils.write_lines(path, lines)
  tf.logging.info("Wrote the GLUE leaderboard file %s (%d predictions)", path,
                  len(ids))
  return path


def clue_submission_id(guid):
  """CLUE's test ids are integers: "12" becomes 12; other ids stay text."""
  return int(guid) if re.fullmatch(r"\d+", str(guid)) else guid


def write_clue_submission_file(output_dir, task_name, ids, labels):
  """Writes `<task>_predict.json`: one {"id", "label"} object per line, in
  test order (CLUE's baseline naming and format); returns its path."""
  if len(ids) != len(labels):
    raise ValueError("%d ids but %d labels" % (len(ids), len(labels)))
  path = os.path.join(output_dir, "%s_predict.json" % task_name.lower())
  gfile_utils.write_lines(path, (
      json.dumps({"id": clue_submission_id(example_id), "label": str(label)},
                 ensure_ascii=False)
      for example_id, label in zip(ids, labels)))
  tf.logging.info("Wrote the CLUE submission file %s (%d predictions)", path,
                  len(ids))
  return path


# ----------------------------------------------------------------------------
# The summary table of a benchmark run.


def read_eval_results(path):
  """{key: value} from an eval_results.txt (`key = value` lines); numbers as
  floats."""
  results = {}
  with tf.io.gfile.GFile(path) as f:
    for line in f:
      key, separator, value = line.rstrip("\n").partition(" = ")
      if not separator:
        continue
      try:
        results[key] = float(value)
      except ValueError:
        results[key] = value
  return results


def _task_results(task_dir):
  """(results, path) of the best checkpoint's evaluation, else the latest."""
  for path in (os.path.join(task_dir, "best", "eval_results.txt"),
               os.path.join(task_dir, "eval_results.txt")):
    if tf.io.gfile.exists(path):
      return read_eval_results(path), path
  return None, None


def summarize(output_root, task_names):
  """One row per task: its main metric, every eval_* metric, the checkpoint.

  Reads `<output_root>/<task>/` as run_glue.sh and run_clue.sh lay it out;
  writes `<output_root>/summary.tsv` and returns the table as aligned text.
  """
  header = ["task", "main metric", "value", "all metrics", "checkpoint"]
  rows = []
  for task_name in task_names:
    results, _ = _task_results(os.path.join(output_root, task_name))
    if results is None:
      rows.append([task_name, "-", "-", "no dev evaluation", "-"])
      continue
    main = classifier_metrics.task_metrics(task_name).main_key
    value = results.get(main)
    metrics = " ".join(
        "%s=%.4f" % (key[len("eval_"):], results[key]) for key in sorted(
            results) if key.startswith("eval_") and isinstance(
                results[key], float))
    rows.append([task_name, main[len("eval_"):],
                 "%.4f" % value if isinstance(value, float) else "-", metrics,
                 str(results.get("checkpoint", "-"))])
  gfile_utils.write_lines(os.path.join(output_root, "summary.tsv"),
                            ["\t".join(row) for row in [header] + rows])
  widths = [max(len(row[i]) for row in [header] + rows)
            for i in range(len(header))]
  return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(
      row, widths)).rstrip() for row in [header] + rows)


def collect_submission_files(output_root, task_names):
  """Copies each task's leaderboard / submission file into
  `<output_root>/submission/`; returns the copied paths."""
  target_dir = os.path.join(output_root, "submission")
  copied = []
  for task_name in task_names:
    name = leaderboard_file_name(task_name)
    if name is None:
      name = "%s_predict.json" % task_name.lower()
    source = os.path.join(output_root, task_name, name)
    if tf.io.gfile.exists(source):
      tf.io.gfile.makedirs(target_dir)
      target = os.path.join(target_dir, name)
      tf.io.gfile.copy(source, target, overwrite=True)
      copied.append(target)
  return copied


def copy_trained_model(source_dir, target_dir):
  """Puts source_dir's best (else latest) checkpoint in target_dir/best/.

  run_glue.sh evaluates MNLI-mm and predicts AX with the model trained on
  MNLI this way: each gets its own output directory (results, caches, the
  leaderboard file) around a copy of the trained checkpoint.
  """
  checkpoint = (tf.train.latest_checkpoint(os.path.join(source_dir, "best"))
                or tf.train.latest_checkpoint(source_dir))
  if not checkpoint:
    raise ValueError("%s holds no trained checkpoint to reuse: did its "
                     "training run finish?" % source_dir)
  best_dir = os.path.join(target_dir, "best")
  tmp_dir = gfile_utils.fresh_dir(gfile_utils.temporary_dir(best_dir))
  estimator_utils.copy_checkpoint(checkpoint, tmp_dir)
  gfile_utils.replace_dir(tmp_dir, best_dir, last=("checkpoint",))
  return os.path.join(best_dir, os.path.basename(checkpoint))


_USAGE = """usage:
  python glue_data.py summary OUTPUT_ROOT TASK [TASK...]
      prints the summary table (also written to OUTPUT_ROOT/summary.tsv) and
      copies the tasks' leaderboard/submission files to OUTPUT_ROOT/submission/
  python glue_data.py copy_trained_model SOURCE_DIR TARGET_DIR
      copies SOURCE_DIR's best (else latest) checkpoint to TARGET_DIR/best/"""


def main(argv):
  command, arguments = (argv[1], argv[2:]) if len(argv) > 1 else (None, [])
  if command == "summary" and len(arguments) >= 2:
    print(summarize(arguments[0], arguments[1:]))
    for path in collect_submission_files(arguments[0], arguments[1:]):
      print("submission file: %s" % path)
  elif command == "copy_trained_model" and len(arguments) == 2:
    print(copy_trained_model(*arguments))
  else:
    raise app.UsageError(_USAGE)


if __name__ == "__main__":
  app.run(main)
