# coding=utf-8
"""Sequence-labelling data for run_ner.py: readers, labels, alignment, windows.

Formats (`--task_name`):
  * `msra` / `bio`: one token and its tag per line, tab- or space-separated
    (the last separator splits, so a token may itself be a space-like
    character), a blank line between sentences: MSRA, People's Daily 1998,
    Resume/Weibo (`*.char.bmes`). Tags in BIO, IOB1, BIOES/BMES or IO.
  * `cluener`: CLUENER2020 JSON lines, `{"text": ..., "label": {type:
    {entity text: [[start, end], ...]}}}` with `end` inclusive; every span
    must hold its entity text. The text is cut into units the way the
    WordPiece tokenizer cuts it (each Chinese character and punctuation mark
    alone, Latin/digit runs whole) and each unit keeps its character offsets,
    so predictions map back to exact character spans: every character of the
    input gets a tag (a character no unit covers, such as a space, is "O").
  * `conll`: CoNLL-2003 columns, word first and tag last, `-DOCSTART-` lines
    skipped.

A sentence is a list of *words* (the units that carry one tag each: a line of
a tag file, a unit of a CLUENER text). Each word is tokenized alone; its first
piece carries its tag and any further pieces are masked out of loss and
metric (`label_mask`). A word that yields no piece at all (a stray control
character) is predicted "O" and counted.

A sentence with more pieces than fit in max_seq_length is cut into
overlapping windows (stride half a window), each its own record; the
predictions of a word are taken from the window where it sits most centrally,
so nothing is truncated. Records carry `sentence_index`, `window_start` and
`first_word` so the predictions merge back without any other state.
"""

import bisect
import collections
import dataclasses
import json
import os
from typing import List, Optional, Tuple

import tensorflow.compat.v1 as tf

import gfile_utils
import ner_metrics
import tokenization

TASKS = ("msra", "bio", "cluener", "conll")
# Files tried for each split, in order (the names common releases use).
_SPLIT_FILES = {
    "tags": {
        "train": ["train.txt", "train.char.bmes", "train.bio", "train.tsv",
                  "example.train"],
        "dev": ["dev.txt", "dev.char.bmes", "dev.bio", "dev.tsv", "val.txt",
                "example.dev"],
        "test": ["test.txt", "test.char.bmes", "test.bio", "test.tsv",
                 "example.test"],
    },
    "cluener": {"train": ["train.json"], "dev": ["dev.json"],
                "test": ["test.json"]},
    "conll": {"train": ["train.txt", "eng.train"],
              "dev": ["dev.txt", "valid.txt", "eng.testa"],
              "test": ["test.txt", "eng.testb"]},
}
_DOCSTART = "-DOCSTART-"
# CLUENER2020's ten entity types (used when no training file names them).
CLUENER_TYPES = ("address", "book", "company", "game", "government", "movie",
                 "name", "organization", "position", "scene")
# Errors listed before the rest are summarised.
_ERRORS_SHOWN = 10
# Features of a record besides BASE_SEQUENCE_FEATURES (the core's spec).
SEQUENCE_LABEL_FEATURES = ("label_ids", "label_mask")
SCALAR_FEATURES = ("sentence_index", "window_start", "first_word")


class NerDataError(ValueError):
  """A data file cannot be read as the task's format (names file:line)."""


@dataclasses.dataclass
class NerExample:
  """One sentence.

  Attributes:
    guid: the example's id ("<split>-<n>", or CLUENER's `id`).
    words: the units that get one tag each.
    tags: a tag per word; None when the file has no tags (test sets).
    path, line_numbers: where each word came from (one line number per word
      for line formats; the JSON line for CLUENER), for error messages.
    text: CLUENER: the raw text; offsets: each word's [start, end) in it.
    char_entities: CLUENER: the gold (type, start, end_exclusive) spans.
    lines: conll: each word's original line (predictions keep its columns).
    separator: tag formats: what separated token and tag in the input.
    record_id: CLUENER: the input's own `id`, written back with predictions.
  """
  guid: str
  words: List[str]
  tags: Optional[List[str]]
  path: str = ""
  line_numbers: List[int] = dataclasses.field(default_factory=list)
  text: Optional[str] = None
  offsets: Optional[List[Tuple[int, int]]] = None
  char_entities: Optional[List[Tuple[str, int, int]]] = None
  lines: Optional[List[str]] = None
  separator: str = "\t"
  record_id: Optional[object] = None

  def where(self, word_index=0):
    """"path:line" of a word, for messages."""
    if not self.line_numbers:
      return self.path
    index = min(word_index, len(self.line_numbers) - 1)
    return "%s:%d" % (self.path, self.line_numbers[index])


def _file_kind(task_name):
  task_name = check_task(task_name)
  return "tags" if task_name in ("msra", "bio") else task_name


def check_task(task_name):
  value = (task_name or "").strip().lower()
  if value not in TASKS:
    raise ValueError("--task_name=%r: use one of %s" %
                     (task_name, ", ".join(TASKS)))
  return value


def split_file(task_name, data_dir, split, required=True):
  """The file holding `split` in data_dir (first existing candidate name)."""
  candidates = _SPLIT_FILES[_file_kind(task_name)][split]
  for name in candidates:
    path = os.path.join(data_dir, name)
    if tf.io.gfile.exists(path):
      return path
  if not required:
    return None
  raise NerDataError(
      "--data_dir=%s has no %s file for --task_name=%s: expected one of %s" %
      (data_dir, split, task_name, ", ".join(candidates)))


# ----------------------------------------------------------------------------
# Reading.


def _lines(path):
  """(line_number, text without newline) of a UTF-8 file; BOM dropped."""
  if not tf.io.gfile.exists(path):
    raise NerDataError("%s does not exist" % path)
  for line_number, text in gfile_utils.utf8_lines(path):
    if isinstance(text, UnicodeDecodeError):
      raise NerDataError("%s:%d: not valid UTF-8 (%s); convert the file to "
                         "UTF-8" % (path, line_number, text.reason))
    yield line_number, text


def _blocks(path):
  """Sentences of a line format: lists of (line_number, line), split at
  blank lines."""
  block = []
  for line_number, line in _lines(path):
    if line.strip():
      block.append((line_number, line))
    elif block:
      yield block
      block = []
  if block:
    yield block


def _split_tag_line(line):
  """(token, tag or None, separator) of a `token<TAB or space>tag` line.

  The last tab (else the last space) separates, so a token that is itself a
  space-like character such as U+3000 survives.
  """
  stripped = line.rstrip(" \t")
  for separator in ("\t", " "):
    if separator in stripped:
      token, tag = stripped.rsplit(separator, 1)
      token = token.strip(" \t") or token
      return token, tag.strip(), separator
  return stripped, None, None


def _check_tagged(example, tagged_flags):
  """A sentence has tags on every line or on none (test files)."""
  if all(tagged_flags):
    return
  if any(tagged_flags):
    line_index = tagged_flags.index(False)
    raise NerDataError(
        "%s: line %r has no tag while other lines of its sentence do: write "
        "'token<TAB>tag' on every line" % (example.where(line_index),
                                            example.words[line_index]))
  example.tags = None


def read_tag_file(path, split):
  """msra/bio files -> [NerExample]; tags are checked by parse_tag."""
  examples = []
  for block in _blocks(path):
    words, tags, numbers, tagged = [], [], [], []
    separator = "\t"
    for line_number, line in block:
      token, tag, line_separator = _split_tag_line(line)
      if tag is not None:
        _parse_or_fail(tag, path, line_number)
        separator = line_separator
      words.append(token)
      tags.append(tag)
      numbers.append(line_number)
      tagged.append(tag is not None)
    example = NerExample("%s-%d" % (split, len(examples)), words, tags, path,
                         numbers, separator=separator)
    _check_tagged(example, tagged)
    examples.append(example)
  return examples


def read_conll_file(path, split):
  """CoNLL-2003 files -> [NerExample] (documents' -DOCSTART- lines dropped)."""
  examples = []
  for block in _blocks(path):
    block = [(number, line) for number, line in block
             if line.split()[0] != _DOCSTART]
    if not block:
      continue
    words, tags, numbers, lines, tagged = [], [], [], [], []
    for line_number, line in block:
      fields = line.split()
      tag = fields[-1] if len(fields) > 1 else None
      if tag is not None:
        _parse_or_fail(tag, path, line_number)
      words.append(fields[0])
      tags.append(tag)
      numbers.append(line_number)
      lines.append(line)
      tagged.append(tag is not None)
    example = NerExample("%s-%d" % (split, len(examples)), words, tags, path,
                         numbers, lines=lines, separator=" ")
    _check_tagged(example, tagged)
    examples.append(example)
  return examples


def _parse_or_fail(tag, path, line_number):
  try:
    return ner_metrics.parse_tag(tag)
  except ner_metrics.TagError as e:
    raise NerDataError("%s:%d: %s" % (path, line_number, e)) from None


def text_units(text):
  """[start, end) of each unit of `text`: a CJK character or a punctuation
  mark alone, a run of other non-space characters whole (BERT's cuts, so each
  unit tokenizes as it would inside the whole text). Whitespace is in none."""
  units = []
  run_start = None
  for index, char in enumerate(text):
    alone = (tokenization.is_chinese_char(ord(char)) or
             tokenization.is_punctuation(char))
    if char.isspace() or alone:
      if run_start is not None:
        units.append((run_start, index))
        run_start = None
      if alone:
        units.append((index, index + 1))
    elif run_start is None:
      run_start = index
  if run_start is not None:
    units.append((run_start, len(text)))
  return units


def _cluener_entities(record, text, where):
  """Gold (type, start, end_exclusive) spans of a CLUENER record, checked."""
  label = record.get("label")
  if label is None:
    return None
  if not isinstance(label, dict):
    raise NerDataError("%s: \"label\" must be an object {type: {entity text: "
                       "[[start, end], ...]}}, found %r" % (where, label))
  entities = []
  for entity_type, mentions in label.items():
    if not isinstance(mentions, dict):
      raise NerDataError("%s: label.%s must map entity text to spans, found "
                         "%r" % (where, entity_type, mentions))
    for entity_text, spans in mentions.items():
      path = "label.%s[%r]" % (entity_type, entity_text)
      if not isinstance(spans, list):
        raise NerDataError("%s: %s must be a list of [start, end] spans" %
                           (where, path))
      for span in spans:
        if (not isinstance(span, list) or len(span) != 2 or
            not all(isinstance(v, int) for v in span)):
          raise NerDataError("%s: %s holds %r, not an [start, end] pair of "
                             "integers" % (where, path, span))
        start, end = span
        if not 0 <= start <= end < len(text):
          raise NerDataError("%s: %s span %r lies outside the text (%d "
                             "characters; end is inclusive)" %
                             (where, path, span, len(text)))
        if text[start:end + 1] != entity_text:
          raise NerDataError(
              "%s: %s span %r covers %r, not the entity text (spans are "
              "[start, end] character offsets, end inclusive)" %
              (where, path, span, text[start:end + 1]))
        entities.append((entity_type, start, end + 1))
  entities.sort(key=lambda e: (e[1], e[2]))
  for previous, current in zip(entities, entities[1:]):
    if current[1] < previous[2]:
      raise NerDataError("%s: entities %r and %r overlap; nested entities "
                         "cannot be tagged" % (where, previous, current))
  return entities


def unit_entities(char_entities, offsets):
  """Char spans -> unit spans (the units covering each entity), and how many
  entities do not start and end on unit boundaries (they grow to whole
  units: the model cannot tag part of a unit)."""
  starts = {start: index for index, (start, _) in enumerate(offsets)}
  ends = {end: index for index, (_, end) in enumerate(offsets)}
  entities, misaligned = [], 0
  for entity_type, start, end in char_entities:
    covering = [index for index, (unit_start, unit_end) in enumerate(offsets)
                if unit_start < end and unit_end > start]
    if not covering:
      misaligned += 1  # Only whitespace: nothing a model could tag.
      continue
    if start not in starts or end not in ends:
      misaligned += 1
    span = (entity_type, covering[0], covering[-1] + 1)
    if entities and span[1] < entities[-1][2]:
      misaligned += 1  # Two entities inside one unit: keep the first.
      continue
    entities.append(span)
  return entities, misaligned


def read_cluener_file(path, split, scheme="bio", stats=None):
  """CLUENER2020 JSON lines -> [NerExample] with unit tags in `scheme`."""
  examples = []
  for line_number, line in _lines(path):
    if not line.strip():
      continue
    where = "%s:%d" % (path, line_number)
    try:
      record = json.loads(line)
    except ValueError as e:
      raise NerDataError("%s: invalid JSON (%s)" % (where, e)) from None
    if not isinstance(record, dict) or not isinstance(record.get("text"), str):
      raise NerDataError("%s: expected an object with a string \"text\"" %
                         where)
    text = record["text"]
    offsets = text_units(text)
    char_entities = _cluener_entities(record, text, where)
    tags = None
    if char_entities is not None:
      entities, misaligned = unit_entities(char_entities, offsets)
      if misaligned and stats is not None:
        stats["misaligned_entities"] = (stats.get("misaligned_entities", 0) +
                                        misaligned)
      tags = ner_metrics.entities_to_tags(entities, len(offsets), scheme)
    examples.append(NerExample(
        "%s-%d" % (split, len(examples)),
        [text[start:end] for start, end in offsets], tags, path,
        [line_number] * max(len(offsets), 1), text=text, offsets=offsets,
        char_entities=char_entities, record_id=record.get("id")))
  return examples


def text_example(text, guid="text-0"):
  """An untagged example of raw text (the predictor's input)."""
  offsets = text_units(text)
  return NerExample(guid, [text[start:end] for start, end in offsets], None,
                    text=text, offsets=offsets)


def read_examples(task_name, path, split, scheme="bio", stats=None):
  """Reads one file of `task_name`; `scheme` is used by span formats only."""
  kind = _file_kind(task_name)
  if kind == "cluener":
    examples = read_cluener_file(path, split, scheme, stats)
  elif kind == "conll":
    examples = read_conll_file(path, split)
  else:
    examples = read_tag_file(path, split)
  tf.logging.info("Read %d %s sentences from %s", len(examples), split, path)
  return examples


# ----------------------------------------------------------------------------
# Labels.


def _scheme_from_labels(labels):
  prefixes = {label[0] for label in labels if label != ner_metrics.OUTSIDE}
  if prefixes & {"S", "E"}:
    return "bmes" if "M" in prefixes else "bioes"
  return "bio" if "B" in prefixes else ("io" if prefixes else "bio")


def parse_labels_flag(value, scheme=None):
  """--labels: tags ("O,B-PER,I-PER") or entity types ("PER,LOC").

  Returns (labels with "O" first, scheme). Types are expanded with `scheme`
  (BIO when None); tags set the scheme unless one is given.
  """
  items = [item.strip() for item in value.split(",") if item.strip()]
  if not items:
    raise ValueError("--labels=%r names no labels" % value)
  if len(set(items)) != len(items):
    raise ValueError("--labels=%r repeats a label" % value)
  as_tags = []
  for item in items:
    try:
      as_tags.append(ner_metrics.parse_tag(item))
    except ner_metrics.TagError:
      as_tags = None
      break
  if as_tags is None or all(prefix == ner_metrics.OUTSIDE
                            for prefix, _ in as_tags):
    types = [item for item in items if item != ner_metrics.OUTSIDE]
    scheme = scheme or "bio"
    return ner_metrics.labels_for_scheme(types, scheme), scheme
  labels = [ner_metrics.OUTSIDE] + [item for item in items
                                    if item != ner_metrics.OUTSIDE]
  return labels, scheme or _scheme_from_labels(labels)


def build_labels(train_examples, scheme=None, labels_flag=None):
  """(labels, scheme) from --labels, else from the training tags.

  The label list holds every tag the scheme can write for the types seen
  ("O" first, id 0), so a dev tag of a known type is never unseen; a scheme
  detected from the tags is used unless `scheme` says otherwise.
  """
  if labels_flag:
    return parse_labels_flag(labels_flag, scheme)
  sequences = [example.tags for example in train_examples if example.tags]
  if not sequences:
    raise ValueError("The training file has no tags to take labels from: "
                     "pass --labels")
  scheme = scheme or ner_metrics.detect_scheme(sequences)
  types = set()
  for tags in sequences:
    types.update(ner_metrics.parse_tag(tag)[1] for tag in tags)
  types.discard("")
  return ner_metrics.labels_for_scheme(types, scheme), scheme


def check_tags(examples, labels, scheme):
  """Every tag must be a label: an unseen tag names its file and line."""
  known = set(labels)
  for example in examples:
    for index, tag in enumerate(example.tags or ()):
      if tag not in known:
        raise NerDataError(
            "%s: tag %r is not among the labels (%s%s); fix the tag, pass "
            "--labels listing it, or --tag_scheme if the scheme was detected "
            "wrongly (now %s)" % (
                example.where(index), tag, ", ".join(labels[:12]),
                ", ..." if len(labels) > 12 else "", scheme))


# ----------------------------------------------------------------------------
# Alignment, windows and records.


@dataclasses.dataclass
class Alignment:
  """WordPiece/SentencePiece pieces of a sentence.

  piece_ids: vocab ids of all pieces, in order.
  first_piece: for each word, the index of its first piece.
  num_empty: words that tokenized to nothing (given one [UNK] piece).
  """
  piece_ids: List[int]
  first_piece: List[int]
  num_empty: int = 0


def align(example, tokenizer):
  """Tokenizes each word alone; returns its Alignment."""
  piece_ids, first_piece = [], []
  num_empty = 0
  for word in example.words:
    pieces = tokenizer.tokenize(word)
    first_piece.append(len(piece_ids))
    if pieces:
      piece_ids.extend(tokenizer.convert_tokens_to_ids(pieces))
    else:
      # A word of only dropped characters (controls): [UNK] keeps its place,
      # so it still gets a prediction and words map to pieces one to one.
      piece_ids.append(_unk_id(tokenizer))
      num_empty += 1
  return Alignment(piece_ids, first_piece, num_empty)


def _unk_id(tokenizer):
  if tokenizer.sp_model:
    return tokenizer.sp_model.unk_id()
  return tokenizer.vocab[tokenization.UNK_TOKEN]


def windows(num_pieces, max_pieces):
  """[start, end) piece windows covering a sentence.

  One window when it fits; else windows of max_pieces every max_pieces // 2
  pieces, the last one flush with the end, so every piece has a window where
  it has at least a quarter window of context on each side (or sits near an
  end of the sentence).
  """
  if num_pieces <= max_pieces:
    return [(0, num_pieces)]
  stride = max(max_pieces // 2, 1)
  starts = list(range(0, num_pieces - max_pieces, stride))
  starts.append(num_pieces - max_pieces)
  return [(start, start + max_pieces) for start in starts]


def example_records(examples, tokenizer, label_map, max_seq_length,
                    stats=None):
  """Yields one record per window of each example (the core's record dicts).

  Args:
    examples: NerExamples (tags may be None: labels are then all 0).
    tokenizer: tokenization.FullTokenizer.
    label_map: tag -> id.
    max_seq_length: pieces per record including [CLS] and [SEP].
    stats: dict updated with counts: sentences, windows, split_sentences,
      words, words_without_pieces.
  """
  if max_seq_length < 3:
    raise ValueError("--max_seq_length=%d leaves no room for tokens besides "
                     "[CLS] and [SEP]" % max_seq_length)
  stats = stats if stats is not None else {}
  counts = collections.Counter()
  cls_id, sep_id = tokenizer.convert_tokens_to_ids(
      _special_tokens(tokenizer))
  record_index = 0
  for sentence_index, example in enumerate(examples):
    alignment = align(example, tokenizer)
    piece_label = [0] * len(alignment.piece_ids)
    piece_mask = [0] * len(alignment.piece_ids)
    for word_index, piece in enumerate(alignment.first_piece):
      piece_mask[piece] = 1
      if example.tags is not None:
        piece_label[piece] = label_map[example.tags[word_index]]
    counts["words_without_pieces"] += alignment.num_empty
    spans = windows(len(alignment.piece_ids), max_seq_length - 2)
    counts["sentences"] += 1
    counts["words"] += len(example.words)
    counts["windows"] += len(spans)
    counts["split_sentences"] += len(spans) > 1
    for start, end in spans:
      # The first word whose first piece lies in the window.
      first_word = bisect.bisect_left(alignment.first_piece, start)
      yield {
          "input_ids": [cls_id] + alignment.piece_ids[start:end] + [sep_id],
          "input_mask": [1] * (end - start + 2),
          "segment_ids": [0] * (end - start + 2),
          "label_ids": [0] + piece_label[start:end] + [0],
          "label_mask": [0] + piece_mask[start:end] + [0],
          "sentence_index": sentence_index,
          "window_start": start,
          "first_word": first_word,
          "example_index": record_index,
          "is_real_example": 1,
      }
      record_index += 1
  for key, value in counts.items():
    stats[key] = stats.get(key, 0) + value


def _special_tokens(tokenizer):
  if tokenizer.sp_model:
    return ["[CLS]", "[SEP]"]
  return [tokenization.CLS_TOKEN, tokenization.SEP_TOKEN]


def merge_windows(num_words, window_predictions):
  """Per-word tag ids of each sentence from its windows' predictions.

  Args:
    num_words: number of words of each sentence.
    window_predictions: iterable of dicts (one per record) with
      sentence_index, first_word, input_mask [T], label_mask [T] and
      tag_ids [T]; position 0 is [CLS], and past the window everything is
      padding (input_mask 0).

  Returns:
    list (per sentence) of lists of tag ids; each word's tag comes from the
    window where its first piece has the most context on its nearer side
    (ties: the earlier window).
  """
  merged = [[0] * count for count in num_words]
  centrality = [[-1] * count for count in num_words]
  for prediction in window_predictions:
    sentence = int(prediction["sentence_index"])
    num_pieces = int(sum(prediction["input_mask"])) - 2
    label_mask = prediction["label_mask"]
    tag_ids = prediction["tag_ids"]
    word = int(prediction["first_word"])
    for position in range(1, num_pieces + 1):
      if not label_mask[position]:
        continue
      score = min(position - 1, num_pieces - position)
      if score > centrality[sentence][word]:
        centrality[sentence][word] = score
        merged[sentence][word] = int(tag_ids[position])
      word += 1
  missing = [(sentence, word) for sentence, scores in enumerate(centrality)
             for word, score in enumerate(scores) if score < 0]
  if missing:
    raise ValueError("%d words got no prediction (first: sentence %d word "
                     "%d): the predictions do not cover every record" %
                     (len(missing), missing[0][0], missing[0][1]))
  return merged


# ----------------------------------------------------------------------------
# Outputs: from word tags back to the input's own units and format.


def char_entities(example, word_tags):
  """(type, start, end_exclusive) character spans of a text example's
  predicted word tags (words are units of example.text)."""
  return [(entity_type, example.offsets[start][0], example.offsets[end - 1][1])
          for entity_type, start, end in ner_metrics.get_entities(word_tags)]


def output_tags(example, word_tags, scheme):
  """Tags on the input's own units: characters for CLUENER (what the gold
  file's spans are scored on), else the words themselves."""
  if example.offsets is None:
    return list(word_tags)
  return ner_metrics.entities_to_tags(char_entities(example, word_tags),
                                      len(example.text), scheme)


def gold_output_tags(example, scheme):
  """The gold tags on the input's own units (see output_tags)."""
  if example.offsets is None:
    return list(example.tags)
  return ner_metrics.entities_to_tags(example.char_entities, len(example.text),
                                      scheme)


def cluener_label(text, entities):
  """CLUENER's label object for (type, start, end_exclusive) spans."""
  label = {}
  for entity_type, start, end in entities:
    mentions = label.setdefault(entity_type, {})
    mentions.setdefault(text[start:end], []).append([start, end - 1])
  return label


def prediction_lines(task_name, examples, word_tags):
  """Lines of the prediction file, in the input's format.

  msra/bio: `token<separator>tag` lines with a blank line after each
  sentence; conll: each input line with its tag column replaced (appended
  when the input had none; -DOCSTART- lines are not repeated); cluener: one
  JSON object per line with `id` (when the input had one), `text` and the
  predicted `label`.
  """
  kind = _file_kind(task_name)
  lines = []
  for example, tags in zip(examples, word_tags):
    if kind == "cluener":
      record = {} if example.record_id is None else {"id": example.record_id}
      record["text"] = example.text
      record["label"] = cluener_label(example.text,
                                      char_entities(example, tags))
      lines.append(json.dumps(record, ensure_ascii=False))
      continue
    for index, tag in enumerate(tags):
      if kind == "conll":
        fields = example.lines[index].split()
        if example.tags is not None:
          fields = fields[:-1]
        lines.append(" ".join(fields + [tag]))
      else:
        lines.append("%s%s%s" % (example.words[index], example.separator, tag))
    lines.append("")
  return lines
