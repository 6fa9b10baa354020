# coding=utf-8
"""The official span-extraction metrics: SQuAD v1.1, SQuAD v2.0, CMRC2018.

Each follows its official evaluation script's rules (no network, no NLTK):

  * SQuAD v1.1: normalise (lower-case, drop string.punctuation and the
    articles a/an/the, collapse whitespace); EM = equal normalised strings;
    F1 over whitespace tokens (multiset overlap); each question scores its
    best gold answer; a question without a prediction scores 0.
  * SQuAD v2.0: as v1.1, but an unanswerable question's gold is "" (EM and
    F1 are 1 only for an empty prediction); with null odds, a prediction
    whose odds exceed the threshold becomes ""; HasAns_/NoAns_ figures and
    the best EM/F1 over thresholds at the null-odds values. Questions
    without a prediction are left out of the totals (as the official script).
  * CMRC2018 ("mixed segmentation"): lower-case and strip; every character in
    U+4E00-U+9FA5 is a segment of its own, other runs are split into words;
    the listed punctuation is removed; F1 from the longest common
    *contiguous* run of segments; EM on the strings without that
    punctuation. The official script splits non-Chinese runs with NLTK's
    word_tokenize (which needs a downloaded model); we split them into
    runs of word characters and single other characters, which agrees with
    it on ordinary words, numbers and punctuation.

Gold answers are given as {question id: [answer texts]} ([] = unanswerable),
predictions as {question id: text}. All figures are percentages (0-100).
"""

import collections
import re
import string

SQUAD = "squad"
CMRC2018 = "cmrc2018"
METRICS = (SQUAD, CMRC2018)

# ----------------------------------------------------------------------------
# SQuAD.

_ARTICLES_RE = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = frozenset(string.punctuation)


def normalize_answer(text):
  """Lower-case, drop punctuation and articles, collapse whitespace."""
  text = "".join(char for char in text.lower() if char not in _PUNCTUATION)
  text = _ARTICLES_RE.sub(" ", text)
  return " ".join(text.split())


def squad_exact(gold, prediction):
  return float(normalize_answer(gold) == normalize_answer(prediction))


def squad_f1(gold, prediction, empty_matches_empty=False):
  """Token F1; with empty_matches_empty (v2.0), two empty answers score 1."""
  gold_tokens = normalize_answer(gold).split()
  prediction_tokens = normalize_answer(prediction).split()
  if empty_matches_empty and (not gold_tokens or not prediction_tokens):
    return float(gold_tokens == prediction_tokens)
  common = collections.Counter(gold_tokens) & collections.Counter(
      prediction_tokens)
  overlap = sum(common.values())
  if overlap == 0:
    return 0.0
  precision = overlap / len(prediction_tokens)
  recall = overlap / len(gold_tokens)
  return 2 * precision * recall / (precision + recall)


# ----------------------------------------------------------------------------
# CMRC2018.

# The official list, as written there ("……" is two characters and so never
# matches a single character; we keep the list as it is).
CMRC_PUNCTUATION = frozenset([
    "-", ":", "_", "*", "^", "/", "\\", "~", "`", "+", "=", "，", "。", "：",
    "？", "！", "“", "”", "；", "’", "《", "》", "……", "·", "、", "「", "」",
    "（", "）", "－", "～", "『", "』"])
_WORD_RE = re.compile(r"\w+|[^\w\s]")


def _is_cmrc_chinese(char):
  return "\u4e00" <= char <= "\u9fa5"


def mixed_segmentation(text, remove_punctuation=False):
  """CMRC2018's segments: Chinese characters one by one, other runs as words.

  As in the official script, with remove_punctuation the listed characters
  are skipped without ending the current non-Chinese run.
  """
  text = text.lower().strip()
  segments = []
  run = []

  def flush():
    if run:
      segments.extend(_WORD_RE.findall("".join(run)))
      del run[:]

  for char in text:
    if remove_punctuation and char in CMRC_PUNCTUATION:
      continue
    if _is_cmrc_chinese(char) or char in CMRC_PUNCTUATION:
      flush()
      segments.append(char)
    else:
      run.append(char)
  flush()
  return segments


def cmrc_remove_punctuation(text):
  return "".join(char for char in text.lower().strip()
                 if char not in CMRC_PUNCTUATION)


def longest_common_run(first, second):
  """Length of the longest common contiguous run of two sequences."""
  best = 0
  previous = [0] * (len(second) + 1)
  for item in first:
    current = [0] * (len(second) + 1)
    for j, other in enumerate(second):
      if item == other:
        current[j + 1] = previous[j] + 1
        best = max(best, current[j + 1])
    previous = current
  return best


def cmrc_exact(gold, prediction):
  return float(cmrc_remove_punctuation(gold) ==
               cmrc_remove_punctuation(prediction))


def cmrc_f1(gold, prediction):
  gold_segments = mixed_segmentation(gold, remove_punctuation=True)
  prediction_segments = mixed_segmentation(prediction, remove_punctuation=True)
  overlap = longest_common_run(gold_segments, prediction_segments)
  if overlap == 0:
    return 0.0
  precision = overlap / len(prediction_segments)
  recall = overlap / len(gold_segments)
  return 2 * precision * recall / (precision + recall)


# ----------------------------------------------------------------------------
# Per question.


def question_scores(golds, prediction, metric=SQUAD, version_2=False):
  """(exact, f1) of one prediction against its gold answers (best answer).

  With version_2, an unanswerable question (no gold answer; for SQuAD also
  answers that normalise to "") expects the empty prediction.
  """
  if metric == CMRC2018:
    if not golds:
      empty = float(not cmrc_remove_punctuation(prediction))
      return empty, empty
    return (max(cmrc_exact(g, prediction) for g in golds),
            max(cmrc_f1(g, prediction) for g in golds))
  if metric != SQUAD:
    raise ValueError("Unknown metric %r: use one of %s." % (metric, METRICS))
  if version_2:
    golds = [g for g in golds if normalize_answer(g)] or [""]
  elif not golds:
    return 0.0, 0.0
  return (max(squad_exact(g, prediction) for g in golds),
          max(squad_f1(g, prediction, empty_matches_empty=version_2)
              for g in golds))


# ----------------------------------------------------------------------------
# Whole data sets.


def evaluate_v1(gold, predictions, metric=SQUAD):
  """SQuAD v1.1 / CMRC2018 figures: exact_match, f1 (and CMRC's average).

  Questions without a prediction count as wrong (both official scripts).
  """
  total, exact_sum, f1_sum, missing = 0, 0.0, 0.0, 0
  for qid, golds in gold.items():
    total += 1
    if qid not in predictions:
      missing += 1
      continue
    exact, f1 = question_scores(golds, predictions[qid], metric)
    exact_sum += exact
    f1_sum += f1
  results = collections.OrderedDict(
      exact_match=100.0 * exact_sum / max(total, 1),
      f1=100.0 * f1_sum / max(total, 1), total=total, missing=missing)
  if metric == CMRC2018:
    results["average"] = (results["exact_match"] + results["f1"]) / 2
  return results


def _averages(exact, f1, qids, prefix=""):
  figures = collections.OrderedDict()
  figures[prefix + "exact"] = 100.0 * sum(exact[q] for q in qids) / len(qids)
  figures[prefix + "f1"] = 100.0 * sum(f1[q] for q in qids) / len(qids)
  figures[prefix + "total"] = len(qids)
  return figures


def apply_threshold(scores, null_odds, has_answer, threshold):
  """Scores after emptying predictions whose null odds exceed `threshold`."""
  return {qid: (float(not has_answer[qid]) if null_odds[qid] > threshold
                else score) for qid, score in scores.items()}


def find_best_threshold(predictions, scores, null_odds, has_answer):
  """(best score in %, threshold): the official find_best_thresh.

  Starting with every answer emptied, questions are un-emptied in order of
  increasing null odds; the best running score picks the threshold.
  """
  score = sum(1 for qid in scores if not has_answer[qid])
  best_score, best_threshold = score, 0.0
  for qid in sorted(scores, key=lambda q: null_odds[q]):
    if has_answer[qid]:
      score += scores[qid]
    elif predictions[qid]:
      score -= 1
    if score > best_score:
      best_score, best_threshold = score, null_odds[qid]
  return 100.0 * best_score / len(scores), best_threshold


def evaluate_v2(gold, predictions, null_odds=None, threshold=1.0,
                metric=SQUAD):
  """The SQuAD v2.0 figures (official keys), with exact_match as an alias.

  Args:
    gold: {qid: [answer texts]}, [] for unanswerable questions.
    predictions: {qid: text} ("" = no answer).
    null_odds: optional {qid: float}; larger = more likely unanswerable.
    threshold: predictions with null odds above it count as "".
    metric: squad or cmrc2018 (how an answerable question is scored).
  """
  has_answer = {qid: bool(golds) for qid, golds in gold.items()}
  exact, f1 = {}, {}
  for qid, golds in gold.items():
    if qid in predictions:
      exact[qid], f1[qid] = question_scores(golds, predictions[qid], metric,
                                            version_2=True)
  if not exact:
    raise ValueError("No question of the data set has a prediction.")
  if null_odds is not None:
    missing = [qid for qid in exact if qid not in null_odds]
    if missing:
      raise ValueError("null odds lack %d predicted questions (e.g. %s)." %
                       (len(missing), missing[0]))
    exact_thresholded = apply_threshold(exact, null_odds, has_answer,
                                        threshold)
    f1_thresholded = apply_threshold(f1, null_odds, has_answer, threshold)
  else:
    exact_thresholded, f1_thresholded = exact, f1
  results = _averages(exact_thresholded, f1_thresholded, list(exact))
  for prefix, wanted in (("HasAns_", True), ("NoAns_", False)):
    qids = [qid for qid in exact if has_answer[qid] == wanted]
    if qids:
      results.update(_averages(exact_thresholded, f1_thresholded, qids,
                               prefix))
  if null_odds is not None:
    for name, scores in (("exact", exact), ("f1", f1)):
      best, best_threshold = find_best_threshold(predictions, scores,
                                                 null_odds, has_answer)
      results["best_" + name] = best
      results["best_%s_thresh" % name] = best_threshold
  results["exact_match"] = results["exact"]
  results["missing"] = len(gold) - len(exact)
  return results


def is_mostly_chinese(texts, sample_chars=20000):
  """True when CJK characters make up most letters of the (sampled) texts."""
  cjk = letters = 0
  for text in texts:
    for char in text:
      if char.isalpha():
        letters += 1
        cjk += _is_cmrc_chinese(char)
    if letters >= sample_chars:
      break
  return letters > 0 and cjk * 2 > letters


def default_metric(contexts):
  """cmrc2018 for Chinese contexts (SQuAD's whitespace tokens would make a
  whole Chinese answer one token), squad otherwise."""
  return CMRC2018 if is_mostly_chinese(contexts) else SQUAD
