# coding=utf-8
"""Low-latency sentence-pair classifier (albert_zh's similarity.py, rebuilt).

Loads a SavedModel written by run_classifier.py --export_dir once, keeps one
session open, and classifies raw text pairs: each call tokenizes, pads only to
the longest pair of the call and runs the graph -- nothing is rebuilt or
reloaded per request (the original Estimator path took 200+ ms per sentence).

From Python:
  from similarity import SimilarityPredictor
  predictor = SimilarityPredictor("out/export/classifier")
  label, probabilities = predictor.predict_pair("怎么开初婚未育证明", "初婚未育证明怎么开")
  results = predictor.predict([(a1, b1), (a2, b2)])   # [(label, probs), ...]

As a command (one pair on the command line, printing
`label<TAB>probabilities`; or `text_a<TAB>text_b` lines on stdin, printing
exactly one `line_number<TAB>label<TAB>probabilities` line per input line, or
`line_number<TAB>ERROR<TAB>reason` for a line that cannot be scored, so the
output never falls out of step with the input; the exit status is 1 when any
line failed):
  python similarity.py --saved_model=out/export/classifier 怎么开初婚未育证明 初婚未育证明怎么开
  python similarity.py --saved_model=out/export/classifier < pairs.tsv

Texts are checked as run_classifier.py checks its rows: an empty text, or a
single text for a sentence-pair model, is an error, never scored silently.
"""

import sys

from absl import app
from absl import flags
import numpy as np
import tensorflow.compat.v1 as tf

import classifier_data
import export
import shared_flags

FLAGS = flags.FLAGS

shared_flags.define("saved_model", "num_threads")
flags.DEFINE_bool(
    "pair", None,
    "--pair: the model classifies text pairs (a single text is an error); "
    "--nopair: single texts (a second text is an error). Default: what the "
    "export records, else both are accepted.")

# The label column of a stdin line that could not be scored.
ERROR_MARKER = "ERROR"


class TextError(ValueError):
  """A text pair that cannot be scored (message = the reason)."""


def check_texts(text_a, text_b, is_pair):
  """Raises TextError when (text_a, text_b) cannot be scored.

  The rules of run_classifier.py's readers: text_a must hold more than
  whitespace; a pair model needs a non-empty text_b; a single-text model takes
  no text_b. is_pair None (unknown) accepts both, but a text_b that is given
  must not be empty.
  """
  if not text_a or not text_a.strip():
    raise TextError("empty text_a")
  if is_pair and (text_b is None or not text_b.strip()):
    raise TextError("empty text_b (this is a sentence-pair model)")
  if is_pair is False and text_b is not None:
    raise TextError("text_b given, but this is a single-text model")
  if text_b is not None and not text_b.strip():
    raise TextError("empty text_b")


def parse_line(line, is_pair):
  """(text_a, text_b or None) from a `text_a[<TAB>text_b]` line; TextError."""
  fields = line.rstrip("\r\n").split("\t")
  if is_pair is False:
    allowed, expected = (1,), "text_a (this is a single-text model)"
  elif is_pair:
    allowed, expected = (1, 2), "text_a<TAB>text_b"
  else:
    allowed, expected = (1, 2), "text_a or text_a<TAB>text_b"
  if len(fields) not in allowed:
    raise TextError("expected %s, found %d tab-separated columns" %
                    (expected, len(fields)))
  text_a = fields[0]
  text_b = fields[1] if len(fields) == 2 else None
  check_texts(text_a, text_b, is_pair)
  return text_a, text_b


class SimilarityPredictor(object):
  """Classifies text pairs (or single texts) with one loaded SavedModel."""

  def __init__(self, saved_model, num_threads=0, is_pair=None):
    """Loads the newest SavedModel under `saved_model`.

    Args:
      is_pair: True for a sentence-pair model, False for single texts, None:
        what the export's info records (if it does not, both are accepted).
    """
    self._runner = export.SavedModelRunner(
        saved_model, info_file=export.CLASSIFIER_INFO_FILE,
        num_threads=num_threads)
    info = self._runner.info
    self.labels = info["labels"]
    self.max_seq_length = info["max_seq_length"]
    self.tokenizer = self._runner.tokenizer
    self._label_map = {label: i for i, label in enumerate(self.labels)}
    self.is_pair = info.get("is_pair") if is_pair is None else is_pair
    if self.is_pair is None:
      tf.logging.warning(
          "%s does not record whether the model classifies pairs or single "
          "texts: both are accepted, so a missing text_b cannot be caught. "
          "Pass is_pair (--pair or --nopair) to check.", self._runner.path)
    tf.logging.info("Labels: %s", ", ".join(self.labels))

  def check(self, pairs):
    """Raises TextError naming the first pair (by index) that is unscorable."""
    for index, (text_a, text_b) in enumerate(pairs):
      try:
        check_texts(text_a, text_b, self.is_pair)
      except TextError as e:
        raise TextError("pair %d: %s" % (index, e)) from None

  def encode(self, pairs):
    """Token id arrays [n, longest] for (text_a, text_b or None) pairs."""
    self.check(pairs)
    features = [classifier_data.convert_single_example(
        classifier_data.InputExample(str(i), text_a, text_b), self._label_map,
        self.max_seq_length, self.tokenizer)
                for i, (text_a, text_b) in enumerate(pairs)]
    return export.pad_batch([[f.input_ids for f in features],
                             [f.input_mask for f in features],
                             [f.segment_ids for f in features]])

  def predict_proba(self, pairs):
    """Class probabilities [n, num_labels] (columns in `self.labels` order)."""
    if not pairs:
      return np.zeros([0, len(self.labels)], np.float32)
    feed = dict(zip(("input_ids", "input_mask", "segment_ids"),
                    self.encode(pairs)))
    return self._runner.run(feed, ["probabilities"])["probabilities"]

  def predict(self, pairs):
    """[(label, probabilities), ...] for a list of (text_a, text_b) pairs."""
    probabilities = self.predict_proba(pairs)
    return [(self.labels[int(p.argmax())], p) for p in probabilities]

  def predict_pair(self, text_a, text_b=None):
    """(label, probabilities) for one pair (or one text)."""
    return self.predict([(text_a, text_b)])[0]

  def close(self):
    self._runner.close()


def _format(label, probabilities):
  return "%s\t%s" % (label, " ".join("%.4f" % p for p in probabilities))


def score_lines(predictor, lines):
  """Yields (output line, scored) for each input line, in order.

  The output line is `n<TAB>label<TAB>probabilities`, or
  `n<TAB>ERROR<TAB>reason` when the line cannot be scored; n counts every line from 1, blank ones too.
  """
  for line_number, line in enumerate(lines, start=1):
    try:
      pair = parse_line(line, predictor.is_pair)
    except TextError as e:
      yield "%d\t%s\t%s" % (line_number, ERROR_MARKER, e), False
      continue
    label, probabilities = predictor.predict_pair(*pair)
    yield "%d\t%s" % (line_number, _format(label, probabilities)), True


def main(argv):
  if not FLAGS.saved_model:
    raise app.UsageError("--saved_model is required.")
  texts = argv[1:]
  if len(texts) > 2:
    raise app.UsageError("Pass one pair (two texts), one text, or none to read "
                         "text_a<TAB>text_b lines from stdin.")
  predictor = SimilarityPredictor(FLAGS.saved_model, FLAGS.num_threads,
                                  is_pair=FLAGS.pair)
  if texts:
    try:
      check_texts(texts[0], texts[1] if len(texts) == 2 else None,
                  predictor.is_pair)
    except TextError as e:
      raise app.UsageError("Cannot score the texts given: %s." % e)
    print(_format(*predictor.predict_pair(*texts)))
    return 0
  num_lines = num_failed = 0
  for output, scored in score_lines(predictor, sys.stdin):
    print(output, flush=True)
    num_lines += 1
    num_failed += not scored
  if num_failed:
    print("%d of %d stdin lines could not be scored (marked %s in the "
          "output)" % (num_failed, num_lines, ERROR_MARKER), file=sys.stderr)
    return 1
  return 0


if __name__ == "__main__":
  app.run(main)
