# coding=utf-8
"""What run_squad_v1.py and run_squad_v2.py share: flags, features, stages.

The two scripts differ only in the head (squad_model: v1 start/end logits,
v2 with an answerability logit and a beam), the post-processing
(squad_utils.postprocess_v1 / postprocess_v2) and v2's no-answer threshold;
everything else -- reading, windowing into fingerprinted caches, the training
loop that keeps the best dev checkpoint, predictions, metrics and export --
lives here once, as a `SquadTask` built by `run(flags_obj, version_2)`.
"""

import collections
import dataclasses
import os
from typing import List

from absl import flags
import tensorflow.compat.v1 as tf

import estimator_utils
import export
import finetune_data
import finetune_model
import finetuning
import gfile_utils
import squad_metrics
import squad_model
import squad_utils

# The flags define_flags() declares belong to the script that calls it (so
# its --helpshort lists them), as shared_flags does.
flags.disclaim_key_flags()

SQUAD_INFO_FILE = "squad_info.json"
SAVED_MODEL_NAME = "squad"


def define_flags():
  """The shared fine-tuning flags plus the SQuAD ones (once per process,
  so run_squad_v1 and run_squad_v2 can be imported together)."""
  finetuning.define_flags()
  if "train_file" in flags.FLAGS:
    return
  flags.DEFINE_string(
      "train_file", None,
      "SQuAD-format JSON for training (SQuAD v1.1/v2.0, CMRC2018, DRCD).")
  flags.DEFINE_string(
      "predict_file", None,
      "SQuAD-format JSON to predict (--do_predict) and, when it has answers, "
      "to score (eval_results.txt) and to pick the best checkpoint by while "
      "training (--do_eval).")
  flags.DEFINE_string(
      "train_feature_file", None,
      "Cache of the training features: <dir>/<name> becomes "
      "<dir>/<name>.<fingerprint>.tf_record, rebuilt whenever the data, vocab "
      "or settings change. Default: output_dir/train.")
  flags.DEFINE_string(
      "predict_feature_file", None,
      "Cache of the prediction features (see --train_feature_file). Default: "
      "output_dir/predict.")
  flags.DEFINE_integer(
      "doc_stride", 128,
      "Tokens between the starts of consecutive windows over a long context.")
  flags.DEFINE_integer(
      "max_query_length", 64,
      "Questions are cut to this many tokens (counted in the log).")
  flags.DEFINE_integer("n_best_size", 20,
                       "Answers kept per question in nbest_predictions.json.")
  flags.DEFINE_integer("max_answer_length", 30,
                       "Longest answer, in tokens.")
  flags.DEFINE_integer(
      "start_n_top", 5,
      "run_squad_v2.py: start positions kept by the head's beam.")
  flags.DEFINE_integer(
      "end_n_top", 5,
      "run_squad_v2.py: end positions kept per start by the beam.")
  flags.DEFINE_float(
      "null_score_diff_threshold", None,
      "run_squad_v2.py: answers whose null odds exceed this become \"\". "
      "Default, when --predict_file has answers: one with the best F1 there "
      "(halfway between best_f1_thresh and the next larger null odds, so "
      "float noise cannot flip a question); else 0.")
  flags.DEFINE_enum(
      "metric", None, list(squad_metrics.METRICS),
      "How eval_results.txt scores answers: squad (SQuAD v1.1/v2.0 rules) or "
      "cmrc2018 (Chinese characters one by one). Default: cmrc2018 when the "
      "contexts are mostly Chinese, else squad.")


def validate_squad_flags(flags_obj, version_2):
  """Checks the SQuAD flags; errors name the flag and the fix."""
  if flags_obj.do_train and not flags_obj.train_file:
    raise ValueError("--do_train needs --train_file (a SQuAD-format JSON).")
  if (flags_obj.do_predict or flags_obj.do_eval) and not (
      flags_obj.predict_file):
    raise ValueError("--do_predict/--do_eval need --predict_file.")
  for name in ("train_file", "predict_file"):
    path = getattr(flags_obj, name)
    if path and not tf.io.gfile.exists(path):
      raise ValueError("--%s=%s does not exist." % (name, path))
  for name in ("doc_stride", "max_query_length", "n_best_size",
               "max_answer_length", "start_n_top", "end_n_top"):
    if getattr(flags_obj, name) < 1:
      raise ValueError("--%s must be positive." % name)
  room = flags_obj.max_seq_length - flags_obj.max_query_length - 3
  if room < 1:
    raise ValueError(
        "--max_seq_length=%d leaves no room for the context after a question "
        "of --max_query_length=%d tokens and [CLS]/[SEP]/[SEP]: raise "
        "--max_seq_length or lower --max_query_length." %
        (flags_obj.max_seq_length, flags_obj.max_query_length))
  if flags_obj.doc_stride > room:
    raise ValueError(
        "--doc_stride=%d is longer than a window's context (%d tokens with "
        "--max_seq_length=%d, --max_query_length=%d): windows would skip "
        "tokens. Lower --doc_stride." % (flags_obj.doc_stride, room,
                                         flags_obj.max_seq_length,
                                         flags_obj.max_query_length))
  if flags_obj.null_score_diff_threshold is not None and not version_2:
    raise ValueError("--null_score_diff_threshold is for run_squad_v2.py.")


# ----------------------------------------------------------------------------
# Heads.


def head_fn_builder(albert_config, version_2, start_n_top=5, end_n_top=5):
  """The finetune_model head of run_squad_v1 (version_2=False) or v2."""
  init_range = finetune_model.initializer_range(albert_config)
  dropout = albert_config.hidden_dropout_prob if albert_config else 0.1

  def head_fn(features, is_training, encoder):
    sequence_output = encoder(features["input_ids"], features["input_mask"],
                              features["segment_ids"]).sequence_output
    outputs = head_outputs(sequence_output, features, is_training, version_2,
                           init_range, dropout, start_n_top, end_n_top)
    loss = None
    if is_training and version_2:
      loss = squad_model.v2_loss(outputs, features["start_positions"],
                                 features["end_positions"],
                                 features["is_impossible"])
    elif is_training:
      loss = squad_model.v1_loss(outputs["start_logits"],
                                 outputs["end_logits"],
                                 features["start_positions"],
                                 features["end_positions"])
    return finetune_model.HeadOutputs(loss=loss, predictions=outputs)

  return head_fn


def head_outputs(sequence_output, features, is_training, version_2,
                 init_range=0.02, dropout=0.0, start_n_top=5, end_n_top=5):
  """The head's output tensors (also the serving signature's outputs)."""
  if version_2:
    return squad_model.v2_outputs(
        sequence_output, features["context_mask"], is_training,
        features.get("start_positions"), start_n_top, end_n_top,
        init_range, dropout)
  start_logits, end_logits = squad_model.v1_logits(
      sequence_output, features["context_mask"], init_range)
  return dict(start_logits=start_logits, end_logits=end_logits)


def margin_threshold(best_threshold, null_odds):
  """A threshold with the same dev score as the official best one, but with
  a margin.

  The official best threshold is exactly one question's null odds, so the
  same question scored by another run of the graph (the exported model,
  another batch padding) flips on float noise. Halfway to the next larger
  null odds separates the same questions with room on both sides.
  """
  larger = [value for value in null_odds if value > best_threshold]
  if not larger:
    return best_threshold + 1.0
  return (best_threshold + min(larger)) / 2


# ----------------------------------------------------------------------------
# Data.


@dataclasses.dataclass
class PredictData:
  """A predict file: its questions, cached features and their windows."""
  examples: List[squad_utils.SquadExample]
  features: finetune_data.FeaturesFile
  windows: List[squad_utils.Window]
  has_answers: bool
  metric: str


class SquadTask(finetuning.Task):
  """A run's reading-comprehension task (v1 or v2) for finetuning.run_stages.

  Splits: "train" is --train_file; "dev" (scored, --do_eval) and "test"
  (--do_predict) are both --predict_file, converted once.
  """

  spec = squad_utils.RECORD_SPEC

  def __init__(self, flags_obj, setup, version_2):
    super().__init__(flags_obj, setup)
    self.version_2 = version_2
    # v2 keeps the checkpoint whose best-threshold F1 is highest.
    self.metric_key = "best_f1" if version_2 else "f1"
    self._predict_data = None
    self._last_results = None

  def split_files(self, split):
    return [self.flags.train_file if split == "train" else
            self.flags.predict_file]

  def features_file(self, split, pad_to_multiple=1):
    """Training features, or the predict file's (padded for predict_batch_size:
    dev is scored through prediction)."""
    del pad_to_multiple
    if split == "train":
      return self.train_features()
    data = self.predict_data()
    if split == "dev" and not data.has_answers:
      raise ValueError("--do_eval: --predict_file=%s has no answers to score "
                       "against; use --do_predict alone." %
                       self.flags.predict_file)
    return data.features

  def _cache_location(self, feature_file_flag, default_name):
    """(directory, name) of a cache: --*_feature_file, else the task's cache
    directory. A multi_worker task other than the chief keeps its own copy
    there (the flag names the chief's)."""
    if not feature_file_flag:
      return self.cache_dir, default_name
    directory, name = os.path.split(feature_file_flag)
    if not estimator_utils.is_chief(self.flags):
      return self.cache_dir, name
    return directory or ".", name

  def record_maker(self, is_training):
    return squad_utils.RecordMaker(
        self.setup.tokenizer, self.flags.max_seq_length,
        self.flags.doc_stride, self.flags.max_query_length, is_training)

  def read(self, path, is_training, stats=None):
    return squad_utils.read_examples(
        path, is_training, version_2_with_negative=self.version_2,
        skip_bad_rows=self.flags.skip_bad_rows, stats=stats)

  def _fingerprint(self, split, data_file, **settings):
    return self.setup.fingerprint(
        split, [data_file], doc_stride=self.flags.doc_stride,
        max_query_length=self.flags.max_query_length,
        version_2=self.version_2, **settings)

  def train_features(self):
    """The training FeaturesFile (reads and windows the data on a miss)."""
    path = self.flags.train_file
    cache_dir, name = self._cache_location(self.flags.train_feature_file,
                                           "train")

    def records(stats):
      read_stats = {}
      examples = self.read(path, True, read_stats)
      stats.update(read_stats)
      return self.record_maker(True).records(examples, stats)

    features = finetune_data.prepare_features_file(
        records, squad_utils.RECORD_SPEC, self._fingerprint("train", path),
        cache_dir, name)
    if features.from_cache:
      squad_utils.log_stats(features.stats, "training features (cached)")
    return features

  def predict_data(self):
    """The predict file's examples, features and windows (made once a run).

    The windows (token offsets for post-processing) are written next to the
    cache as it is made, and read back on a hit.
    """
    if self._predict_data is None:
      self._predict_data = self._make_predict_data()
    return self._predict_data

  def _make_predict_data(self):
    path = self.flags.predict_file
    examples = self.read(path, False)
    cache_dir, name = self._cache_location(self.flags.predict_feature_file,
                                           "predict")
    pad = finetuning.pad_multiple(self.flags, self.flags.predict_batch_size)
    sort_by_length = bool(self.flags.dynamic_length)
    fingerprint = self._fingerprint("predict", path, pad_to_multiple=pad,
                                    sort_by_length=sort_by_length)
    # Named like the cache so finetune_data removes it with a stale cache.
    windows_path = os.path.join(cache_dir, "%s.%s.tf_record.windows.jsonl" %
                                (name, fingerprint))

    def records(stats):
      with gfile_utils.atomic_write(windows_path) as f:
        for record in self.record_maker(False).records(
            examples, stats, on_window=lambda w: f.write(w.to_json() + "\n")):
          yield record

    features = finetune_data.prepare_features_file(
        records, squad_utils.RECORD_SPEC, fingerprint, cache_dir, name,
        pad_to_multiple=pad, sort_by_length=sort_by_length)
    windows = self._load_windows(windows_path, examples)
    if len(windows) != features.num_real_records:
      raise ValueError("%s has %d windows for %d records of %s: delete both "
                       "and rerun." % (windows_path, len(windows),
                                       features.num_real_records,
                                       features.path))
    metric = self.flags.metric or squad_metrics.default_metric(
        example.context for example in examples)
    return PredictData(examples, features, windows,
                       squad_utils.has_gold_answers(examples), metric)

  def _load_windows(self, windows_path, examples):
    if not tf.io.gfile.exists(windows_path):
      # A cache written without its windows (e.g. copied alone): the
      # conversion is deterministic, so redo it for the windows only.
      tf.logging.info("Rebuilding %s", windows_path)
      windows = []
      for _ in self.record_maker(False).records(examples, {},
                                                on_window=windows.append):
        pass
      return windows
    with tf.io.gfile.GFile(windows_path) as f:
      return [squad_utils.Window.from_json(line) for line in f if line.strip()]

  def head_fn(self):
    return head_fn_builder(self.setup.albert_config, self.version_2,
                           self.flags.start_n_top, self.flags.end_n_top)

  # Predictions and scores --------------------------------------------------

  def evaluate(self, estimator, dev_file, checkpoint_path):
    del dev_file  # the predict file's features, with its windows
    return self.predict_and_score(estimator, self.predict_data(),
                                  checkpoint_path)

  def predict(self, estimator, checkpoint_path):
    self.predict_and_score(estimator, self.predict_data(), checkpoint_path)

  def predict_and_score(self, estimator, data, checkpoint_path):
    """Predicts the predict file with one checkpoint; writes the outputs.

    Writes predictions.json, nbest_predictions.json, null_odds.json (v2)
    and, when the file has answers, eval_results.txt. Returns the results
    (empty without answers).
    """
    outputs = finetuning.predict(estimator, self.input_fn(data.features,
                                                          False),
                                 checkpoint_path, data.features.num_real_records)
    self._last_results = self.write_predictions(data, outputs, checkpoint_path)
    return self._last_results

  def write_predictions(self, data, outputs, checkpoint_path=None):
    flags_obj = self.flags
    output_dir = flags_obj.output_dir
    null_odds = None
    if self.version_2:
      best, nbest, null_odds = squad_utils.postprocess_v2(
          data.examples, data.windows, outputs, flags_obj.n_best_size,
          flags_obj.max_answer_length)
    else:
      best, nbest = squad_utils.postprocess_v1(
          data.examples, data.windows, outputs, flags_obj.n_best_size,
          flags_obj.max_answer_length)
    results = collections.OrderedDict()
    predictions = best
    if self.version_2:
      threshold = flags_obj.null_score_diff_threshold
      if data.has_answers:
        raw = squad_utils.evaluate(data.examples, best, data.metric, True,
                                   null_odds, null_threshold=0.0)
        if threshold is None:
          threshold = margin_threshold(raw["best_f1_thresh"],
                                       null_odds.values())
      threshold = 0.0 if threshold is None else threshold
      predictions = squad_utils.apply_null_threshold(best, null_odds,
                                                     threshold)
      gfile_utils.write_json(os.path.join(output_dir, "null_odds.json"),
                               null_odds, indent=2)
      results["null_score_diff_threshold"] = threshold
    gfile_utils.write_json(os.path.join(output_dir, "predictions.json"),
                             predictions, indent=2)
    gfile_utils.write_json(
        os.path.join(output_dir, "nbest_predictions.json"), nbest, indent=2)
    if not data.has_answers:
      tf.logging.info("%s has no answers: predictions written, not scored.",
                      flags_obj.predict_file)
      return results
    results.update(squad_utils.evaluate(
        data.examples, best, data.metric, self.version_2, null_odds,
        null_threshold=results.get("null_score_diff_threshold", 1.0)))
    if checkpoint_path:
      results["checkpoint"] = checkpoint_path
      results["global_step"] = estimator_utils.checkpoint_global_step(
          checkpoint_path)
    estimator_utils.write_eval_results(output_dir, results)
    return results

  # Export ------------------------------------------------------------------

  def null_threshold(self, checkpoint_path):
    """v2's threshold for an exported checkpoint: the flag, else the one
    chosen when that checkpoint was scored on dev (this run, or best/'s
    eval_results.txt); None when unknown (the predictor then uses 0)."""
    if not self.version_2:
      return None
    if self.flags.null_score_diff_threshold is not None:
      return self.flags.null_score_diff_threshold
    results = self._last_results or {}
    if results.get("checkpoint") != checkpoint_path:
      results = read_eval_results(os.path.join(
          os.path.dirname(checkpoint_path), "eval_results.txt"))
      if results.get("checkpoint") != checkpoint_path:
        results = {}
    threshold = results.get("null_score_diff_threshold")
    if threshold is None:
      tf.logging.warning(
          "No dev threshold is known for %s: the export answers every "
          "question with null odds above 0 with \"\" (pass "
          "--null_score_diff_threshold, or --do_predict with answers).",
          checkpoint_path)
      return None
    return float(threshold)

  def export(self):
    """The trained model as a SavedModel for squad_predictor.py."""
    checkpoint_path = finetuning.trained_checkpoint(self.flags.output_dir)
    null_threshold = self.null_threshold(checkpoint_path)
    flags_obj, setup = self.flags, self.setup

    build = serving_graph_fn(
        setup.albert_config, self.version_2, flags_obj.start_n_top,
        flags_obj.end_n_top, flags_obj.albert_hub_module_handle)

    info = dict(version_2=self.version_2,
                do_lower_case=bool(setup.do_lower_case),
                max_seq_length=int(flags_obj.max_seq_length),
                doc_stride=int(flags_obj.doc_stride),
                max_query_length=int(flags_obj.max_query_length),
                max_answer_length=int(flags_obj.max_answer_length),
                n_best_size=int(flags_obj.n_best_size),
                null_score_diff_threshold=null_threshold)
    return export.export_saved_model(
        build, checkpoint_path,
        os.path.join(flags_obj.export_dir, SAVED_MODEL_NAME), info,
        setup.vocab_files, info_file=SQUAD_INFO_FILE)


def serving_graph_fn(albert_config, version_2, start_n_top, end_n_top,
                     hub_module_handle=None):
  """build() for export.export_saved_model: the inference graph on
  placeholders (input_ids, input_mask, segment_ids, context_mask)."""

  def build():
    input_ids, input_mask, segment_ids = export.input_placeholders()
    context_mask = tf.placeholder(tf.int32, [None, None], "context_mask")
    features = dict(input_ids=input_ids, input_mask=input_mask,
                    segment_ids=segment_ids, context_mask=context_mask)
    sequence_output = finetune_model.encode(
        albert_config, False, input_ids, input_mask, segment_ids,
        hub_module_handle=hub_module_handle).sequence_output
    outputs = head_outputs(
        sequence_output, features, False, version_2,
        finetune_model.initializer_range(albert_config),
        start_n_top=start_n_top, end_n_top=end_n_top)
    return features, outputs

  return build


# ----------------------------------------------------------------------------
# The script.


def read_eval_results(path):
  """The `key = value` lines of an eval_results.txt ({} if it is missing)."""
  if not tf.io.gfile.exists(path):
    return {}
  with tf.io.gfile.GFile(path) as f:
    return dict(line.rstrip("\n").split(" = ", 1) for line in f
                if " = " in line)


def run(flags_obj, version_2):
  """Runs the stages the flags ask for (FLAGS or finetuning.flags_namespace);
  returns the last dev results.

  Every input is read and windowed before training starts, so a malformed
  file stops the run early.
  """
  validate_squad_flags(flags_obj, version_2)
  setup = finetuning.Setup.from_flags(flags_obj)
  return finetuning.run_stages(SquadTask(flags_obj, setup, version_2))
