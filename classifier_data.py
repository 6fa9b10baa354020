# coding=utf-8
"""Fine-tuning data for run_classifier.py: task readers, features, caches, batches.

What lives here:
  * One processor per task (`lcqmc`/`lcqmc_pair`, `xnli`, `afqmc`, `tnews`,
    `iflytek`, `cmnli`, `csl`, and `generic_single`/`generic_pair` for a user's own
    TSV or JSON-lines data). A processor reads the train/dev/test files of
    `data_dir` into `InputExample`s, detects header lines instead of dropping the
    first line blindly (albert_zh lost the first LCQMC pair of every file), and
    reports malformed rows with `file:line`; with `skip_bad_rows` they are skipped
    and counted, otherwise reading stops with an error before training starts.
  * BERT-style feature conversion (`[CLS] a [SEP] b [SEP]`, longest-first pair
    truncation).
  * TFRecord caches named by a fingerprint of the data files, the vocabulary, the
    tokenizer casing, max_seq_length, the task and its labels, so a cache is rebuilt
    whenever any of them changes (the original silently reused a stale file).
    Records hold unpadded sequences under BERT's feature names.
  * Input functions that batch by length: training batches come from length
    buckets; eval/predict records can be stored sorted by length (each keeps
    its `example_index`, so predictions go back to file order) and are batched
    in that order; every batch is padded to its longest example. LCQMC
    questions are short, so this does far less work than padding every example
    to max_seq_length; `dynamic_length=False` restores the fixed shapes TPUs
    need.
"""

import abc
import collections
import dataclasses
import glob
import hashlib
import json
import os
import re
from typing import List, Optional

import tensorflow.compat.v1 as tf

import estimator_utils

# Bump when the record layout or the conversion changes: old caches then miss.
CACHE_FORMAT_VERSION = 2

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


class PaddingInputExample:
  """A fake example that pads eval/predict sets to a multiple of the batch size.

  TPUs need every batch full; these examples get is_real_example=0 and are left
  out of metrics and outputs.
  """


@dataclasses.dataclass
class InputFeatures:
  """Token ids of one example, unpadded (length = number of real tokens).

  example_index is the example's position in its split, so predictions made
  in length-sorted order can be put back in file order.
  """
  input_ids: List[int]
  input_mask: List[int]
  segment_ids: List[int]
  label_id: int
  is_real_example: bool = True
  example_index: int = 0


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
  """Yields (line_number, text) for each non-blank line of a UTF-8 file.

  Lines are decoded one at a time so an encoding error can name its line; a
  leading byte-order mark is removed.
  """
  with tf.io.gfile.GFile(path, "rb") as f:
    for line_number, raw in enumerate(f, start=1):
      if line_number == 1 and raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
      try:
        text = raw.decode("utf-8")
      except UnicodeDecodeError as e:
        yield line_number, _BadRow("not valid UTF-8 (%s)" % e.reason)
        continue
      text = text.rstrip("\r\n")
      if text.strip():
        yield line_number, text


def _is_name_like(field):
  return field.strip().lower() in KNOWN_COLUMN_NAMES


def _tsv_records(path, is_header):
  """Yields (line_number, fields or _BadRow); a first line passing is_header is
  skipped (and logged) rather than read as data."""
  first = True
  for line_number, line in _read_lines(path):
    if isinstance(line, _BadRow):
      yield line_number, line
    else:
      fields = line.split("\t")
      if first and is_header(fields):
        tf.logging.info("%s:%d: skipping header %r", path, line_number, line)
      else:
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


def _is_tsv_header(fields, is_pair, labels):
  """A header names its columns and its label column holds no valid label.

  Args:
    labels: the valid labels, or None while they are still being collected.
  """
  if not any(_is_name_like(field) for field in fields):
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
        path, lambda fields: _is_tsv_header(fields, True, self.get_labels()))

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
    header_line, header = next(lines, (1, None))
    if not isinstance(header, str):
      raise BadRowsError("%s:%d: expected a header row naming the columns" %
                         (path, header_line))
    columns = header.split("\t")
    needed = self._TSV_COLUMNS[split]
    missing = [name for name in needed if name not in columns]
    if missing:
      raise BadRowsError(
          "%s:%d: header lacks column(s) %s; found %s. Is this an XNLI 1.0 "
          "file?" % (path, header_line, ", ".join(missing), ", ".join(columns)))
    indices = [columns.index(name) for name in needed]
    language_index = columns.index("language") if "language" in columns else None
    for line_number, line in lines:
      if isinstance(line, _BadRow):
        yield line_number, line
        continue
      fields = line.split("\t")
      if len(fields) != len(columns):
        yield line_number, _BadRow(
            "expected %d tab-separated columns as in the header, found %d" %
            (len(columns), len(fields)))
      elif language_index is None or fields[language_index] == self.language:
        yield line_number, {key: fields[index]
                            for key, index in zip(self._KEYS, indices)}

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
        path, lambda fields: _is_tsv_header(fields, self.is_pair, self._labels))

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
}

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
  if isinstance(example, PaddingInputExample):
    return InputFeatures(input_ids=[0], input_mask=[0], segment_ids=[0],
                         label_id=0, is_real_example=False)
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


def pad_examples(examples, multiple):
  """Appends PaddingInputExamples so len(examples) is a multiple of `multiple`."""
  remainder = len(examples) % multiple
  if remainder:
    examples = examples + [PaddingInputExample()] * (multiple - remainder)
  return examples


def _int64_feature(values):
  return tf.train.Feature(int64_list=tf.train.Int64List(value=list(values)))


def features_to_tf_example(features):
  """A tf.train.Example with BERT's classifier feature names, unpadded."""
  return tf.train.Example(features=tf.train.Features(feature={
      "input_ids": _int64_feature(features.input_ids),
      "input_mask": _int64_feature(features.input_mask),
      "segment_ids": _int64_feature(features.segment_ids),
      "label_ids": _int64_feature([features.label_id]),
      "is_real_example": _int64_feature([int(features.is_real_example)]),
      "example_index": _int64_feature([features.example_index]),
  }))


# ----------------------------------------------------------------------------
# Fingerprinted caches
# ----------------------------------------------------------------------------


def _hash_file(digest, path):
  with tf.io.gfile.GFile(path, "rb") as f:
    for block in iter(lambda: f.read(1 << 20), b""):
      digest.update(block)


def cache_fingerprint(task_name, split, data_files, vocab_files, label_list,
                      max_seq_length, do_lower_case, skip_bad_rows,
                      pad_to_multiple=1, sort_by_length=False):
  """A hex digest of everything that decides a split's features.

  Any change to the data or vocabulary contents, the casing, max_seq_length,
  the task, its labels, the bad-row policy, the TPU padding or the record
  order gives another fingerprint, hence another cache file.
  """
  digest = hashlib.sha256()
  settings = dict(version=CACHE_FORMAT_VERSION, task=task_name.lower(),
                  split=split, labels=list(label_list),
                  max_seq_length=max_seq_length,
                  do_lower_case=bool(do_lower_case),
                  skip_bad_rows=bool(skip_bad_rows),
                  pad_to_multiple=pad_to_multiple,
                  sort_by_length=bool(sort_by_length))
  digest.update(json.dumps(settings, sort_keys=True).encode("utf-8"))
  for path in list(data_files) + [p for p in vocab_files if p]:
    digest.update(("\0file:%s\0" % os.path.basename(path)).encode("utf-8"))
    _hash_file(digest, path)
  return digest.hexdigest()[:20]


FeaturesFile = collections.namedtuple(
    "FeaturesFile", ["path", "num_examples", "num_real_examples", "from_cache"])


def _cache_paths(cache_dir, split, fingerprint):
  base = os.path.join(cache_dir, "%s.%s.tf_record" % (split, fingerprint))
  return base, base + ".json"


def _remove_stale_caches(cache_dir, split, keep):
  for path in glob.glob(os.path.join(cache_dir, "%s.*.tf_record*" % split)):
    if not path.startswith(keep):
      tf.logging.info("Removing stale feature cache %s", path)
      tf.io.gfile.remove(path)


def _convert_all(examples, label_list, max_seq_length, tokenizer, split):
  """Yields the InputFeatures of each example, numbered, logging progress."""
  label_map = {label: i for i, label in enumerate(label_list)}
  for index, example in enumerate(examples):
    if index and index % 10000 == 0:
      tf.logging.info("Converting %s examples: %d of %d", split, index,
                      len(examples))
    features = convert_single_example(example, label_map, max_seq_length,
                                      tokenizer)
    features.example_index = index
    yield features


def prepare_features_file(examples_fn, fingerprint, cache_dir, split,
                          label_list, max_seq_length, tokenizer,
                          pad_to_multiple=1, sort_by_length=False):
  """Returns a FeaturesFile for a split, converting only on a cache miss.

  Args:
    examples_fn: callable returning the split's InputExamples; not called
      when a cache with this fingerprint exists.
    fingerprint: from cache_fingerprint().
    cache_dir: where caches live (output_dir in run_classifier).
    split: "train", "dev" or "test" (names the file).
    label_list, max_seq_length, tokenizer: as for convert_single_example.
    pad_to_multiple: pad with fake examples to this multiple (TPU eval/predict).
    sort_by_length: write records shortest first (stable), so that
      consecutive eval/predict batches hold similar lengths and padding to the
      longest of a batch costs little; `example_index` restores file order.

  The record file is written under a temporary name and renamed; the JSON
  sidecar with the counts is renamed last, so a cache is complete exactly when
  the sidecar exists.
  """
  record_path, meta_path = _cache_paths(cache_dir, split, fingerprint)
  if tf.io.gfile.exists(meta_path) and tf.io.gfile.exists(record_path):
    with tf.io.gfile.GFile(meta_path, "r") as f:
      meta = json.load(f)
    tf.logging.info("Using cached %s features %s (%d examples)", split,
                    record_path, meta["num_examples"])
    return FeaturesFile(record_path, meta["num_examples"],
                        meta["num_real_examples"], True)
  tf.io.gfile.makedirs(cache_dir)
  examples = examples_fn()
  num_real = len(examples)
  if pad_to_multiple > 1:
    examples = pad_examples(examples, pad_to_multiple)
  all_features = _convert_all(examples, label_list, max_seq_length, tokenizer,
                              split)
  if sort_by_length:
    all_features = sorted(all_features, key=lambda f: len(f.input_ids))
  tmp_record = record_path + ".tmp"
  with tf.io.TFRecordWriter(tmp_record) as writer:
    for features in all_features:
      writer.write(features_to_tf_example(features).SerializeToString())
  meta = dict(num_examples=len(examples), num_real_examples=num_real,
              fingerprint=fingerprint, max_seq_length=max_seq_length,
              labels=list(label_list))
  tmp_meta = meta_path + ".tmp"
  with tf.io.gfile.GFile(tmp_meta, "w") as f:
    json.dump(meta, f, ensure_ascii=False)
  tf.io.gfile.rename(tmp_record, record_path, overwrite=True)
  tf.io.gfile.rename(tmp_meta, meta_path, overwrite=True)
  _remove_stale_caches(cache_dir, split, keep=record_path)
  tf.logging.info("Wrote %d %s features to %s", len(examples), split,
                  record_path)
  return FeaturesFile(record_path, len(examples), num_real, False)


# ----------------------------------------------------------------------------
# Input functions
# ----------------------------------------------------------------------------

SEQUENCE_KEYS = ("input_ids", "input_mask", "segment_ids")


def default_bucket_boundaries(max_seq_length):
  """Length buckets for training: fine steps for short texts, coarser later."""
  candidates = [16, 24, 32, 40, 48, 64, 80, 96, 128, 160, 192, 256, 320, 384,
                448]
  return [b for b in candidates if b < max_seq_length]


def decode_record(serialized):
  """Parses one record into int32 tensors (TPUs lack int64 support)."""
  spec = {key: tf.io.FixedLenSequenceFeature([], tf.int64, allow_missing=True)
          for key in SEQUENCE_KEYS}
  spec["label_ids"] = tf.io.FixedLenFeature([], tf.int64)
  spec["is_real_example"] = tf.io.FixedLenFeature([], tf.int64)
  spec["example_index"] = tf.io.FixedLenFeature([], tf.int64)
  parsed = tf.io.parse_single_example(serialized, spec)
  return {key: tf.cast(value, tf.int32) for key, value in parsed.items()}


def _pad_to_fixed_length(max_seq_length):
  def pad(features):
    padded = dict(features)
    for key in SEQUENCE_KEYS:
      value = features[key][:max_seq_length]
      value = tf.pad(value, [[0, max_seq_length - tf.shape(value)[0]]])
      padded[key] = tf.reshape(value, [max_seq_length])
    return padded
  return pad


def _padded_shapes():
  shapes = {key: [None] for key in SEQUENCE_KEYS}
  shapes.update(label_ids=[], is_real_example=[], example_index=[])
  return shapes


def batch_dataset(dataset, batch_size, is_training, drop_remainder,
                  max_seq_length, dynamic_length=True, bucket_boundaries=None):
  """Batches decoded examples.

  dynamic_length: training draws each batch from one length bucket; eval and
  predict keep file order (written sorted by length, see
  prepare_features_file). Either way a batch is padded to its longest example.
  Otherwise every example is padded to max_seq_length (static shapes).
  """
  if not dynamic_length:
    dataset = dataset.map(_pad_to_fixed_length(max_seq_length))
    return dataset.batch(batch_size, drop_remainder=drop_remainder)
  if not is_training:
    return dataset.padded_batch(batch_size, padded_shapes=_padded_shapes(),
                                drop_remainder=drop_remainder)
  boundaries = (bucket_boundaries if bucket_boundaries is not None
                else default_bucket_boundaries(max_seq_length))
  return dataset.bucket_by_sequence_length(
      element_length_func=lambda features: tf.shape(features["input_ids"])[0],
      bucket_boundaries=boundaries,
      bucket_batch_sizes=[batch_size] * (len(boundaries) + 1),
      padded_shapes=_padded_shapes(),
      drop_remainder=drop_remainder)


def features_dataset(input_file, batch_size, max_seq_length, is_training,
                     drop_remainder, dynamic_length=True, bucket_boundaries=None,
                     shuffle_buffer=10000, input_context=None):
  """A batched dataset over a features file.

  Args:
    input_context: a tf.distribute.InputContext when several input pipelines
      feed a MirroredStrategy; each then reads its own shard of the records.
  """
  dataset = tf.data.TFRecordDataset(input_file)
  if input_context is not None and input_context.num_input_pipelines > 1:
    dataset = dataset.shard(input_context.num_input_pipelines,
                            input_context.input_pipeline_id)
  if is_training:
    dataset = dataset.repeat().shuffle(buffer_size=shuffle_buffer)
  dataset = dataset.map(decode_record,
                        num_parallel_calls=tf.data.experimental.AUTOTUNE)
  dataset = batch_dataset(dataset, batch_size, is_training, drop_remainder,
                          max_seq_length, dynamic_length, bucket_boundaries)
  return dataset.prefetch(tf.data.experimental.AUTOTUNE)


def file_based_input_fn_builder(input_file, max_seq_length, is_training,
                                drop_remainder, dynamic_length=True,
                                bucket_boundaries=None, shuffle_buffer=10000):
  """Returns an Estimator input_fn over a features file (batch size in params;
  split between MirroredStrategy replicas)."""

  def dataset_fn(batch_size, input_context):
    return features_dataset(input_file, batch_size, max_seq_length, is_training,
                            drop_remainder, dynamic_length, bucket_boundaries,
                            shuffle_buffer, input_context)

  return estimator_utils.input_fn_from_dataset_fn(dataset_fn)
