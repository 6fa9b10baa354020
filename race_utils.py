# coding=utf-8
"""Multiple-choice data for run_race.py: RACE, C3 and CHID readers and features.

What lives here:
  * One reader per task. Each turns a split of `data_dir` into
    `ChoiceExample`s (a context, a question, 2..max_choices choices, the index
    of the right one). Malformed input is reported by file and JSON path
    (`dev.json[12].questions[1]`, `train/high/5.txt.questions[0]`,
    `dev.json:3.content[1] #idiom000042#`) before any training starts; with
    skip_bad_rows such records are skipped and counted instead.
      race: `<split>/{high,middle}/*.txt`, one JSON object per article; a
            question containing `_` is a cloze whose blank the option fills,
            otherwise question and option are joined. The subset (high or
            middle) is kept per example so accuracy can be reported per subset.
      c3:   `<split>.json` (CLUE's copy) or `d-<split>.json` / `m-<split>.json`
            (the C3 release; subsets "d" and "m"): a JSON list of
            `[context lines, [{question, choice, answer}], id]`.
      chid: CLUE's CHID, `<split>.json` JSON lines of {candidates, content}
            with `#idiomNNNNNN#` blanks, answers in `<split>_answer.json`;
            every blank is one example over the line's candidates.
  * Conversion of one example to one record: each choice becomes
    `[CLS] context [SEP] question+choice [SEP]`. The question and option are
    kept whole (only a question+option longer than max_qa_length loses question
    tokens); the context gives way, from the side `truncation_side` names (a
    CHID context keeps a window centred on its blank instead). In a CHID
    context the blank being filled is [MASK] and the text's other blanks are
    [UNK]. Choices are padded to the task's max count and `choice_mask` marks
    the real ones.
  * Answer formats for prediction files: the letter (RACE), the choice text
    (C3), the candidate index (CHID).

Record layout (what run_race.py's FeatureSpec reads): input_ids, input_mask,
segment_ids flattened row-major from [max_choices, L], L the longest choice of
this example (batches are padded per batch, not to max_seq_length); label_ids,
subset_id, example_index scalars; choice_mask [max_choices].
"""

import abc
import dataclasses
import json
import os
import re
from typing import List, Optional

import tensorflow.compat.v1 as tf

import tokenization

# Bump when the record layout or the conversion changes: old caches then miss.
CACHE_FORMAT_VERSION = 1

# RACE answers are letters; choice i is LETTERS[i].
LETTERS = "ABCD"

# How many bad records an error message lists before summarising the rest.
_BAD_RECORDS_SHOWN = 10

TRUNCATION_SIDES = ("right", "left")

# A run of underscores is a cloze blank in RACE (and the odd C3 question).
_BLANK_RE = re.compile(r"_+")
# CHID's idiom blanks.
_IDIOM_TAG_RE = re.compile(r"#idiom\d+#")


@dataclasses.dataclass(frozen=True)
class TaskInfo:
  """Fixed facts of a task.

  Attributes:
    name: the --task_name.
    max_choices: every record is padded to this many choices.
    subsets: subset names; a record stores the index of its example's subset
      ("" = the data has no subsets).
    answer_format: "letter", "text" or "index" (prediction file values).
  """
  name: str
  max_choices: int
  subsets: tuple
  answer_format: str


# CHID lines list 10 candidates in CLUE's release (in-domain ChID); fewer are
# padded, more are reported as bad records.
TASKS = {
    "race": TaskInfo("race", 4, ("high", "middle"), "letter"),
    "c3": TaskInfo("c3", 4, ("", "d", "m"), "text"),
    "chid": TaskInfo("chid", 10, ("",), "index"),
}


def get_task(task_name):
  """The TaskInfo of `task_name` (case-insensitive); names the choices."""
  name = (task_name or "").lower()
  if name not in TASKS:
    raise ValueError("Unknown --task_name=%s; choose one of: %s" %
                     (task_name, ", ".join(sorted(TASKS))))
  return TASKS[name]


@dataclasses.dataclass
class ChoiceExample:
  """One multiple-choice question.

  Attributes:
    guid: the question's id (RACE `<article id>-<n>`, C3 the question's id or
      `<doc id>-<n>`, CHID the blank's tag).
    context: the passage as text pieces; the gaps between consecutive pieces
      are blanks (CHID): gap `target_blank` becomes [MASK] (the blank the
      choices fill), the others [UNK]. RACE and C3 have a single piece.
    question: the question ("" for CHID); a `_` run in it is a cloze blank.
    choices: the choice texts (2..max_choices).
    label: index of the right choice; None for unlabelled test data.
    subset: e.g. "high"/"middle" for RACE, "" when the data has none.
    target_blank: see context; None when the context has no blank.
  """
  guid: str
  context: List[str]
  question: str
  choices: List[str]
  label: Optional[int] = None
  subset: str = ""
  target_blank: Optional[int] = None


class BadRecordsError(ValueError):
  """Raised when a data file has malformed records and skip_bad_rows is off."""


class _Bad(Exception):
  """Internal: one record could not be read (message = the reason)."""


@dataclasses.dataclass
class BadRecord:
  """Where (file and JSON path) and why a record was rejected."""
  where: str
  reason: str

  def __str__(self):
    return "%s: %s" % (self.where, self.reason)


# ----------------------------------------------------------------------------
# JSON helpers
# ----------------------------------------------------------------------------


def _read_text(path):
  """A whole UTF-8 file (a leading byte-order mark removed)."""
  with tf.io.gfile.GFile(path, "rb") as f:
    raw = f.read()
  try:
    return raw.decode("utf-8-sig")
  except UnicodeDecodeError as e:
    raise _Bad("not valid UTF-8 (%s at byte %d)" % (e.reason, e.start))


def _load_json_file(path):
  text = _read_text(path)
  try:
    return json.loads(text)
  except ValueError as e:
    raise _Bad("invalid JSON (%s)" % e)


def _string(value, what):
  if not isinstance(value, str):
    raise _Bad("%s should be a string, found %r" % (what, value))
  return value


def _string_list(value, what, min_count=0, max_count=None):
  if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
    raise _Bad("%s should be a list of strings, found %r" % (what, value))
  if len(value) < min_count or (max_count is not None and
                                len(value) > max_count):
    raise _Bad("%s has %d entries; expected %d to %d" %
               (what, len(value), min_count, max_count))
  return value


# ----------------------------------------------------------------------------
# Readers
# ----------------------------------------------------------------------------


class ChoiceReader(abc.ABC):
  """Base class: reads a task's split into ChoiceExamples.

  Subclasses say which files hold a split (`split_files`) and how a file
  becomes (where, ChoiceExample or _Bad) pairs (`_read_file`); this class
  collects bad records and either raises or skips them.
  """

  task = None  # a TaskInfo

  def __init__(self, skip_bad_rows=False):
    self.skip_bad_rows = skip_bad_rows
    # Records rejected by the last get_examples call.
    self.bad_records = []

  @abc.abstractmethod
  def split_files(self, data_dir, split):
    """Returns the files that make up `split` ("train", "dev" or "test")."""

  @abc.abstractmethod
  def _read_file(self, path, split):
    """Yields (where, ChoiceExample or _Bad) for the records of one file."""

  def get_examples(self, data_dir, split):
    """Reads every file of `split`; raises BadRecordsError on malformed ones."""
    examples = []
    self.bad_records = []
    seen_guids = {}
    paths = self.split_files(data_dir, split)
    for path in paths:
      for where, example in self._read_file(path, split):
        if isinstance(example, _Bad):
          self.bad_records.append(BadRecord(where, str(example)))
        elif example.guid in seen_guids:
          # Predictions are keyed by id: a repeated id would lose one.
          self.bad_records.append(BadRecord(
              where, "id %r repeats the id of %s" %
              (example.guid, seen_guids[example.guid])))
        else:
          seen_guids[example.guid] = where
          examples.append(example)
    self._report_bad_records(split)
    tf.logging.info("Read %d %s %s examples from %d file(s)", len(examples),
                    self.task.name, split, len(paths))
    return examples

  def _report_bad_records(self, split):
    if not self.bad_records:
      return
    shown = "\n  ".join(str(r) for r in self.bad_records[:_BAD_RECORDS_SHOWN])
    more = len(self.bad_records) - _BAD_RECORDS_SHOWN
    if more > 0:
      shown += "\n  ... and %d more" % more
    if self.skip_bad_rows:
      tf.logging.warning("Skipped %d malformed %s records (--skip_bad_rows):"
                         "\n  %s", len(self.bad_records), split, shown)
      return
    raise BadRecordsError(
        "%d malformed %s %s records:\n  %s\nFix them or pass --skip_bad_rows "
        "to skip them." % (len(self.bad_records), self.task.name, split, shown))

  def _labelled(self, split):
    """Whether a split must carry answers (test sets may have none)."""
    return split != "test"


class RaceReader(ChoiceReader):
  """RACE: `<split>/{high,middle}/*.txt`, one JSON article per file."""

  task = TASKS["race"]

  def split_files(self, data_dir, split):
    paths = []
    for subset in self.task.subsets:
      paths.extend(sorted(tf.io.gfile.glob(
          os.path.join(data_dir, split, subset, "*.txt"))))
    if not paths:
      raise ValueError(
          "No RACE files for split %r: expected %s/{high,middle}/*.txt; pass "
          "the RACE directory (holding train/, dev/, test/) as --data_dir." %
          (split, os.path.join(data_dir, split)))
    return paths

  def _read_file(self, path, split):
    subset = os.path.basename(os.path.dirname(path))
    try:
      article = _load_json_file(path)
      if not isinstance(article, dict):
        raise _Bad("expected a JSON object, found %s" % type(article).__name__)
      context = _string(article.get("article"), "article")
      questions = article.get("questions")
      if not isinstance(questions, list):
        raise _Bad("questions should be a list, found %r" % (questions,))
      options = article.get("options")
      if not isinstance(options, list) or len(options) != len(questions):
        raise _Bad("options should be a list with one entry per question "
                   "(%d), found %r" % (len(questions), options))
      answers = article.get("answers")
      if answers is None and not self._labelled(split):
        answers = [None] * len(questions)
      if not isinstance(answers, list) or len(answers) != len(questions):
        raise _Bad("answers should be a list with one letter per question "
                   "(%d), found %r" % (len(questions), answers))
    except _Bad as e:
      yield path, e
      return
    article_id = str(article.get("id") or os.path.basename(path))
    for index, question in enumerate(questions):
      where = "%s.questions[%d]" % (path, index)
      try:
        yield where, ChoiceExample(
            guid="%s-%d" % (article_id, index), context=[context],
            question=_string(question, "the question"),
            choices=_string_list(options[index], "options[%d]" % index, 2,
                                 self.task.max_choices),
            label=self._label(answers[index], len(options[index]), index,
                              split),
            subset=subset)
      except _Bad as e:
        yield where, e

  def _label(self, answer, num_choices, index, split):
    if answer is None and not self._labelled(split):
      return None
    letters = LETTERS[:num_choices]
    if not isinstance(answer, str) or answer.strip().upper() not in letters:
      raise _Bad("answers[%d] is %r; expected one of the letters %s" %
                 (index, answer, ", ".join(letters)))
    return letters.index(answer.strip().upper())


class C3Reader(ChoiceReader):
  """C3: CLUE's `<split>.json` or the release's `d-<split>.json`, `m-...`.

  Each file is a JSON list of documents `[context lines, [questions], id]`;
  a question is {"question", "choice": [2-4 texts], "answer": text (not in
  test files), "id" (CLUE)}.
  """

  task = TASKS["c3"]

  def split_files(self, data_dir, split):
    clue = os.path.join(data_dir, split + ".json")
    if tf.io.gfile.exists(clue):
      return [clue]
    paths = [os.path.join(data_dir, "%s-%s.json" % (subset, split))
             for subset in ("d", "m")]
    paths = [path for path in paths if tf.io.gfile.exists(path)]
    if not paths:
      raise ValueError(
          "No C3 files for split %r in --data_dir=%s: expected %s.json "
          "(CLUE) or d-%s.json / m-%s.json (the C3 release)." %
          (split, data_dir, split, split, split))
    return paths

  def _read_file(self, path, split):
    name = os.path.basename(path)
    subset = name[0] if re.match(r"[dm]-", name) else ""
    try:
      documents = _load_json_file(path)
      if not isinstance(documents, list):
        raise _Bad("expected a JSON list of documents, found %s" %
                   type(documents).__name__)
    except _Bad as e:
      yield path, e
      return
    for doc_index, document in enumerate(documents):
      where = "%s[%d]" % (path, doc_index)
      try:
        context, questions, doc_id = self._document(document, doc_index)
      except _Bad as e:
        yield where, e
        continue
      for index, question in enumerate(questions):
        qwhere = "%s.questions[%d]" % (where, index)
        try:
          yield qwhere, self._example(question, context, doc_id, index,
                                      subset, split)
        except _Bad as e:
          yield qwhere, e

  def _document(self, document, doc_index):
    if not isinstance(document, list) or len(document) not in (2, 3):
      raise _Bad("expected [context lines, questions, id], found %.80r" %
                 (document,))
    lines = document[0]
    if isinstance(lines, str):
      lines = [lines]
    # Dialogue turns are separate lines; the tokenizer drops the newline.
    context = "\n".join(_string_list(lines, "the context", 1))
    if not isinstance(document[1], list):
      raise _Bad("questions should be a list, found %r" % (document[1],))
    doc_id = str(document[2]) if len(document) == 3 else str(doc_index)
    return context, document[1], doc_id

  def _example(self, question, context, doc_id, index, subset, split):
    if not isinstance(question, dict):
      raise _Bad("expected a JSON object, found %r" % (question,))
    text = _string(question.get("question"), "question")
    choices = _string_list(question.get("choice"), "choice", 2,
                           self.task.max_choices)
    label = None
    if self._labelled(split):  # test answers, if any, are never used
      answer = _string(question.get("answer"), "answer").strip()
      stripped = [choice.strip() for choice in choices]
      if answer not in stripped:
        raise _Bad("answer %r is not one of its choices %r" %
                   (answer, choices))
      label = stripped.index(answer)
    if "id" in question:
      guid = str(question["id"])
    else:
      # The release's d- and m- files number their documents separately.
      prefix = "" if doc_id.startswith(subset) else subset + "-"
      guid = "%s%s-%d" % (prefix, doc_id, index)
    return ChoiceExample(guid=guid, context=[context], question=text,
                         choices=choices, label=label, subset=subset)


class ChidReader(ChoiceReader):
  """CHID (CLUE): `<split>.json` JSON lines and `<split>_answer.json`.

  A line is {"candidates": [idioms], "content": [texts with #idiomNNNNNN#
  blanks]}; the answer file maps each tag to its candidate's index. Every
  blank of every text is one example over the line's candidates.
  """

  task = TASKS["chid"]

  def split_files(self, data_dir, split):
    path = os.path.join(data_dir, split + ".json")
    if not tf.io.gfile.exists(path):
      raise ValueError("No CHID file for split %r: %s does not exist." %
                       (split, path))
    answers = self.answers_file(data_dir, split)
    return [path] + ([answers] if tf.io.gfile.exists(answers) else [])

  @staticmethod
  def answers_file(data_dir, split):
    return os.path.join(data_dir, split + "_answer.json")

  def get_examples(self, data_dir, split):
    self._answers = self._load_answers(data_dir, split)
    return super(ChidReader, self).get_examples(data_dir, split)

  def _load_answers(self, data_dir, split):
    """{tag: candidate index}; {} for a test split without an answer file."""
    path = self.answers_file(data_dir, split)
    if not tf.io.gfile.exists(path):
      if self._labelled(split):
        raise ValueError("CHID %s answers %s do not exist: the %s split needs "
                         "them (only test may go without)." %
                         (split, path, split))
      return {}
    try:
      answers = _load_json_file(path)
    except _Bad as e:
      raise ValueError("%s: %s" % (path, e)) from None
    if not isinstance(answers, dict):
      raise ValueError("%s: expected a JSON object {\"#idiomNNNNNN#\": "
                       "candidate index}, found %s" %
                       (path, type(answers).__name__))
    return answers

  def _read_file(self, path, split):
    if path.endswith("_answer.json"):
      return  # read by _load_answers; listed only so caches hash it
    with tf.io.gfile.GFile(path, "rb") as f:
      for line_number, raw in enumerate(f, start=1):
        where = "%s:%d" % (path, line_number)
        try:
          line = raw.decode("utf-8-sig" if line_number == 1 else "utf-8")
        except UnicodeDecodeError as e:
          yield where, _Bad("not valid UTF-8 (%s)" % e.reason)
          continue
        if not line.strip():
          continue
        try:
          record = json.loads(line)
          if not isinstance(record, dict):
            raise _Bad("expected a JSON object, found %s" %
                       type(record).__name__)
          candidates = _string_list(record.get("candidates"), "candidates",
                                    2, self.task.max_choices)
          content = _string_list(record.get("content"), "content", 1)
        except ValueError as e:
          yield where, _Bad("invalid JSON (%s)" % e)
          continue
        except _Bad as e:
          yield where, e
          continue
        for text_index, text in enumerate(content):
          for item in self._blanks(text, candidates, split,
                                   "%s.content[%d]" % (where, text_index)):
            yield item

  def _blanks(self, text, candidates, split, where):
    tags = _IDIOM_TAG_RE.findall(text)
    if not tags:
      yield where, _Bad("no #idiomNNNNNN# blank in %.60r" % text)
      return
    pieces = _IDIOM_TAG_RE.split(text)
    for blank, tag in enumerate(tags):
      tag_where = "%s %s" % (where, tag)
      label = None
      if self._labelled(split):  # test answers, if any, are never used
        try:
          label = self._label(tag, len(candidates), split)
        except _Bad as e:
          yield tag_where, e
          continue
      yield tag_where, ChoiceExample(
          guid=tag, context=pieces, question="", choices=candidates,
          label=label, target_blank=blank)

  def _label(self, tag, num_candidates, split):
    if tag not in self._answers:
      raise _Bad("no answer for this blank in %s_answer.json" % split)
    answer = self._answers[tag]
    if isinstance(answer, bool) or not isinstance(answer, int) or \
        not 0 <= answer < num_candidates:
      raise _Bad("answer %r is not a candidate index 0..%d" %
                 (answer, num_candidates - 1))
    return answer


READERS = {"race": RaceReader, "c3": C3Reader, "chid": ChidReader}


def get_reader(task_name, skip_bad_rows=False):
  """The reader of `task_name` (case-insensitive)."""
  return READERS[get_task(task_name).name](skip_bad_rows=skip_bad_rows)


# ----------------------------------------------------------------------------
# Features
# ----------------------------------------------------------------------------


def is_cloze(question):
  return bool(_BLANK_RE.search(question))


def qa_parts(question, choice):
  """(text before the option, option, text after) of question + choice.

  A cloze question's first `_` run is where the option goes (any further runs
  get the option too, as google's run_race does); otherwise the option
  follows the question.
  """
  match = _BLANK_RE.search(question)
  if not match:
    return question, choice, ""
  after = _BLANK_RE.sub(lambda _: choice, question[match.end():])
  return question[:match.start()], choice, after


def qa_tokens(question, choice, tokenizer, max_qa_length):
  """Tokens of question+choice, at most max_qa_length; (tokens, truncated).

  Only a question+option longer than max_qa_length loses tokens: first the
  question, from its ends away from the option (the longer side first), and
  only when the option alone is too long, the option's tail.
  """
  before, option, after = (tokenizer.tokenize(text) if text else []
                           for text in qa_parts(question, choice))
  truncated = False
  while len(before) + len(option) + len(after) > max_qa_length:
    truncated = True
    if before or after:
      if len(before) >= len(after):
        before.pop(0)
      else:
        after.pop()
    else:
      option = option[:max_qa_length]
  return before + option + after, truncated


def context_tokens(example, tokenizer):
  """(tokens, blank position) of an example's context.

  The target blank becomes [MASK] (its position is returned, else None) and
  other blanks [UNK].
  """
  tokens = []
  blank_position = None
  for index, piece in enumerate(example.context):
    if index:
      if index - 1 == example.target_blank:
        blank_position = len(tokens)
        tokens.append(tokenization.MASK_TOKEN)
      else:
        tokens.append(tokenization.UNK_TOKEN)
    tokens.extend(tokenizer.tokenize(piece) if piece else [])
  return tokens, blank_position


def truncate_context(tokens, budget, side, blank_position=None):
  """At most `budget` tokens of a context.

  side "right" drops tokens from the end, "left" from the start. With a
  blank, a window centred on it is kept instead (either side would lose the
  blank of a text that is long on that side).
  """
  if len(tokens) <= budget:
    return tokens
  if budget <= 0:
    return []
  if blank_position is not None:
    start = blank_position - (budget - 1) // 2
    start = max(0, min(start, len(tokens) - budget))
    return tokens[start:start + budget]
  if side == "right":
    return tokens[:budget]
  return tokens[len(tokens) - budget:]


def _count(stats, key, amount=1):
  stats[key] = stats.get(key, 0) + int(amount)


class ChoiceConverter(object):
  """Turns ChoiceExamples into records (see the module docstring).

  Counts in `stats` (given to every call): context_truncated (examples with
  a choice whose context lost tokens), qa_truncated (examples with a
  question+option longer than max_qa_length) and padded_choices.
  """

  def __init__(self, task, tokenizer, max_seq_length, max_qa_length,
               truncation_side="right"):
    if truncation_side not in TRUNCATION_SIDES:
      raise ValueError("--truncation_side=%s: choose one of %s." %
                       (truncation_side, ", ".join(TRUNCATION_SIDES)))
    if max_qa_length < 1 or max_qa_length > max_seq_length - 4:
      raise ValueError(
          "--max_qa_length=%d must be between 1 and max_seq_length - 4 = %d "
          "([CLS], [SEP], [SEP] and at least one context token); raise "
          "--max_seq_length or lower --max_qa_length." %
          (max_qa_length, max_seq_length - 4))
    if tokenization.MASK_TOKEN not in tokenizer.vocab and task.name == "chid":
      raise ValueError("The vocab has no %s token, which marks CHID's blank; "
                       "use the model's own vocab." % tokenization.MASK_TOKEN)
    self.task = task
    self.tokenizer = tokenizer
    self.max_seq_length = max_seq_length
    self.max_qa_length = max_qa_length
    self.truncation_side = truncation_side

  def choice_tokens(self, example, choice, context, blank_position):
    """(tokens, segment ids, qa truncated?, context truncated?) of a choice."""
    qa, qa_truncated = qa_tokens(example.question, choice, self.tokenizer,
                                 self.max_qa_length)
    budget = self.max_seq_length - 3 - len(qa)
    kept = truncate_context(context, budget, self.truncation_side,
                            blank_position)
    tokens = ["[CLS]"] + kept + ["[SEP]"] + qa + ["[SEP]"]
    segment_ids = [0] * (len(kept) + 2) + [1] * (len(qa) + 1)
    return tokens, segment_ids, qa_truncated, len(kept) < len(context)

  def convert(self, example, example_index, stats):
    """The record dict of one example."""
    if len(example.choices) > self.task.max_choices:
      raise ValueError("%s has %d choices; %s allows at most %d" %
                       (example.guid, len(example.choices), self.task.name,
                        self.task.max_choices))
    context, blank_position = context_tokens(example, self.tokenizer)
    rows = [self.choice_tokens(example, choice, context, blank_position)
            for choice in example.choices]
    num_padded = self.task.max_choices - len(rows)
    _count(stats, "qa_truncated", any(row[2] for row in rows))
    _count(stats, "context_truncated", any(row[3] for row in rows))
    _count(stats, "padded_choices", num_padded)
    length = max(len(row[0]) for row in rows)
    input_ids, input_mask, segment_ids = [], [], []
    for tokens, segments, _, _ in rows:
      pad = [0] * (length - len(tokens))
      input_ids += self.tokenizer.convert_tokens_to_ids(tokens) + pad
      input_mask += [1] * len(tokens) + pad
      segment_ids += segments + pad
    # Padded choices are all-zero rows; choice_mask keeps them out of the
    # softmax.
    padding = [0] * (length * num_padded)
    return dict(
        input_ids=input_ids + padding, input_mask=input_mask + padding,
        segment_ids=segment_ids + padding,
        label_ids=example.label if example.label is not None else 0,
        choice_mask=[1] * len(rows) + [0] * num_padded,
        subset_id=self.task.subsets.index(example.subset),
        example_index=example_index)

  def records(self, examples, stats, log_every=10000):
    """Yields the record of every example in order; logs the truncation
    counts at the end."""
    for index, example in enumerate(examples):
      if index and index % log_every == 0:
        tf.logging.info("Converted %d of %d examples", index, len(examples))
      yield self.convert(example, index, stats)
    tf.logging.info(
        "%s: %d examples; context truncated in %d (from the %s%s), "
        "question+option longer than max_qa_length=%d in %d", self.task.name,
        len(examples), stats.get("context_truncated", 0),
        self.truncation_side,
        ", CHID keeps a window around the blank" if self.task.name == "chid"
        else "", self.max_qa_length, stats.get("qa_truncated", 0))


def cache_settings(task_name, split, max_seq_length, max_qa_length,
                   truncation_side, do_lower_case, skip_bad_rows):
  """Everything besides file contents that decides a split's records."""
  return dict(version=CACHE_FORMAT_VERSION, task=task_name.lower(),
              split=split, max_seq_length=max_seq_length,
              max_qa_length=max_qa_length, truncation_side=truncation_side,
              do_lower_case=bool(do_lower_case),
              skip_bad_rows=bool(skip_bad_rows))


# ----------------------------------------------------------------------------
# Answers
# ----------------------------------------------------------------------------


def answer(task, example, choice_index):
  """The chosen option in the task's own answer format."""
  if task.answer_format == "letter":
    return LETTERS[choice_index]
  if task.answer_format == "text":
    return example.choices[choice_index]
  return int(choice_index)


def predictions_dict(task, examples, choice_indexes):
  """{question id: answer}, in example order (CHID's answer-file layout)."""
  return {example.guid: answer(task, example, int(index))
          for example, index in zip(examples, choice_indexes)}
