# coding=utf-8
"""Sentence(-pair) classification data for run_classifier.py: task readers
and features.

What lives here:
  * One processor per task (`lcqmc`/`lcqmc_pair`, `xnli`, `afqmc`, `tnews`,
    `iflytek`, `cmnli`, `csl`, and `generic_single`/`generic_pair` for a user's own
    TSV or JSON-lines data). A processor reads the train/dev/test files of
    `data_dir` into `InputExample`s, detects header lines instead of dropping the
    first line blindly (albert_zh lost the first LCQMC pair of every file), and
    reports malformed rows with `file:line`; with `skip_bad_rows` they are skipped
    and counted, otherwise reading stops with an error before training starts.
  * BERT-style feature conversion (`[CLS] a [SEP] b [SEP]`, longest-first pair
    truncation) into finetune_data records under BERT's feature names; caching
    and batching are finetune_data's.
"""

import abc
import dataclasses
import json
import os
import re
from typing import List, Optional

import tensorflow.compat.v1 as tf

import gfile_utils


# Header fields we recognise (compared lower-cased). A first line counts as a
# header when one of its fields is such a name and its label field is not a label.
KNOWN_COLUMN_NAMES = frozenset([
    "text", "text_a", "text_b", "texta", "textb", "sentence", "sentence1",
    "sentence2", "sentence_a", "sentence_b", "query", "query1", "query2",
    "question", "question1", "question2", "premise", "hypo", "hypothesis",
    "label", "labels", "gold_label", "id", "guid", "index", "language",
    "文本", "句子", "句子1", "句子2", "问题", "问题1", "问题2", "标签",
])

# How many bad rows an error message lists before summarising the rest.
_BAD_ROWS_SHOWN = 10


class BadRowsError(ValueError):
  """Raised when a data file has malformed rows and skip_bad_rows is off."""


class _BadRow(Exception):
  """Internal: one row could not be turned into an example (message = reason)."""


@dataclasses.dataclass
class InputExample:
  """A single training/test example for sequence (pair) classification.

  Attributes:
    guid: unique id, "<split>-<n>" or the data set's own id when it has one.
    text_a: the first (or only) text.
    text_b: the second text of a pair task, None for single-text tasks.
    label: label string; None for unlabelled test examples.
  """
  guid: str
  text_a: str
  text_b: Optional[str] = None
  label: Optional[str] = None


@dataclasses.dataclass
class InputFeatures:
  """Token ids of one example, unpadded (length = number of real tokens)."""
  input_ids: List[int]
  input_mask: List[int]
  segment_ids: List[int]
  label_id: int


@dataclasses.dataclass
class BadRow:
  """Where and why a row was rejected."""
  path: str
  line_number: int
  reason: str

  def __str__(self):
    return "%s:%d: %s" % (self.path, self.line_number, self.reason)


# ----------------------------------------------------------------------------
# Low-level readers
# ----------------------------------------------------------------------------


def _read_lines(path):
  """Yields (line_number, text or _BadRow) for each non-blank line."""
  for line_number, text in gfile_utils.utf8_lines(path):
    if isinstance(text, UnicodeDecodeError):
      yield line_number, _BadRow("not valid UTF-8 (%s)" % text.reason)
    elif text.strip():
      yield line_number, text


def read_tsv_header(lines, path, needed, hint):
  """The column names of the header `lines` starts with.

  Raises BadRowsError naming the file and line when there is no header or it
  lacks a column of `needed`; `hint` says what file was expected.
  """
  header_line, header = next(lines, (1, None))
  if not isinstance(header, str):
    raise BadRowsError("%s:%d: expected a header row naming the columns. %s" %
                       (path, header_line, hint))
  columns = header.split("\t")
  missing = [name for name in needed if name not in columns]
  if missing:
    raise BadRowsError("%s:%d: header lacks column(s) %s; found %s. %s" % (
        path, header_line, ", ".join(missing), ", ".join(columns), hint))
  return columns


def tsv_rows_by_columns(lines, columns, indices, keep=lambda fields: True):
  """Yields (line_number, {key: field} or _BadRow) for the rows of `lines`.

  indices: {record key: column index}; a row with another column count than
  `columns` is a bad row; rows failing `keep` are left out (e.g. XNLI's other
  languages).
  """
  for line_number, line in lines:
    if isinstance(line, _BadRow):
      yield line_number, line
      continue
    fields = line.split("\t")
    if len(fields) != len(columns):
      yield line_number, _BadRow(
          "expected %d tab-separated columns (%s), found %d" % (
              len(columns), ", ".join(columns), len(fields)))
    elif keep(fields):
      yield line_number, {key: fields[index] for key, index in indices.items()}


def _is_name_like(field):
  return field.strip().lower() in KNOWN_COLUMN_NAMES


def _tsv_records(path, is_header):
  """Yields (line_number, fields or _BadRow); a first line passing is_header is
  skipped rather than read as data.

  Both outcomes are WARNINGs when the first line holds a column name: a
  skipped row shifts predictions against the file's lines, a kept one may be
  a header the rules did not recognise.
  """
  first = True
  for line_number, line in _read_lines(path):
    if isinstance(line, _BadRow):
      yield line_number, line
    else:
      fields = line.split("\t")
      if first and is_header(fields):
        tf.logging.warning("%s:%d: skipping header %r (not read as data)",
                           path, line_number, line)
      else:
        if first and any(_is_name_like(field) for field in fields):
          tf.logging.warning(
              "%s:%d: first row %r read as data although it holds a column "
              "name (a header needs every field to be a column name, or in a "
              "labelled file no valid label)", path, line_number, line)
        yield line_number, fields
    first = False


def _json_records(path):
  """Yields (line_number, dict or _BadRow) for a JSON-lines file."""
  for line_number, line in _read_lines(path):
    if isinstance(line, _BadRow):
      yield line_number, line
      continue
    try:
      record = json.loads(line)
    except ValueError as e:
      yield line_number, _BadRow("invalid JSON (%s)" % e)
      continue
    if not isinstance(record, dict):
      yield line_number, _BadRow("expected a JSON object, found %s" %
                                 type(record).__name__)
      continue
    yield line_number, record


def _json_text(record, key):
  if key not in record:
    raise _BadRow("missing key %r" % key)
  value = record[key]
  if not isinstance(value, str):
    raise _BadRow("key %r should hold a string, found %r" % (key, value))
  return value


def _json_label(record, key, split):
  if key not in record:
    if split == "test":
      return None
    raise _BadRow("missing key %r" % key)
  # CLUE writes labels as strings, other tools as numbers: compare as text.
  return str(record[key]).strip()


def _json_guid(record):
  return str(record["id"]) if "id" in record else None


def _parse_tsv_fields(fields, is_pair, split):
  """(text_a, text_b, label, None) from `text_a[<TAB>text_b]<TAB>label`.

  The label column is optional in test files.
  """
  num_text = 2 if is_pair else 1
  allowed = (num_text, num_text + 1) if split == "test" else (num_text + 1,)
  if len(fields) not in allowed:
    names = ["text_a", "text_b", "label"] if is_pair else ["text_a", "label"]
    raise _BadRow("expected %s tab-separated columns (%s), found %d" % (
        " or ".join(str(n) for n in allowed), ", ".join(names), len(fields)))
  text_b = fields[1] if is_pair else None
  label = fields[num_text].strip() if len(fields) > num_text else None
  return fields[0], text_b, label, None


def _is_tsv_header(fields, is_pair, labels, labelled=True):
  """Whether the first row of a TSV file is a header rather than data.

  A row whose every field is a column name is a header. In a labelled file
  (train/dev) a row is also one when some field is a column name and its
  label column holds no valid label (it could not be read as data anyway).
  Files without labels (test) use the first rule only: their label column,
  if any, is not checked, so a placeholder there is no evidence, and a real
  row such as `问题<TAB>答案是什么` must not be lost.

  Args:
    labels: the valid labels, or None while they are still being collected.
    labelled: False for files whose labels are not read (test files).
  """
  is_name = [_is_name_like(field) for field in fields]
  if all(is_name):
    return True
  if not labelled or not any(is_name):
    return False
  num_text = 2 if is_pair else 1
  if len(fields) > num_text and labels is not None:
    return fields[num_text].strip() not in labels
  return True


class DataProcessor(abc.ABC):
  """Base class: reads a task's files into InputExamples.

  Subclasses say which files hold each split (`split_files`), how a file is
  split into records (`_records`), and how a record becomes
  (text_a, text_b, label, guid) (`_parse_record`). This class does the shared
  parts: validation, bad-row reporting and guids.
  """

  # Whether examples carry a second text.
  is_pair = True
  # Labels that mean "no gold label": such rows are dropped (CMNLI's "-").
  dropped_labels = frozenset()

  def __init__(self, skip_bad_rows=False):
    self.skip_bad_rows = skip_bad_rows
    # Rows rejected by the last get_examples call (filled when skipping).
    self.bad_rows = []
    self.num_dropped = 0

  @abc.abstractmethod
  def get_labels(self):
    """Returns the list of label strings; its order fixes the label ids."""

  @abc.abstractmethod
  def split_files(self, data_dir, split):
    """Returns the files that make up `split` ("train", "dev" or "test")."""

  @abc.abstractmethod
  def _records(self, path, split):
    """Yields (line_number, record or _BadRow) for the data rows of a file."""

  @abc.abstractmethod
  def _parse_record(self, record, split):
    """Returns (text_a, text_b, label, guid or None); raises _BadRow."""

  def get_train_examples(self, data_dir):
    return self.get_examples(data_dir, "train")

  def get_dev_examples(self, data_dir):
    return self.get_examples(data_dir, "dev")

  def get_test_examples(self, data_dir):
    return self.get_examples(data_dir, "test")

  def get_examples(self, data_dir, split):
    """Reads every file of `split`; raises BadRowsError on malformed rows."""
    examples = []
    self.bad_rows = []
    self.num_dropped = 0
    paths = self.split_files(data_dir, split)
    for path in paths:
      for line_number, record in self._records(path, split):
        try:
          example = self._make_example(record, split, len(examples))
        except _BadRow as e:
          self.bad_rows.append(BadRow(path, line_number, str(e)))
          continue
        if example is None:
          self.num_dropped += 1
        else:
          examples.append(example)
    self._report_bad_rows(split)
    if self.num_dropped:
      tf.logging.info("Dropped %d %s rows without a gold label (%s)",
                      self.num_dropped, split,
                      ", ".join(sorted(self.dropped_labels)))
    tf.logging.info("Read %d %s examples from %s", len(examples), split,
                    ", ".join(paths))
    return examples

  def _make_example(self, record, split, index):
    if isinstance(record, _BadRow):
      raise record
    text_a, text_b, label, guid = self._parse_record(record, split)
    if label is not None and label in self.dropped_labels:
      return None
    if not text_a or not text_a.strip():
      raise _BadRow("empty text_a")
    if self.is_pair and (text_b is None or not text_b.strip()):
      raise _BadRow("empty text_b (this is a sentence-pair task)")
    if split == "test":
      # Test labels are never used; many test sets carry none or placeholders.
      label = None
    elif label is None or label not in self.get_labels():
      raise _BadRow("unknown label %r (expected one of: %s)" %
                    (label, ", ".join(self.get_labels())))
    return InputExample(guid=guid or "%s-%d" % (split, index),
                        text_a=text_a, text_b=text_b, label=label)

  def _report_bad_rows(self, split):
    if not self.bad_rows:
      return
    shown = "\n  ".join(str(row) for row in self.bad_rows[:_BAD_ROWS_SHOWN])
    more = len(self.bad_rows) - _BAD_ROWS_SHOWN
    if more > 0:
      shown += "\n  ... and %d more" % more
    if self.skip_bad_rows:
      tf.logging.warning("Skipped %d malformed %s rows (--skip_bad_rows):\n  %s",
                         len(self.bad_rows), split, shown)
      return
    raise BadRowsError(
        "%d malformed %s rows:\n  %s\nFix these rows or pass --skip_bad_rows "
        "to skip them." % (len(self.bad_rows), split, shown))


class JsonLinesProcessor(DataProcessor):
  """CLUE's format: `<split>.json`, one JSON object per line."""

  text_a_key = "sentence1"
  text_b_key = "sentence2"
  label_key = "label"

  def split_files(self, data_dir, split):
    return [os.path.join(data_dir, split + ".json")]

  def _records(self, path, split):
    return _json_records(path)

  def _parse_record(self, record, split):
    text_a = _json_text(record, self.text_a_key)
    text_b = _json_text(record, self.text_b_key) if self.is_pair else None
    return (text_a, text_b, _json_label(record, self.label_key, split),
            _json_guid(record))


# ----------------------------------------------------------------------------
# Tasks
# ----------------------------------------------------------------------------


class LcqmcProcessor(DataProcessor):
  """LCQMC: train.txt/dev.txt/test.txt, `text_a<TAB>text_b<TAB>label` (0/1)."""

  def get_labels(self):
    return ["0", "1"]

  def split_files(self, data_dir, split):
    return [os.path.join(data_dir, split + ".txt")]

  def _records(self, path, split):
    return _tsv_records(
        path, lambda fields: _is_tsv_header(fields, True, self.get_labels(),
                                            labelled=split != "test"))

  def _parse_record(self, record, split):
    return _parse_tsv_fields(record, True, split)


class AfqmcProcessor(JsonLinesProcessor):
  """CLUE AFQMC: sentence1, sentence2, label 0/1."""

  def get_labels(self):
    return ["0", "1"]


class CmnliProcessor(JsonLinesProcessor):
  """CLUE CMNLI: sentence1, sentence2, label; "-" (no gold label) is dropped."""

  dropped_labels = frozenset(["-"])

  def get_labels(self):
    return ["contradiction", "entailment", "neutral"]


class TnewsProcessor(JsonLinesProcessor):
  """CLUE TNEWS: sentence, label 100..116 (105 and 111 are unused)."""

  is_pair = False
  text_a_key = "sentence"

  def get_labels(self):
    return [str(code) for code in range(100, 117) if code not in (105, 111)]


class IflytekProcessor(JsonLinesProcessor):
  """CLUE IFLYTEK: sentence, label "0".."118"."""

  is_pair = False
  text_a_key = "sentence"

  def get_labels(self):
    return [str(code) for code in range(119)]


class CslProcessor(JsonLinesProcessor):
  """CLUE CSL: is the keyword list right for the abstract? label 0/1.

  As in CLUE's baseline, text_a is the keywords joined by spaces and text_b the
  abstract.
  """

  def get_labels(self):
    return ["0", "1"]

  def _parse_record(self, record, split):
    keywords = record.get("keyword")
    if not isinstance(keywords, list) or not all(
        isinstance(k, str) for k in keywords):
      raise _BadRow("key 'keyword' should hold a list of strings, found %r" %
                    (keywords,))
    return (" ".join(keywords), _json_text(record, "abst"),
            _json_label(record, self.label_key, split), _json_guid(record))


class OcnliProcessor(CmnliProcessor):
  """CLUE OCNLI: sentence1, sentence2, label; "-" (no majority) is dropped.

  The release names its training file train.50k.json (train.json is read
  when present).
  """

  def split_files(self, data_dir, split):
    if split != "train":
      return super().split_files(data_dir, split)
    candidates = [os.path.join(data_dir, name)
                  for name in ("train.json", "train.50k.json")]
    for path in candidates:
      if tf.io.gfile.exists(path):
        return [path]
    raise FileNotFoundError("No OCNLI training file: looked for %s." %
                            ", ".join(candidates))


class Cluewsc2020Processor(JsonLinesProcessor):
  """CLUE WSC 2020: does the pronoun (span2) refer to the noun (span1)?

  As CLUE's baseline does, the spans are marked in the text itself: the noun
  between underscores, the pronoun in square brackets, e.g.
  "_小明_说[他]饿了" for span1 "小明" at 0 and span2 "他" at 3. Labels are
  "true"/"false" in CLUE's order; the id is the record's `idx`.
  """

  is_pair = False

  def get_labels(self):
    return ["true", "false"]

  def _parse_record(self, record, split):
    text = _json_text(record, "text")
    target = record.get("target")
    if not isinstance(target, dict):
      raise _BadRow("key 'target' should hold an object with span1_text, "
                    "span1_index, span2_text, span2_index; found %r" %
                    (target,))
    noun = self._span(text, target, "span1")
    pronoun = self._span(text, target, "span2")
    first, second = sorted([noun + ("_", "_"), pronoun + ("[", "]")])
    if first[0] + len(first[1]) > second[0]:
      raise _BadRow("target spans %r and %r overlap" % (first[1], second[1]))
    marked = "".join([
        text[:first[0]], first[2], first[1], first[3],
        text[first[0] + len(first[1]):second[0]], second[2], second[1],
        second[3], text[second[0] + len(second[1]):]])
    label = _json_label(record, self.label_key, split)
    guid = str(record["idx"]) if "idx" in record else _json_guid(record)
    return marked, None, label.lower() if label else label, guid

  @staticmethod
  def _span(text, target, name):
    """(start, span text), checked against the text."""
    span_text = target.get(name + "_text")
    start = target.get(name + "_index")
    if not isinstance(span_text, str) or not span_text:
      raise _BadRow("target.%s_text should be a non-empty string, found %r" %
                    (name, span_text))
    if not isinstance(start, int) or isinstance(start, bool) or start < 0:
      raise _BadRow("target.%s_index should be a character offset, found %r"
                    % (name, start))
    found = text[start:start + len(span_text)]
    if found != span_text:
      raise _BadRow("target.%s_text %r is not at text[%d:%d], which holds %r"
                    % (name, span_text, start, start + len(span_text), found))
    return start, span_text


class XnliProcessor(DataProcessor):
  """Chinese XNLI, from CLUE's JSON lines or from the XNLI 1.0 TSV release.

  CLUE: train.json/dev.json/test.json with premise, hypo, label. XNLI 1.0:
  xnli.dev.tsv/xnli.test.tsv (all languages; rows with language "zh" are kept;
  columns found by header name: sentence1, sentence2, gold_label) and the
  machine-translated MultiNLI training file multinli.train.zh.tsv (premise,
  hypo, label), in data_dir or data_dir/multinli/. The CLUE files win when both
  are present.
  """

  language = "zh"
  _KEYS = ("premise", "hypo", "label")
  _TSV_COLUMNS = {"train": ("premise", "hypo", "label"),
                  "dev": ("sentence1", "sentence2", "gold_label"),
                  "test": ("sentence1", "sentence2", "gold_label")}

  def get_labels(self):
    return ["contradiction", "entailment", "neutral"]

  def split_files(self, data_dir, split):
    json_path = os.path.join(data_dir, split + ".json")
    if split == "train":
      name = "multinli.train.%s.tsv" % self.language
      candidates = [os.path.join(data_dir, name),
                    os.path.join(data_dir, "multinli", name)]
    else:
      candidates = [os.path.join(data_dir, "xnli.%s.tsv" % split)]
    for path in [json_path] + candidates:
      if tf.io.gfile.exists(path):
        return [path]
    raise FileNotFoundError(
        "No XNLI %s file in %s: looked for %s. Put CLUE's %s.json or the XNLI "
        "1.0 release files there." % (split, data_dir, ", ".join(
            [json_path] + candidates), split))

  def _records(self, path, split):
    if path.endswith(".json"):
      return _json_records(path)
    return self._tsv_records_by_header(path, split)

  def _tsv_records_by_header(self, path, split):
    lines = _read_lines(path)
    needed = self._TSV_COLUMNS[split]
    columns = read_tsv_header(lines, path, needed, "Is this an XNLI 1.0 file?")
    indices = {key: columns.index(name)
               for key, name in zip(self._KEYS, needed)}
    language_index = columns.index("language") if "language" in columns else None
    return tsv_rows_by_columns(
        lines, columns, indices,
        keep=lambda fields: (language_index is None or
                             fields[language_index] == self.language))

  def _parse_record(self, record, split):
    label = _json_label(record, "label", split)
    # XNLI-MT's translated MultiNLI spells this label differently.
    if label == "contradictory":
      label = "contradiction"
    return (_json_text(record, "premise"), _json_text(record, "hypo"), label,
            _json_guid(record))


class GenericProcessor(DataProcessor):
  """A user's own single-text or text-pair data, TSV or JSON lines.

  Files: train/dev/test with extension .tsv, .jsonl or .json in data_dir. TSV
  rows are `text_a[<TAB>text_b]<TAB>label` (label optional in test); JSON lines
  have keys text_a, text_b (pair tasks) and label. Labels are given to the
  constructor (--labels) or collected from the training file: sorted, as
  numbers when they are all integers, so the ids do not depend on row order.
  """

  EXTENSIONS = (".tsv", ".jsonl", ".json")

  def __init__(self, data_dir, is_pair, labels=None, skip_bad_rows=False):
    super().__init__(skip_bad_rows=skip_bad_rows)
    self.is_pair = is_pair
    self._data_dir = data_dir
    self._labels = list(labels) if labels else None

  def split_files(self, data_dir, split):
    for extension in self.EXTENSIONS:
      path = os.path.join(data_dir, split + extension)
      if tf.io.gfile.exists(path):
        return [path]
    raise FileNotFoundError("No %s file in %s: expected one of %s." % (
        split, data_dir, ", ".join(split + e for e in self.EXTENSIONS)))

  def get_labels(self):
    if self._labels is None:
      self._labels = self._labels_from_training_file()
    return self._labels

  def _records(self, path, split):
    if not path.endswith(".tsv"):
      return _json_records(path)
    return _tsv_records(
        path, lambda fields: _is_tsv_header(fields, self.is_pair, self._labels,
                                            labelled=split != "test"))

  def _parse_record(self, record, split):
    if not isinstance(record, dict):
      return _parse_tsv_fields(record, self.is_pair, split)
    text_a = _json_text(record, "text_a")
    text_b = _json_text(record, "text_b") if self.is_pair else None
    return text_a, text_b, _json_label(record, "label", split), \
        _json_guid(record)

  def _labels_from_training_file(self):
    try:
      path = self.split_files(self._data_dir, "train")[0]
    except FileNotFoundError as e:
      raise ValueError("%s Without a training file pass the labels with "
                       "--labels=a,b,..." % e) from e
    seen = set()
    for _, record in self._records(path, "train"):
      try:
        label = None if isinstance(record, _BadRow) else \
            self._parse_record(record, "train")[2]
      except _BadRow:
        label = None  # reported with its line when the examples are read
      if label:
        seen.add(label)
    if len(seen) < 2:
      raise ValueError("%s holds %d distinct label(s); a classifier needs at "
                       "least 2. Check the label column or pass --labels." %
                       (path, len(seen)))
    if all(re.fullmatch(r"-?\d+", label) for label in seen):
      return sorted(seen, key=int)
    return sorted(seen)


PROCESSORS = {
    "lcqmc": LcqmcProcessor,
    "lcqmc_pair": LcqmcProcessor,
    "xnli": XnliProcessor,
    "afqmc": AfqmcProcessor,
    "tnews": TnewsProcessor,
    "iflytek": IflytekProcessor,
    "cmnli": CmnliProcessor,
    "csl": CslProcessor,
    "ocnli": OcnliProcessor,
    "cluewsc2020": Cluewsc2020Processor,
}

# GLUE's readers (glue_data.py) build on the classes above and add themselves
# to PROCESSORS when imported; importing them here makes every task known.
import glue_data  # pylint: disable=g-import-not-at-top,unused-import,wrong-import-position

# Generic task name -> whether its examples are pairs.
GENERIC_TASKS = {"generic_single": False, "generic_pair": True}


def get_processor(task_name, data_dir=None, labels=None, skip_bad_rows=False):
  """Returns the processor for `task_name` (case-insensitive).

  Args:
    task_name: a key of PROCESSORS.
    data_dir: needed by the generic tasks, which read labels from train data.
    labels: label strings for the generic tasks; None reads them from data.
    skip_bad_rows: skip and count malformed rows instead of failing.
  """
  name = task_name.lower()
  if name in GENERIC_TASKS:
    return GenericProcessor(data_dir, GENERIC_TASKS[name], labels=labels,
                            skip_bad_rows=skip_bad_rows)
  if name not in PROCESSORS:
    raise ValueError("Unknown --task_name=%s; choose one of: %s" % (
        task_name, ", ".join(sorted(list(PROCESSORS) + list(GENERIC_TASKS)))))
  processor_class = PROCESSORS[name]
  if labels:
    raise ValueError("--labels is only for the generic_single/generic_pair "
                     "tasks; %s has fixed labels: %s" %
                     (task_name, ", ".join(processor_class().get_labels())))
  return processor_class(skip_bad_rows=skip_bad_rows)


# ----------------------------------------------------------------------------
# Features
# ----------------------------------------------------------------------------


def truncate_seq_pair(tokens_a, tokens_b, max_length):
  """Trims the longer list one token at a time until both fit (BERT's rule).

  Trimming the longer one keeps as much of the shorter text as possible.
  """
  while len(tokens_a) + len(tokens_b) > max_length:
    if len(tokens_a) > len(tokens_b):
      tokens_a.pop()
    else:
      tokens_b.pop()


def convert_single_example(example, label_map, max_seq_length, tokenizer):
  """Tokenizes one InputExample into unpadded InputFeatures.

  Layout `[CLS] a [SEP] (b [SEP])`, segment 0 up to and including the first
  [SEP]. Unlabelled examples (test data) get label id 0 as a placeholder.
  """
  tokens_a = tokenizer.tokenize(example.text_a)
  tokens_b = tokenizer.tokenize(example.text_b) if example.text_b else None
  if tokens_b is not None:
    truncate_seq_pair(tokens_a, tokens_b, max_seq_length - 3)
  else:
    tokens_a = tokens_a[:max_seq_length - 2]
  tokens = ["[CLS]"] + tokens_a + ["[SEP]"]
  segment_ids = [0] * len(tokens)
  if tokens_b is not None:
    tokens += tokens_b + ["[SEP]"]
    segment_ids += [1] * (len(tokens_b) + 1)
  input_ids = tokenizer.convert_tokens_to_ids(tokens)
  label_id = label_map[example.label] if example.label is not None else 0
  return InputFeatures(input_ids=input_ids, input_mask=[1] * len(input_ids),
                       segment_ids=segment_ids, label_id=label_id)


def classifier_records(examples, label_list, max_seq_length, tokenizer):
  """Yields finetune_data records (FeatureSpec.classifier()) of the examples,
  each with its position as example_index, logging progress."""
  label_map = {label: i for i, label in enumerate(label_list)}
  for index, example in enumerate(examples):
    if index and index % 10000 == 0:
      tf.logging.info("Converting examples: %d of %d", index, len(examples))
    features = convert_single_example(example, label_map, max_seq_length,
                                      tokenizer)
    yield dict(input_ids=features.input_ids, input_mask=features.input_mask,
               segment_ids=features.segment_ids, label_ids=features.label_id,
               example_index=index)
