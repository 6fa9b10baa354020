# coding=utf-8
"""Tags, tag schemes and entity scores for sequence labelling (run_ner.py).

Everything here is pure Python on lists of tag strings:

  * `parse_tag` / `detect_scheme`: the tag schemes NER data sets use --
    BIO (IOB2), IOB1 (CoNLL-2003's original: `I-` starts an entity, `B-` only
    separates two adjacent entities of one type), BIOES (`S-` single, `E-`
    end; BMES writes `M-` for `I-`) and IO.
  * `get_entities`: tags -> (type, start, end) chunks with conlleval's rules,
    so a scheme's tags and a model's (possibly invalid) guesses are read the
    way the CoNLL scoring script reads them: an entity starts at `B-X`/`S-X`,
    or at `I-X`/`E-X` after `O`, after an entity's end or after another type
    (a stray `I-` starts an entity).
  * `entities_to_tags`: spans -> tags of a scheme (CLUENER spans to training
    tags, predicted spans back to the input's own format).
  * `evaluate`: entity precision/recall/F1 (micro over all types, and per
    type) and token accuracy, as conlleval computes them.
"""

import collections

OUTSIDE = "O"
SCHEMES = ("bio", "iob1", "bioes", "bmes", "io")
# Prefixes a tag may carry; M (BMES) is read as I.
_PREFIXES = frozenset("BIMES")


class TagError(ValueError):
  """A tag that no scheme can read (message says which and why)."""


def parse_tag(tag):
  """(prefix, type) of a tag: "B-PER" -> ("B", "PER"), "O" -> ("O", "").

  "M-" (BMES) is returned as "I". The type may itself contain "-" (only the
  first one separates). Raises TagError for anything else.
  """
  if tag == OUTSIDE:
    return OUTSIDE, ""
  prefix, sep, entity_type = tag.partition("-")
  if not sep or prefix not in _PREFIXES or not entity_type:
    raise TagError(
        "tag %r is neither O nor <prefix>-<type> with prefix B, I, M, E or S "
        "(e.g. B-PER)" % tag)
  return ("I" if prefix == "M" else prefix), entity_type


def entity_types(tags):
  """Sorted entity types named by a collection of tags."""
  return sorted({parse_tag(tag)[1] for tag in tags} - {""})


def detect_scheme(tag_sequences):
  """The scheme a data set's tags are written in.

  Args:
    tag_sequences: iterable of tag lists (one per sentence).

  Returns:
    "bioes" (S-/E- seen), "bmes" (M- seen with S-/E-), "iob1" (I-X starts
    entities after O or another type, and B-X appears only right after an X:
    the original CoNLL-2003 tags), "bio" (any other use of B-; a stray I- in
    BIO data is an annotation slip, not a reason to change the decoding
    rules), or "io" (only I- and O).
  """
  prefixes = set()
  stray_inside = fresh_begin = False
  for tags in tag_sequences:
    previous = (OUTSIDE, "")
    for tag in tags:
      prefix, entity_type = parse_tag(tag)
      prefixes.add(tag[0] if tag != OUTSIDE else OUTSIDE)
      continues = (previous[0] in ("B", "I") and previous[1] == entity_type)
      if prefix == "I" and not continues:
        stray_inside = True
      if prefix == "B" and not continues:
        fresh_begin = True
      previous = (prefix, entity_type)
  if prefixes & {"S", "E"}:
    return "bmes" if "M" in prefixes else "bioes"
  if "B" in prefixes:
    return "iob1" if stray_inside and not fresh_begin else "bio"
  if "I" in prefixes:
    # Only I- and O: IO tags (each run of one type is one entity).
    return "io"
  return "bio"  # Only O: nothing to tell apart; BIO is the common default.


def check_scheme(scheme, flag_name="tag_scheme"):
  """Returns the scheme lower-cased, or raises naming the flag."""
  value = (scheme or "").strip().lower()
  if value not in SCHEMES:
    raise ValueError("--%s=%r: use one of %s (or leave it empty to detect the "
                     "scheme from the training tags)" %
                     (flag_name, scheme, ", ".join(SCHEMES)))
  return value


def _ends(previous_prefix, previous_type, prefix, entity_type):
  """conlleval's endOfChunk, with S- handled as single-token entities."""
  if previous_prefix in ("E", "S"):
    return True
  if previous_prefix in ("B", "I") and prefix in ("B", "S", OUTSIDE):
    return True
  return previous_prefix != OUTSIDE and previous_type != entity_type


def _starts(previous_prefix, previous_type, prefix, entity_type):
  """conlleval's startOfChunk, with S- handled as single-token entities."""
  if prefix in ("B", "S"):
    return True
  if previous_prefix in ("E", "S", OUTSIDE) and prefix in ("I", "E"):
    return True
  return prefix != OUTSIDE and previous_type != entity_type


def get_entities(tags):
  """Entities of a tag sequence as (type, start, end_exclusive), in order.

  Follows conlleval: any tag sequence (also an invalid guess) is read, e.g.
  ["O", "I-PER", "I-PER"] has one PER entity (1, 3) and ["B-PER", "I-LOC"]
  has two.
  """
  entities = []
  previous_prefix, previous_type = OUTSIDE, ""
  start = None
  for index, tag in enumerate(tags):
    prefix, entity_type = parse_tag(tag)
    if start is not None and _ends(previous_prefix, previous_type, prefix,
                                   entity_type):
      entities.append((previous_type, start, index))
      start = None
    if _starts(previous_prefix, previous_type, prefix, entity_type):
      start = index
    previous_prefix, previous_type = prefix, entity_type
  if start is not None:
    entities.append((previous_type, start, len(tags)))
  return entities


def entities_to_tags(entities, length, scheme):
  """Tags of `length` tokens with the given (type, start, end) entities.

  Raises ValueError for overlapping entities or spans outside [0, length).
  IOB1 output writes B- only where an entity follows one of the same type.
  """
  scheme = check_scheme(scheme)
  tags = [OUTSIDE] * length
  previous_end, previous_type = None, None
  for entity_type, start, end in sorted(entities, key=lambda e: e[1]):
    if not 0 <= start < end <= length:
      raise ValueError("entity %s [%d, %d) is outside a sentence of %d tokens"
                       % (entity_type, start, end, length))
    if any(tag != OUTSIDE for tag in tags[start:end]):
      raise ValueError("entity %s [%d, %d) overlaps another entity" %
                       (entity_type, start, end))
    inside = "M" if scheme == "bmes" else "I"
    if scheme in ("bioes", "bmes"):
      if end - start == 1:
        tags[start] = "S-" + entity_type
      else:
        tags[start] = "B-" + entity_type
        middle = end - start - 2
        tags[start + 1:end - 1] = [inside + "-" + entity_type] * middle
        tags[end - 1] = "E-" + entity_type
    else:
      tags[start:end] = ["I-" + entity_type] * (end - start)
      adjacent_same = previous_end == start and previous_type == entity_type
      if scheme == "bio" or (scheme == "iob1" and adjacent_same):
        tags[start] = "B-" + entity_type
    previous_end, previous_type = end, entity_type
  return tags


def labels_for_scheme(types, scheme):
  """Every tag a scheme can write for `types`, "O" first (label id 0)."""
  scheme = check_scheme(scheme)
  prefixes = {"bio": "BI", "iob1": "BI", "io": "I", "bioes": "BIES",
              "bmes": "BMES"}[scheme]
  return [OUTSIDE] + ["%s-%s" % (prefix, entity_type)
                      for entity_type in sorted(types) for prefix in prefixes]


def _scores(correct, num_predicted, num_gold):
  precision = correct / num_predicted if num_predicted else 0.0
  recall = correct / num_gold if num_gold else 0.0
  f1 = (2 * precision * recall / (precision + recall)
        if precision + recall else 0.0)
  return precision, recall, f1


def evaluate(gold_sequences, predicted_sequences):
  """Entity-level scores and token accuracy of predicted tag sequences.

  Args:
    gold_sequences, predicted_sequences: lists of tag lists, sentence by
      sentence, equal lengths (a ValueError names the first mismatch).

  Returns:
    dict with "precision", "recall", "f1" (micro over all entities, 0..1),
    "token_accuracy", the counts "num_gold", "num_predicted", "num_correct",
    "num_tokens", and "per_type": {type: {"precision", "recall", "f1",
    "num_gold", "num_predicted", "num_correct"}} for every type seen in either.
  """
  if len(gold_sequences) != len(predicted_sequences):
    raise ValueError("%d gold sentences but %d predicted ones" %
                     (len(gold_sequences), len(predicted_sequences)))
  gold_counts = collections.Counter()
  predicted_counts = collections.Counter()
  correct_counts = collections.Counter()
  num_tokens = num_correct_tokens = 0
  for index, (gold, predicted) in enumerate(zip(gold_sequences,
                                                predicted_sequences)):
    if len(gold) != len(predicted):
      raise ValueError("sentence %d has %d gold tags but %d predicted ones" %
                       (index, len(gold), len(predicted)))
    gold_entities = get_entities(gold)
    predicted_entities = get_entities(predicted)
    gold_counts.update(entity[0] for entity in gold_entities)
    predicted_counts.update(entity[0] for entity in predicted_entities)
    correct_counts.update(entity[0] for entity in
                          set(gold_entities) & set(predicted_entities))
    num_tokens += len(gold)
    num_correct_tokens += sum(g == p for g, p in zip(gold, predicted))
  precision, recall, f1 = _scores(sum(correct_counts.values()),
                                  sum(predicted_counts.values()),
                                  sum(gold_counts.values()))
  per_type = {}
  for entity_type in sorted(set(gold_counts) | set(predicted_counts)):
    type_precision, type_recall, type_f1 = _scores(
        correct_counts[entity_type], predicted_counts[entity_type],
        gold_counts[entity_type])
    per_type[entity_type] = {
        "precision": type_precision, "recall": type_recall, "f1": type_f1,
        "num_gold": gold_counts[entity_type],
        "num_predicted": predicted_counts[entity_type],
        "num_correct": correct_counts[entity_type]}
  return {
      "precision": precision, "recall": recall, "f1": f1,
      "token_accuracy": num_correct_tokens / num_tokens if num_tokens else 0.0,
      "num_gold": sum(gold_counts.values()),
      "num_predicted": sum(predicted_counts.values()),
      "num_correct": sum(correct_counts.values()),
      "num_tokens": num_tokens,
      "per_type": per_type,
  }


def flatten_results(results, prefix="eval_"):
  """{key: value} lines for eval_results.txt: eval_f1, eval_PER_f1, ..."""
  flat = {}
  for key, value in results.items():
    if key == "per_type":
      for entity_type, scores in value.items():
        for name, score in scores.items():
          flat["%s%s_%s" % (prefix, entity_type, name)] = score
    else:
      flat[prefix + key] = value
  return flat
