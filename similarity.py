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

As a command (one pair, or `text_a<TAB>text_b` lines on stdin; prints
`label<TAB>probabilities` per pair):
  python similarity.py --saved_model=out/export/classifier 怎么开初婚未育证明 初婚未育证明怎么开
  python similarity.py --saved_model=out/export/classifier < pairs.tsv
"""

import json
import os
import sys

from absl import app
from absl import flags
import numpy as np
import tensorflow.compat.v1 as tf

import classifier_data
import export
import tokenization

FLAGS = flags.FLAGS

flags.DEFINE_string(
    "saved_model", None,
    "A SavedModel from run_classifier.py --export_dir (export_dir/classifier "
    "or one of its numbered versions).")
flags.DEFINE_integer("num_threads", 0,
                     "Threads per op (0: TensorFlow picks, all cores).")


class SimilarityPredictor(object):
  """Classifies text pairs (or single texts) with one loaded SavedModel."""

  def __init__(self, saved_model, num_threads=0):
    path = export.latest_saved_model(saved_model)
    extra_dir = os.path.join(path, "assets.extra")
    info_path = os.path.join(extra_dir, export.CLASSIFIER_INFO_FILE)
    if not tf.io.gfile.exists(info_path):
      raise ValueError("%s lacks assets.extra/%s (labels and tokenization); "
                       "export it with run_classifier.py --export_dir." %
                       (path, export.CLASSIFIER_INFO_FILE))
    with tf.io.gfile.GFile(info_path) as f:
      info = json.load(f)
    in_extra = lambda name: os.path.join(extra_dir, name) if name else None
    self.labels = info["labels"]
    self.max_seq_length = info["max_seq_length"]
    self.tokenizer = tokenization.FullTokenizer(
        vocab_file=in_extra(info["vocab_file"]),
        do_lower_case=info["do_lower_case"],
        spm_model_file=in_extra(info["spm_model_file"]))
    self._label_map = {label: i for i, label in enumerate(self.labels)}

    self._graph = tf.Graph()
    config = tf.ConfigProto(intra_op_parallelism_threads=num_threads,
                            inter_op_parallelism_threads=num_threads)
    self._session = tf.Session(graph=self._graph, config=config)
    meta_graph = tf.saved_model.loader.load(
        self._session, [tf.saved_model.tag_constants.SERVING], path)
    signature = meta_graph.signature_def[
        tf.saved_model.signature_constants.DEFAULT_SERVING_SIGNATURE_DEF_KEY]
    tensor = lambda info: self._graph.get_tensor_by_name(info.name)
    self._inputs = [tensor(signature.inputs[name]) for name in
                    ("input_ids", "input_mask", "segment_ids")]
    self._probabilities = tensor(signature.outputs["probabilities"])
    # Nothing may be added per request: a stray op would raise, not slow down.
    self._graph.finalize()
    tf.logging.info("Loaded %s (labels: %s)", path, ", ".join(self.labels))

  def encode(self, pairs):
    """Token id arrays [n, longest] for (text_a, text_b or None) pairs."""
    features = [classifier_data.convert_single_example(
        classifier_data.InputExample(str(i), text_a, text_b), self._label_map,
        self.max_seq_length, self.tokenizer)
                for i, (text_a, text_b) in enumerate(pairs)]
    longest = max(len(f.input_ids) for f in features)
    arrays = [np.zeros([len(features), longest], np.int32) for _ in range(3)]
    for row, f in enumerate(features):
      for array, values in zip(arrays, (f.input_ids, f.input_mask,
                                        f.segment_ids)):
        array[row, :len(values)] = values
    return arrays

  def predict_proba(self, pairs):
    """Class probabilities [n, num_labels] (columns in `self.labels` order)."""
    if not pairs:
      return np.zeros([0, len(self.labels)], np.float32)
    feed = dict(zip(self._inputs, self.encode(pairs)))
    return self._session.run(self._probabilities, feed_dict=feed)

  def predict(self, pairs):
    """[(label, probabilities), ...] for a list of (text_a, text_b) pairs."""
    probabilities = self.predict_proba(pairs)
    return [(self.labels[int(p.argmax())], p) for p in probabilities]

  def predict_pair(self, text_a, text_b=None):
    """(label, probabilities) for one pair (or one text)."""
    return self.predict([(text_a, text_b)])[0]

  def close(self):
    self._session.close()


def _format(label, probabilities):
  return "%s\t%s" % (label, " ".join("%.4f" % p for p in probabilities))


def main(argv):
  if not FLAGS.saved_model:
    raise app.UsageError("--saved_model is required.")
  texts = argv[1:]
  if len(texts) > 2:
    raise app.UsageError("Pass one pair (two texts), one text, or none to read "
                         "text_a<TAB>text_b lines from stdin.")
  predictor = SimilarityPredictor(FLAGS.saved_model, FLAGS.num_threads)
  if texts:
    print(_format(*predictor.predict_pair(*texts)))
    return
  for line_number, line in enumerate(sys.stdin, start=1):
    fields = line.rstrip("\r\n").split("\t")
    if len(fields) > 2 or not fields[0].strip():
      print("stdin:%d: expected text_a<TAB>text_b, skipped" % line_number,
            file=sys.stderr)
      continue
    print(_format(*predictor.predict_pair(*fields)), flush=True)


if __name__ == "__main__":
  app.run(main)
