# coding=utf-8
"""Reading comprehension data for run_squad_v1.py / run_squad_v2.py.

SQuAD v1.1, SQuAD v2.0, CMRC2018 and DRCD share one JSON layout:
`data[].paragraphs[].context` and `qas[].id/question/answers[]/is_impossible`.
What lives here:

  * `read_examples`: the reader. A malformed file (bad JSON, a missing field,
    an `answer_start` that does not point at the answer text, an empty
    context) is an error naming the file and the JSON path, e.g.
    `data[3].paragraphs[0].qas[7]`; with skip_bad_rows such items are skipped
    and counted instead.
  * `TokenAligner`: tokenizes a context exactly as the model's FullTokenizer
    does (WordPiece or SentencePiece) and maps every token back to character
    offsets of the original text, so an answer is always cut out of the
    context as written (Chinese has no spaces to re-insert; full-width
    characters and digits are kept; `##` pieces join back).
  * `RecordMaker.records`: examples -> sliding windows -> finetune_data
    records (RECORD_SPEC), as a generator (finetune_data streams them to the
    cache), with a `Window` per record for post-processing. Answers that
    cannot be recovered exactly from their token span (and why), truncated
    questions and windows are counted and logged (BERT dropped such answers
    silently).
  * Post-processing: the best span per question (v1: exact argmax of
    start + end logits over all valid spans of all windows; v2: the
    beam of google-research/albert's head and the null odds), n-best lists
    with probabilities, logits and character offsets.
  * A standalone evaluator (metrics in squad_metrics.py):
      python squad_utils.py --evaluate DATA.json PRED.json [--metric cmrc2018]
        [--null_odds null_odds.json] [--null_threshold 1.0]
"""

import argparse
import bisect
import collections
import dataclasses
import json
import math
import sys
import unicodedata
from typing import List

import numpy as np
import tensorflow.compat.v1 as tf

import finetune_data
import squad_metrics
import tokenization

# How many bad items an error message lists before summarising the rest.
_BAD_ITEMS_SHOWN = 10
# How many unrecoverable answers the log shows as examples.
_ANSWER_PROBLEMS_SHOWN = 5


class SquadDataError(ValueError):
  """A SQuAD-format file is malformed (message names the file and JSON path)."""


class _BadItem(Exception):
  """Internal: one article/paragraph/question is malformed.

  str(error) says why; `kind` is a short name the skip counts are kept by.
  """

  def __init__(self, message, kind):
    super().__init__(message)
    self.kind = kind


@dataclasses.dataclass
class SquadExample:
  """One question about one context.

  Attributes:
    qas_id: the question's id (a string; ids in the JSON may be numbers).
    question: the question text.
    context: the paragraph, exactly as in the file.
    answers: [{"text": str, "answer_start": int}]; empty for unanswerable
      questions and for test files without answers.
    is_impossible: SQuAD v2.0's flag (False in v1-style files).
    json_path: where the question sits, e.g. "data[3].paragraphs[0].qas[7]".
  """
  qas_id: str
  question: str
  context: str
  answers: List[dict]
  is_impossible: bool = False
  json_path: str = ""


# ----------------------------------------------------------------------------
# Reading.


def load_json(path):
  """The parsed JSON of `path` (tf.io.gfile), errors naming file and position."""
  if not tf.io.gfile.exists(path):
    raise SquadDataError("%s does not exist: pass a SQuAD-format JSON file "
                         "(SQuAD v1.1/v2.0, CMRC2018 or DRCD)." % path)
  with tf.io.gfile.GFile(path, "rb") as f:
    raw = f.read()
  try:
    text = raw.decode("utf-8-sig")
  except UnicodeDecodeError as error:
    raise SquadDataError("%s is not UTF-8 (%s): save it as UTF-8." %
                         (path, error)) from None
  try:
    return json.loads(text)
  except json.JSONDecodeError as error:
    raise SquadDataError(
        "%s is not valid JSON: %s at line %d column %d." %
        (path, error.msg, error.lineno, error.colno)) from None


def _require(obj, key, kind, what):
  """obj[key] checked to be of `kind` (a type or tuple of types)."""
  if not isinstance(obj, dict):
    raise _BadItem("%s is a %s, not a JSON object" % (what, type(obj).__name__),
                   "not_an_object")
  if key not in obj:
    raise _BadItem("missing field \"%s\"" % key, "missing_" + key)
  value = obj[key]
  # bool is an int in Python; JSON true/false is never a valid offset.
  if not isinstance(value, kind) or (isinstance(value, bool) and
                                     bool not in _as_tuple(kind)):
    raise _BadItem("field \"%s\" is %s, expected %s" % (
        key, json.dumps(value, ensure_ascii=False)[:40], _kind_name(kind)),
                   "bad_" + key)
  return value


def _as_tuple(kind):
  return kind if isinstance(kind, tuple) else (kind,)


def _kind_name(kind):
  names = {str: "a string", int: "an integer", list: "a list", bool: "a bool",
           dict: "an object"}
  return " or ".join(names.get(k, k.__name__) for k in _as_tuple(kind))


def _parse_answer(answer, context, check_start):
  """Validates one answer dict; returns {"text", "answer_start"}."""
  text = _require(answer, "text", str, "answer")
  if not text.strip():
    raise _BadItem("the answer text is empty", "empty_answer")
  start = answer.get("answer_start")
  if check_start:
    start = _require(answer, "answer_start", int, "answer")
    found = context[start:start + len(text)] if start >= 0 else ""
    if found != text:
      nearest = context.find(text)
      hint = (" (the text occurs at %d)" % nearest if nearest >= 0 else
              " (the text does not occur in the context)")
      raise _BadItem(
          "answer_start=%d does not match the answer text %r: the context has "
          "%r there%s" % (start, text[:30], found[:30], hint),
          "answer_start_mismatch")
  return {"text": text, "answer_start": start}


def _parse_question(qa, context, is_training, version_2_with_negative):
  """(qas_id, question, answers, is_impossible) of one `qas[]` item."""
  qas_id = _require(qa, "id", (str, int), "question")
  question = _require(qa, "question", str, "question")
  if not question.strip():
    raise _BadItem("the question is empty", "empty_question")
  is_impossible = qa.get("is_impossible", False)
  if not isinstance(is_impossible, bool):
    raise _BadItem("field \"is_impossible\" must be true or false",
                   "bad_is_impossible")
  answers = qa.get("answers", [])
  if not isinstance(answers, list):
    raise _BadItem("field \"answers\" must be a list", "bad_answers")
  if is_impossible:
    if is_training and not version_2_with_negative:
      raise _BadItem("an unanswerable question (is_impossible) cannot train "
                     "run_squad_v1.py: use run_squad_v2.py",
                     "unanswerable_in_v1")
    answers = []  # v2's plausible_answers are not used either
  parsed = []
  for index, answer in enumerate(answers):
    try:
      parsed.append(_parse_answer(answer, context, check_start=is_training))
    except _BadItem as error:
      raise _BadItem("answers[%d]: %s" % (index, error), error.kind) from None
  if is_training and not is_impossible and not parsed:
    raise _BadItem("a training question needs an answer%s" % (
        " (or is_impossible: true)" if version_2_with_negative else ""),
                   "no_answer")
  return str(qas_id), question, parsed, is_impossible


def _check_paragraph(paragraph):
  """(context, qas) of a paragraph, or _BadItem."""
  context = _require(paragraph, "context", str, "paragraph")
  if not context.strip():
    raise _BadItem("the context is empty", "empty_context")
  return context, _require(paragraph, "qas", list, "paragraph")


class _Reader(object):
  """Walks data[].paragraphs[].qas[], collecting examples and bad items."""

  def __init__(self, is_training, version_2_with_negative):
    self.is_training = is_training
    self.version_2_with_negative = version_2_with_negative
    self.examples = []
    self.bad = []  # (json_path, _BadItem)
    self._seen_ids = {}

  def read(self, data):
    for i, article in enumerate(data):
      path = "data[%d]" % i
      try:
        paragraphs = _require(article, "paragraphs", list, "article")
      except _BadItem as error:
        self.bad.append((path, error))
        continue
      for j, paragraph in enumerate(paragraphs):
        self._read_paragraph(paragraph, "%s.paragraphs[%d]" % (path, j))

  def _read_paragraph(self, paragraph, path):
    try:
      context, qas = _check_paragraph(paragraph)
    except _BadItem as error:
      self.bad.append((path, error))
      return
    for k, qa in enumerate(qas):
      q_path = "%s.qas[%d]" % (path, k)
      try:
        self.examples.append(self._read_question(qa, context, q_path))
      except _BadItem as error:
        self.bad.append((q_path, error))

  def _read_question(self, qa, context, path):
    qas_id, question, answers, impossible = _parse_question(
        qa, context, self.is_training, self.version_2_with_negative)
    if qas_id in self._seen_ids:
      raise _BadItem("id %r repeats the question at %s" %
                     (qas_id, self._seen_ids[qas_id]), "duplicate_id")
    self._seen_ids[qas_id] = path
    return SquadExample(qas_id, question, context, answers, impossible, path)


def read_examples(path, is_training, version_2_with_negative=False,
                  skip_bad_rows=False, stats=None):
  """Reads a SQuAD-format file into SquadExamples.

  Args:
    path: the JSON file (tf.io.gfile path).
    is_training: training files need one answer per answerable question whose
      answer_start points at its text; evaluation files need only answer texts
      (answer_start is not used to score).
    version_2_with_negative: accept unanswerable training questions.
    skip_bad_rows: skip and count malformed items instead of failing.
    stats: optional dict that receives "bad_items" (count) and
      "bad_item_reasons" ({reason: count}).

  Returns:
    A list of SquadExample, in file order.

  Raises:
    SquadDataError: naming the file and the JSON path of (up to ten) bad items.
  """
  root = load_json(path)
  if not isinstance(root, dict) or not isinstance(root.get("data"), list):
    raise SquadDataError(
        "%s: the top level must be an object with a \"data\" list (SQuAD "
        "format: {\"data\": [{\"paragraphs\": [{\"context\": ..., \"qas\": "
        "[...]}]}]})." % path)
  reader = _Reader(is_training, version_2_with_negative)
  reader.read(root["data"])
  _report_bad_items(path, reader.bad, skip_bad_rows, stats)
  if not reader.examples:
    raise SquadDataError("%s has no usable questions." % path)
  return reader.examples


def _report_bad_items(path, bad, skip_bad_rows, stats):
  """Raises for bad items, or (skip_bad_rows) logs and counts them."""
  if stats is not None:
    stats["bad_items"] = len(bad)
    stats["bad_item_reasons"] = dict(
        collections.Counter(error.kind for _, error in bad))
  if not bad:
    return
  shown = "\n  ".join("%s: %s: %s" % (path, json_path, error)
                      for json_path, error in bad[:_BAD_ITEMS_SHOWN])
  more = ("\n  ... and %d more" % (len(bad) - _BAD_ITEMS_SHOWN)
          if len(bad) > _BAD_ITEMS_SHOWN else "")
  if skip_bad_rows:
    tf.logging.warning("Skipped %d malformed items of %s (--skip_bad_rows):"
                       "\n  %s%s", len(bad), path, shown, more)
    return
  raise SquadDataError(
      "%d malformed items in %s:\n  %s%s\nFix them or pass --skip_bad_rows to "
      "skip and count them." % (len(bad), path, shown, more))


# ----------------------------------------------------------------------------
# Tokens with character offsets.


@dataclasses.dataclass
class AlignedTokens:
  """Tokens of a text and the character span [start, end) each came from.

  Spans are offsets into the original text and never decrease; several
  tokens can share characters (a Hangul syllable decomposes into several
  pieces) and a SentencePiece word-boundary piece ("▁") can be empty.
  """
  tokens: List[str]
  starts: List[int]
  ends: List[int]

  def __len__(self):
    return len(self.tokens)


def _is_dropped(char):
  """Characters BERT's _clean_text deletes (NUL, U+FFFD, controls)."""
  return char in "\x00\ufffd" or tokenization.is_control(char)


class TokenAligner(object):
  """FullTokenizer's tokens of a text, each with its character span.

  The tokens are exactly `tokenizer.tokenize(text)`; the spans are found by
  redoing the tokenizer's normalisation one character at a time, so each
  normalised character knows the original character it came from.
  """

  def __init__(self, tokenizer):
    self.tokenizer = tokenizer
    self.is_sentencepiece = tokenizer.sp_model is not None
    # Counts of texts whose normalisation could not be followed character by
    # character (e.g. Greek final sigma); their spans are coarser, not wrong.
    self.approximate = 0

  def tokenize(self, text):
    """Returns the AlignedTokens of `text`."""
    text = tokenization.convert_to_unicode(text)
    if self.is_sentencepiece:
      return self._sentencepiece(text)
    return self._wordpiece(text)

  # WordPiece ----------------------------------------------------------------

  def _wordpiece(self, text):
    basic = self.tokenizer.basic_tokenizer
    # BERT deletes whitespace-like control characters before splitting on
    # whitespace; `kept` maps the cleaned text back to the original.
    kept = [i for i, char in enumerate(text)
            if not (char.isspace() and _is_dropped(char))]
    cleaned = "".join(text[i] for i in kept)
    result = AlignedTokens([], [], [])
    position = 0
    for raw in basic.raw_tokens(text):
      # Raw tokens are the cleaned text's non-whitespace runs (CJK characters
      # alone), in order, so each is found after the previous one.
      position = cleaned.index(raw, position)
      owners = kept[position:position + len(raw)]
      self._align_raw_token(raw, owners, result)
      position += len(raw)
    return result

  def _align_raw_token(self, raw, owners, result):
    """Appends the WordPieces of one raw token with their spans."""
    basic = self.tokenizer.basic_tokenizer
    wordpiece = self.tokenizer.wordpiece_tokenizer
    basic_tokens = basic.split_raw_token(raw)
    normalized, char_owner = [], []
    for char, owner in zip(raw, owners):
      if _is_dropped(char):
        continue
      if basic.do_lower_case:
        char = tokenization.strip_accents(char.lower())
      for piece_char in char:
        if not piece_char.isspace():
          normalized.append(piece_char)
          char_owner.append(owner)
    exact = "".join(normalized) == "".join(basic_tokens)
    if not exact:
      self.approximate += 1
    position = 0
    for basic_token in basic_tokens:
      pieces = wordpiece.tokenize_word(basic_token)
      if pieces == (wordpiece.unk_token,):
        lengths = [len(basic_token)]
      else:
        lengths = [len(p) - 2 if i else len(p) for i, p in enumerate(pieces)]
      for piece, length in zip(pieces, lengths):
        if exact:
          first = char_owner[position]
          last = char_owner[position + length - 1]
        else:  # the whole raw token, which certainly holds the piece
          first, last = owners[0], owners[-1]
        result.tokens.append(piece)
        result.starts.append(first)
        result.ends.append(last + 1)
        position += length

  # SentencePiece ------------------------------------------------------------

  def _preprocessed_with_owners(self, text):
    """tokenization.preprocess_text(text) and each character's source index."""
    chars, owners = [], []
    pending_space = None
    for index, char in enumerate(text):
      if char.isspace():
        if chars and pending_space is None:
          pending_space = index  # runs of whitespace become one space
        continue
      if pending_space is not None:
        chars.append(" ")
        owners.append(pending_space)
        pending_space = None
      for piece_char in unicodedata.normalize("NFKD", char):
        if unicodedata.combining(piece_char):
          continue
        if self.tokenizer.do_lower_case:
          piece_char = piece_char.lower()
        for out_char in piece_char:
          chars.append(out_char)
          owners.append(index)
    return "".join(chars), owners

  def _sentencepiece(self, text):
    tokens = self.tokenizer.tokenize(text)
    processed, owners = self._preprocessed_with_owners(text)
    if processed != tokenization.preprocess_text(
        text, lower=self.tokenizer.do_lower_case):
      self.approximate += 1
    result = AlignedTokens([], [], [])
    position = 0
    for token in tokens:
      matched = []
      for char in token.replace(tokenization.SPIECE_UNDERLINE, " "):
        if char == " ":
          if position < len(processed) and processed[position] == " ":
            position += 1
          continue
        # SentencePiece's own normaliser rarely changes a character; then
        # look a little ahead before giving up on this character.
        found = processed.find(char, position, position + 8)
        if found < 0:
          self.approximate += 1
          continue
        matched.append(owners[found])
        position = found + 1
      if matched:
        start, end = matched[0], matched[-1] + 1
      else:  # a bare "▁" (or unmatched) piece: empty span where it stands
        start = end = owners[position] if position < len(owners) else len(text)
        if result.ends:
          start = end = max(start, result.ends[-1])
      result.tokens.append(token)
      result.starts.append(start)
      result.ends.append(end)
    return result


def answer_token_span(aligned, context, char_start, answer_text):
  """The tokens that cover an answer, and whether they recover it exactly.

  Args:
    aligned: AlignedTokens of the context.
    context: the context string.
    char_start: the answer's character offset.
    answer_text: the answer string.

  Returns:
    (first_token, last_token, problem): the smallest token range covering
    the answer's characters; problem is None when
    context[starts[first]:ends[last]] == answer_text, else one of
    "whitespace_at_edges" (the answer only adds surrounding spaces),
    "starts_inside_token", "ends_inside_token" (a token straddles the
    answer's boundary; the covering tokens are used), or "no_tokens" (the
    answer has only whitespace/deleted characters; first/last are None).
  """
  char_end = char_start + len(answer_text)
  # Tokens are in order of their spans: the first token ending after the
  # answer start, through the last token starting before its end.
  first = bisect.bisect_right(aligned.ends, char_start)
  while first < len(aligned) and aligned.starts[first] == aligned.ends[first]:
    first += 1  # skip empty ("▁") tokens
  last = bisect.bisect_left(aligned.starts, char_end) - 1
  while last >= 0 and aligned.starts[last] == aligned.ends[last]:
    last -= 1
  if first >= len(aligned) or last < first:
    return None, None, "no_tokens"
  recovered = context[aligned.starts[first]:aligned.ends[last]]
  if recovered == answer_text:
    return first, last, None
  if aligned.starts[first] < char_start:
    return first, last, "starts_inside_token"
  if aligned.ends[last] > char_end:
    return first, last, "ends_inside_token"
  return first, last, "whitespace_at_edges"


# ----------------------------------------------------------------------------
# Windows and records.

# The records of both scripts. context_mask marks this window's context tokens
# (where an answer may start or end); labels are 0 at prediction time.
RECORD_SPEC = finetune_data.FeatureSpec(
    finetune_data.BASE_SEQUENCE_FEATURES + (
        finetune_data.Feature("context_mask", (None,)),
        finetune_data.Feature("start_positions"),
        finetune_data.Feature("end_positions"),
        finetune_data.Feature("is_impossible")))


@dataclasses.dataclass
class Window:
  """What post-processing needs to know about one record (one window).

  Attributes:
    example_index: the position of its question in the examples list.
    doc_offset: the sequence position of the window's first context token.
    starts, ends: character span of each context token of the window.
    max_context: 1 where this window gives the token its most centred view
      (BERT's rule: a span starting there is scored in this window only).
  """
  example_index: int
  doc_offset: int
  starts: List[int]
  ends: List[int]
  max_context: List[int]

  def to_json(self):
    return json.dumps(dataclasses.asdict(self), separators=(",", ":"))

  @classmethod
  def from_json(cls, line):
    return cls(**json.loads(line))


def doc_windows(num_tokens, max_tokens, doc_stride):
  """[(start, length)] of sliding windows over `num_tokens` context tokens.

  Windows hold at most `max_tokens` tokens and start `doc_stride` apart; the
  last one ends at the last token (BERT's scheme).
  """
  windows = []
  start = 0
  while start < num_tokens:
    length = min(num_tokens - start, max_tokens)
    windows.append((start, length))
    if start + length == num_tokens:
      break
    start += min(length, doc_stride)
  return windows


def max_context_flags(windows):
  """For each window, 1 per token where it is the token's best window.

  A token's score in a window is min(tokens left, tokens right) + 0.01 *
  window length; ties go to the earlier window (BERT's _check_is_max_context).
  """
  best = {}
  for index, (start, length) in enumerate(windows):
    for position in range(start, start + length):
      score = min(position - start, start + length - 1 - position) + (
          0.01 * length)
      if position not in best or score > best[position][0]:
        best[position] = (score, index)
  return [[int(best[p][1] == index) for p in range(start, start + length)]
          for index, (start, length) in enumerate(windows)]


class RecordMaker(object):
  """SquadExamples -> finetune_data records (one per window).

  Each window is `[CLS] question [SEP] context window [SEP]`, with segment
  ids 0 then 1. Training labels: the answer's token positions in the
  sequence, or 0 ([CLS]) with is_impossible=1 when the question has no
  answer or the answer is not inside this window.
  """

  def __init__(self, tokenizer, max_seq_length, doc_stride, max_query_length,
               is_training):
    self.aligner = TokenAligner(tokenizer)
    self.tokenizer = tokenizer
    self.max_seq_length = max_seq_length
    self.doc_stride = doc_stride
    self.max_query_length = max_query_length
    self.is_training = is_training
    self._cls_sep = tokenizer.convert_tokens_to_ids(
        [tokenization.CLS_TOKEN, tokenization.SEP_TOKEN])

  def records(self, examples, stats, on_window=None, log_every=2000):
    """Yields records; fills `stats` with counts; on_window(Window) per record.

    stats keys: examples, windows, examples_with_several_windows,
    questions_truncated, context_tokens_not_in_any_window (0 unless
    doc_stride leaves gaps), and for training: answers_exact,
    answer_problems ({reason: count}, see answer_token_span),
    answers_dropped (answers without tokens: such questions are skipped),
    windows_without_answer, impossible.
    """
    counts = collections.Counter({key: 0 for key in (
        "examples", "windows", "examples_with_several_windows",
        "questions_truncated", "context_tokens_not_in_any_window",
        "examples_without_context_tokens")})
    if self.is_training:
      counts.update({key: 0 for key in (
          "answers_exact", "answers_dropped", "windows_without_answer",
          "impossible")})
    problems = collections.Counter()
    shown = 0
    for example_index, example in enumerate(examples):
      if example_index and example_index % log_every == 0:
        tf.logging.info("Windowing: %d of %d questions, %d windows",
                        example_index, len(examples), counts["windows"])
      counts["examples"] += 1
      query = self.tokenizer.tokenize(example.question)
      if len(query) > self.max_query_length:
        counts["questions_truncated"] += 1
        query = query[:self.max_query_length]
      doc = self.aligner.tokenize(example.context)
      answer = None
      if self.is_training and not example.is_impossible:
        first, last, problem = answer_token_span(
            doc, example.context, example.answers[0]["answer_start"],
            example.answers[0]["text"])
        if problem is None:
          counts["answers_exact"] += 1
        else:
          problems[problem] += 1
          if shown < _ANSWER_PROBLEMS_SHOWN:
            shown += 1
            tf.logging.warning(
                "%s (id %s): answer %r is not exactly a token span (%s); "
                "tokens give %r", example.json_path, example.qas_id,
                example.answers[0]["text"], problem,
                example.context[doc.starts[first]:doc.ends[last]]
                if first is not None else "")
          if problem == "no_tokens":
            counts["answers_dropped"] += 1
            continue
        answer = (first, last)
      if self.is_training and example.is_impossible:
        counts["impossible"] += 1
      for record, window in self._windows(example_index, query, doc, answer,
                                          counts):
        if on_window is not None:
          on_window(window)
        yield record
    stats.update(counts)
    if self.is_training:
      stats["answer_problems"] = dict(problems)
    stats["approximate_alignments"] = self.aligner.approximate
    log_stats(stats, "features")

  def _windows(self, example_index, query, doc, answer, counts):
    """(record, Window) pairs of one question."""
    room = self.max_seq_length - len(query) - 3
    windows = doc_windows(len(doc), room, self.doc_stride)
    # Only a doc_stride larger than a window leaves tokens out.
    counts["context_tokens_not_in_any_window"] += sum(
        max(0, following[0] - (window[0] + window[1]))
        for window, following in zip(windows, windows[1:]))
    if not windows:
      counts["examples_without_context_tokens"] += 1
    if len(windows) > 1:
      counts["examples_with_several_windows"] += 1
    query_ids = self.tokenizer.convert_tokens_to_ids(query)
    doc_ids = self.tokenizer.convert_tokens_to_ids(doc.tokens)
    cls_id, sep_id = self._cls_sep
    doc_offset = len(query) + 2
    for (start, length), flags in zip(windows, max_context_flags(windows)):
      counts["windows"] += 1
      input_ids = ([cls_id] + query_ids + [sep_id] +
                   doc_ids[start:start + length] + [sep_id])
      num_first = len(query) + 2
      start_position = end_position = 0
      impossible = 1
      if answer is not None and start <= answer[0] and answer[1] < (
          start + length):
        start_position = answer[0] - start + doc_offset
        end_position = answer[1] - start + doc_offset
        impossible = 0
      elif self.is_training and answer is not None:
        counts["windows_without_answer"] += 1
      record = dict(
          input_ids=input_ids,
          input_mask=[1] * len(input_ids),
          segment_ids=[0] * num_first + [1] * (length + 1),
          context_mask=[0] * num_first + [1] * length + [0],
          start_positions=start_position,
          end_positions=end_position,
          is_impossible=impossible if self.is_training else 0)
      window = Window(example_index, doc_offset,
                      doc.starts[start:start + length],
                      doc.ends[start:start + length], flags)
      yield record, window


def log_stats(stats, what):
  tf.logging.info("SQuAD %s: %s", what, json.dumps(stats, sort_keys=True))


# ----------------------------------------------------------------------------
# Post-processing: spans, n-best lists, null odds.


@dataclasses.dataclass
class Span:
  """A candidate answer: character offsets into the context and its scores."""
  start_char: int
  end_char: int  # exclusive: context[start_char:end_char] is the answer
  score: float
  start_logit: float
  end_logit: float


def v1_window_spans(window, start_logits, end_logits, max_answer_length,
                    top_n):
  """The `top_n` best valid spans of one window by start + end logit.

  Valid: inside the window's context, end >= start, at most
  max_answer_length tokens, and the start token's best window is this one.
  Every valid span is scored (a band of max_answer_length diagonals), so the
  result is the exact argmax, not a top-k-starts approximation.
  """
  num = len(window.starts)
  if not num:
    return []
  begin = window.doc_offset
  starts = np.asarray(start_logits[begin:begin + num], np.float64)
  ends = np.asarray(end_logits[begin:begin + num], np.float64)
  width = min(max_answer_length, num)
  scores = np.full([num, width], -np.inf)
  for offset in range(width):  # column d: spans of d + 1 tokens
    scores[:num - offset, offset] = starts[:num - offset] + ends[offset:]
  scores[np.asarray(window.max_context) == 0, :] = -np.inf
  flat = scores.ravel()
  valid = np.flatnonzero(np.isfinite(flat))
  if len(valid) > top_n:
    valid = valid[np.argpartition(-flat[valid], top_n - 1)[:top_n]]
  spans = []
  for index in valid:
    first, offset = divmod(int(index), width)
    last = first + offset
    spans.append(Span(window.starts[first], window.ends[last],
                      float(flat[index]), float(starts[first]),
                      float(ends[last])))
  return spans


def v2_window_spans(window, result, max_answer_length):
  """Valid spans among the v2 head's beam (top starts x top ends) of a window.

  `result` holds start_top_log_probs / start_top_index [K] and
  end_top_log_probs / end_top_index [K * E] (sequence positions); the score
  is start log-prob + end log-prob (google-research/albert's).
  """
  num = len(window.starts)
  begin = window.doc_offset
  start_index = np.asarray(result["start_top_index"])
  start_log_probs = np.asarray(result["start_top_log_probs"])
  end_index = np.asarray(result["end_top_index"])
  end_log_probs = np.asarray(result["end_top_log_probs"])
  num_starts = len(start_index)
  ends_per_start = len(end_index) // max(num_starts, 1)
  spans = []
  for i in range(num_starts):
    first = int(start_index[i]) - begin
    if not 0 <= first < num or not window.max_context[first]:
      continue
    for j in range(ends_per_start):
      k = i * ends_per_start + j
      last = int(end_index[k]) - begin
      if not first <= last < num or last - first + 1 > max_answer_length:
        continue
      spans.append(Span(window.starts[first], window.ends[last],
                        float(start_log_probs[i] + end_log_probs[k]),
                        float(start_log_probs[i]), float(end_log_probs[k])))
  return spans


def nbest_entries(context, spans, n_best_size):
  """The n best distinct spans as JSON-able dicts, best first.

  Spans with the same character offsets (seen from overlapping windows) are
  merged, keeping the higher score. `probability` is the softmax of the
  kept scores (BERT's n-best probabilities).
  """
  best = {}
  for span in spans:
    key = (span.start_char, span.end_char)
    if key not in best or span.score > best[key].score:
      best[key] = span
  kept = sorted(best.values(), key=lambda s: -s.score)[:n_best_size]
  if not kept:
    return []
  scores = np.array([s.score for s in kept])
  probabilities = np.exp(scores - scores.max())
  probabilities /= probabilities.sum()
  return [dict(text=context[s.start_char:s.end_char],
               probability=float(p), start_logit=s.start_logit,
               end_logit=s.end_logit, start_char=s.start_char,
               end_char=s.end_char)
          for s, p in zip(kept, probabilities)]


def _windows_by_example(windows, results):
  grouped = collections.defaultdict(list)
  if len(windows) != len(results):
    raise ValueError("%d windows but %d prediction results: the feature "
                     "cache and its window file disagree; delete them." %
                     (len(windows), len(results)))
  for window, result in zip(windows, results):
    grouped[window.example_index].append((window, result))
  return grouped


def postprocess_v1(examples, windows, results, n_best_size,
                   max_answer_length):
  """Best answers of run_squad_v1.

  Args:
    examples: the SquadExamples predicted.
    windows: Window per record, in record order.
    results: per record, a dict with start_logits and end_logits [seq].
    n_best_size: entries kept per question.
    max_answer_length: longest answer in tokens.

  Returns:
    (predictions {id: text}, nbest {id: [entry]}); a question without any
    valid span (no context tokens) gets "" and an empty list.
  """
  grouped = _windows_by_example(windows, results)
  predictions, nbest = collections.OrderedDict(), collections.OrderedDict()
  for index, example in enumerate(examples):
    spans = []
    for window, result in grouped.get(index, []):
      spans.extend(v1_window_spans(window, result["start_logits"],
                                   result["end_logits"], max_answer_length,
                                   n_best_size))
    entries = nbest_entries(example.context, spans, n_best_size)
    nbest[example.qas_id] = entries
    predictions[example.qas_id] = entries[0]["text"] if entries else ""
  return predictions, nbest


def postprocess_v2(examples, windows, results, n_best_size,
                   max_answer_length):
  """Best non-null answers and null odds of run_squad_v2.

  results: per record, the v2 head's start_top_log_probs, start_top_index,
  end_top_log_probs, end_top_index and cls_logits.

  Returns:
    (predictions {id: best non-null text}, nbest {id: [entry]},
     null_odds {id: float}). A question's null odds are the smallest
    answerability logit over its windows (a question is answerable if any
    window is confident it is, as in google-research/albert); apply a
    threshold with `apply_null_threshold`.
  """
  grouped = _windows_by_example(windows, results)
  predictions, nbest = collections.OrderedDict(), collections.OrderedDict()
  null_odds = collections.OrderedDict()
  for index, example in enumerate(examples):
    spans, null_scores = [], []
    for window, result in grouped.get(index, []):
      spans.extend(v2_window_spans(window, result, max_answer_length))
      null_scores.append(float(np.asarray(result["cls_logits"])))
    entries = nbest_entries(example.context, spans, n_best_size)
    nbest[example.qas_id] = entries
    predictions[example.qas_id] = entries[0]["text"] if entries else ""
    # A question without context tokens has no window (and answer "").
    null_odds[example.qas_id] = min(null_scores) if null_scores else 0.0
  return predictions, nbest, null_odds


def apply_null_threshold(predictions, null_odds, threshold):
  """Empty answers where the null odds exceed `threshold` (official rule)."""
  return collections.OrderedDict(
      (qid, "" if null_odds.get(qid, -math.inf) > threshold else text)
      for qid, text in predictions.items())


# ----------------------------------------------------------------------------
# Evaluation.


def gold_answers(examples):
  """{qid: [answer texts]} ([] for unanswerable questions)."""
  return collections.OrderedDict(
      (example.qas_id, [answer["text"] for answer in example.answers])
      for example in examples)


def has_gold_answers(examples):
  """True when the file can be scored (some question has an answer)."""
  return any(example.answers for example in examples)


def evaluate(examples, predictions, metric=None, version_2=None,
             null_odds=None, null_threshold=1.0):
  """Official figures of `predictions` against the examples' answers.

  metric: squad or cmrc2018 (None: by the language of the contexts).
  version_2: SQuAD v2.0 rules (None: when a question is unanswerable or
  null odds are given).
  """
  metric = metric or squad_metrics.default_metric(
      example.context for example in examples)
  if version_2 is None:
    version_2 = null_odds is not None or any(
        example.is_impossible for example in examples)
  gold = gold_answers(examples)
  if version_2:
    results = squad_metrics.evaluate_v2(gold, predictions, null_odds,
                                        null_threshold, metric)
  else:
    results = squad_metrics.evaluate_v1(gold, predictions, metric)
  results["metric"] = metric
  return results


def _read_json_object(path, what):
  value = load_json(path)
  if not isinstance(value, dict):
    raise SquadDataError("%s: %s must be a JSON object {question id: ...}." %
                         (path, what))
  return value


def main(argv=None):
  """python squad_utils.py --evaluate DATA.json PRED.json [options]."""
  parser = argparse.ArgumentParser(
      description="Scores a predictions file (question id -> answer text) "
      "against a SQuAD v1.1/v2.0, CMRC2018 or DRCD data file with the "
      "official rules; prints the figures as JSON.")
  parser.add_argument("--evaluate", nargs=2, metavar=("DATA_JSON", "PRED_JSON"),
                      required=True, help="the data file and the predictions")
  parser.add_argument("--metric", choices=squad_metrics.METRICS,
                      help="squad (SQuAD/DRCD-style) or cmrc2018; default: "
                      "cmrc2018 when the contexts are mostly Chinese")
  parser.add_argument("--null_odds", help="SQuAD v2.0: JSON {id: null odds} "
                      "(e.g. run_squad_v2.py's null_odds.json)")
  parser.add_argument("--null_threshold", type=float, default=1.0,
                      help="SQuAD v2.0: answers whose null odds exceed this "
                      "become empty (official default 1.0)")
  args = parser.parse_args(argv)
  data_file, prediction_file = args.evaluate
  try:
    examples = read_examples(data_file, is_training=False,
                             version_2_with_negative=True)
    predictions = _read_json_object(prediction_file, "the predictions")
    null_odds = (_read_json_object(args.null_odds, "the null odds")
                 if args.null_odds else None)
    results = evaluate(examples, predictions, args.metric,
                       null_odds=null_odds, null_threshold=args.null_threshold)
  except ValueError as error:
    print("error: %s" % error, file=sys.stderr)
    return 2
  print(json.dumps(results, indent=2, ensure_ascii=False))
  return 0


if __name__ == "__main__":
  sys.exit(main())
