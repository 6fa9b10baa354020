# coding=utf-8
"""Fine-tunes ALBERT for sequence labelling (NER): MSRA/People's Daily tag
files, CLUENER2020 and CoNLL-2003, with a softmax or a CRF head.

--task_name picks the file format (see ner_data.py): `msra`/`bio` (token and
tag per line), `cluener` (JSON lines with entity spans) or `conll` (CoNLL-2003
columns). Tags may be BIO, IOB1, BIOES/BMES or IO (--tag_scheme, else detected
from the training tags). The head gives every token label scores from the
encoder's sequence output; each word's first piece carries its tag. With
--use_crf a linear-chain CRF (crf.py) is trained on top and decoded with
Viterbi under the scheme's transition rules, so no `I-X` follows `O` or
another type. Sentences longer than --max_seq_length are cut into
overlapping windows and their predictions merged; nothing is truncated.

Writes to --output_dir:
  eval_results.txt     entity precision/recall/F1 (micro and per type, the
                       conlleval rules) and token accuracy on dev, at every
                       saved checkpoint while training
  best/                the checkpoint with the best dev F1 so far
  ner_labels.json      labels, tag scheme and head of this run (later
                       --do_eval/--do_predict/--export_dir runs reuse them)
  test_predictions.txt (tag formats) or test_predictions.json (CLUENER):
                       predictions in the input's own format, scorable by
                       the same tools as the gold file; test_results.txt
                       when the test file has gold tags
With --export_dir: a SavedModel (export_dir/ner/<step>/) that ner_predictor.py
loads (raw text -> entities with character offsets).

Example (MSRA with albert_tiny_zh):
  python run_ner.py --task_name=msra --data_dir=msra_ner \\
    --vocab_file=albert_config/vocab.txt \\
    --bert_config_file=albert_config/albert_config_tiny.json \\
    --init_checkpoint=albert_tiny_zh/albert_model.ckpt \\
    --do_train --do_eval --do_predict --use_crf --max_seq_length=128 \\
    --train_batch_size=32 --learning_rate=1e-4 --num_train_epochs=3 \\
    --output_dir=msra_out --export_dir=msra_export
"""

import json
import os

from absl import app
from absl import flags
import tensorflow.compat.v1 as tf

import crf
import estimator_utils
import export
import finetune_data
import finetune_model
import finetuning
import gfile_utils
import ner_data
import ner_metrics
import shared_flags

FLAGS = flags.FLAGS

finetuning.define_flags()
shared_flags.define("labels", "task_name")
flags.DEFINE_bool(
    "use_crf", False,
    "run_ner.py: a linear-chain CRF on the token scores (Viterbi decoding "
    "under the tag scheme's rules) instead of a per-token softmax.")
flags.DEFINE_string(
    "tag_scheme", None,
    "run_ner.py: the tags' scheme, bio, iob1, bioes, bmes or io. Default: "
    "detected from the training tags (CLUENER spans are tagged bio).")

LABELS_FILE = "ner_labels.json"
SPEC = finetune_data.FeatureSpec(
    finetune_data.BASE_SEQUENCE_FEATURES +
    tuple(finetune_data.Feature(name, (None,))
          for name in ner_data.SEQUENCE_LABEL_FEATURES) +
    tuple(finetune_data.Feature(name) for name in ner_data.SCALAR_FEATURES))
# Dropout on the sequence output while training, as BERT's classifier head.
_TOKEN_DROPOUT = 0.1
# Prediction outputs merge_windows needs, besides tag_ids.
_WINDOW_KEYS = ("sentence_index", "first_word", "input_mask", "label_mask")


# ----------------------------------------------------------------------------
# The head.


class Tagger(object):
  """Token scores and decoding: the graph shared by training and export."""

  def __init__(self, albert_config, labels, scheme, use_crf):
    self.albert_config = albert_config
    self.num_labels = len(labels)
    self.use_crf = use_crf
    self.allowed = crf.allowed_transitions(labels, scheme)

  def logits(self, sequence_output, is_training):
    if is_training:
      sequence_output = tf.nn.dropout(sequence_output, rate=_TOKEN_DROPOUT)
    return finetune_model.dense_logits(sequence_output, self.num_labels,
                                       self.albert_config, "output_weights",
                                       "output_bias")

  def crf_parameters(self):
    return crf.create_parameters(self.num_labels)

  def decode(self, logits, label_mask):
    """Tag ids [B, T] at the labelled positions (0 elsewhere)."""
    mask = tf.cast(label_mask, tf.int32)
    if not self.use_crf:
      tag_ids = tf.argmax(logits, axis=-1, output_type=tf.int32)
    else:
      packed, lengths, order = crf.pack(logits, mask)
      potentials = crf.constrain(*self.crf_parameters(), self.allowed)
      packed_tags, _ = crf.viterbi_decode(packed, lengths, *potentials)
      tag_ids = crf.unpack(packed_tags, order)
    return tag_ids * mask

  def per_example_loss(self, logits, label_ids, label_mask):
    """Softmax: mean cross-entropy over an example's labelled positions;
    CRF: the negative log-likelihood of its tag sequence."""
    mask = tf.cast(label_mask, tf.float32)
    if not self.use_crf:
      token_loss = tf.nn.sparse_softmax_cross_entropy_with_logits(
          labels=label_ids, logits=logits)
      return (tf.reduce_sum(token_loss * mask, axis=1) /
              tf.maximum(tf.reduce_sum(mask, axis=1), 1.0))
    packed_logits, lengths, order = crf.pack(logits, label_mask)
    packed_labels = tf.gather(label_ids, order, batch_dims=1)
    return -crf.log_likelihood(packed_logits, packed_labels, lengths,
                               *self.crf_parameters())


def _metric_fn(per_example_loss, label_ids, tag_ids, label_mask,
               is_real_example):
  """Loss and token accuracy over labelled positions (entity scores need the
  merged windows: run_ner computes them from predictions)."""
  weights = tf.cast(is_real_example, tf.float32)
  token_weights = tf.cast(label_mask, tf.float32) * weights[:, None]
  return {
      "eval_loss": tf.metrics.mean(per_example_loss, weights=weights),
      "eval_token_accuracy": tf.metrics.accuracy(label_ids, tag_ids,
                                                 weights=token_weights),
  }


def head_fn_builder(tagger):
  """The tagging head for finetune_model.model_fn_builder."""

  def head(features, is_training, encoder):
    encoded = encoder(features["input_ids"], features["input_mask"],
                      features["segment_ids"])
    logits = tagger.logits(encoded.sequence_output, is_training)
    label_ids, label_mask = features["label_ids"], features["label_mask"]
    per_example_loss = tagger.per_example_loss(logits, label_ids, label_mask)
    weights = tf.cast(features["is_real_example"], tf.float32)
    loss = (tf.reduce_sum(per_example_loss * weights) /
            tf.maximum(tf.reduce_sum(weights), 1.0))
    tag_ids = tagger.decode(logits, label_mask)
    predictions = {"tag_ids": tag_ids}
    predictions.update({name: features[name] for name in _WINDOW_KEYS})
    return finetune_model.HeadOutputs(
        loss=loss, predictions=predictions,
        eval_metrics=(_metric_fn, dict(
            per_example_loss=per_example_loss, label_ids=label_ids,
            tag_ids=tag_ids, label_mask=label_mask,
            is_real_example=features["is_real_example"])))

  return head


# ----------------------------------------------------------------------------
# The task: labels, examples, features.


def validate_task_flags(flags_obj):
  for name in ("task_name", "data_dir"):
    if not getattr(flags_obj, name):
      raise ValueError("--%s is required." % name)
  if flags_obj.skip_bad_rows:
    # A skipped line would shift every later token against its tag.
    raise ValueError("--skip_bad_rows is not supported by run_ner.py: every "
                     "data error names its file and line; fix it and rerun.")
  ner_data.check_task(flags_obj.task_name)
  if flags_obj.tag_scheme:
    ner_metrics.check_scheme(flags_obj.tag_scheme)
  if not tf.io.gfile.isdir(flags_obj.data_dir):
    raise ValueError("--data_dir=%s is not a directory." % flags_obj.data_dir)


def _labels_flag(value):
  """--labels as a list (absl list flag) or a comma-separated string."""
  if not value:
    return None
  return ",".join(value) if isinstance(value, (list, tuple)) else value


class NerTask(finetuning.Task):
  """The tagging task of a run: format, labels, scheme, examples, features."""

  spec = SPEC
  metric_key = "eval_f1"

  def __init__(self, flags_obj, setup):
    super().__init__(flags_obj, setup)
    self.task_name = ner_data.check_task(flags_obj.task_name)
    self._examples = {}
    self._read_stats = {}
    self.labels, self.scheme = self._resolve_labels()
    self.label_map = {label: i for i, label in enumerate(self.labels)}
    self.tagger = Tagger(setup.albert_config, self.labels, self.scheme,
                         flags_obj.use_crf)
    tf.logging.info("Task %s, scheme %s, %s head, labels: %s", self.task_name,
                    self.scheme, "CRF" if flags_obj.use_crf else "softmax",
                    ", ".join(self.labels))

  def split_file(self, split, required=True):
    return ner_data.split_file(self.task_name, self.flags.data_dir, split,
                               required)

  def split_files(self, split):
    return [self.split_file(split)]

  def _scheme_for_spans(self):
    """The scheme CLUENER spans are tagged in before labels exist."""
    return ner_metrics.check_scheme(self.flags.tag_scheme or "bio")

  def examples(self, split):
    """The examples of a split, read once per run."""
    if split not in self._examples:
      stats = {}
      self._examples[split] = ner_data.read_examples(
          self.task_name, self.split_file(split), split,
          self._scheme_for_spans(), stats)
      self._read_stats[split] = stats
      if stats.get("misaligned_entities"):
        tf.logging.warning(
            "%s: %d entities start or end inside a Latin/digit run; they are "
            "tagged on whole units.", self.split_file(split),
            stats["misaligned_entities"])
    return self._examples[split]

  def _saved_labels(self):
    path = os.path.join(self.flags.output_dir, LABELS_FILE)
    if not tf.io.gfile.exists(path):
      return None
    with tf.io.gfile.GFile(path) as f:
      return json.load(f)

  def _resolve_labels(self):
    """Labels and scheme: a training run takes them from --labels or the
    training file and saves them; other runs reuse the saved ones (they must
    match the checkpoint), else follow the same rules."""
    flags_obj = self.flags
    saved = None if flags_obj.do_train else self._saved_labels()
    if saved:
      if saved["task_name"] != self.task_name:
        raise ValueError(
            "--output_dir=%s was trained with --task_name=%s, not %s." %
            (flags_obj.output_dir, saved["task_name"], self.task_name))
      if bool(saved["use_crf"]) != bool(flags_obj.use_crf):
        raise ValueError(
            "--output_dir=%s was trained %s --use_crf: pass the same." %
            (flags_obj.output_dir, "with" if saved["use_crf"] else "without"))
      return saved["labels"], saved["scheme"]
    labels_flag = _labels_flag(flags_obj.labels)
    scheme = flags_obj.tag_scheme and ner_metrics.check_scheme(
        flags_obj.tag_scheme)
    if self.task_name == "cluener":
      scheme = self._scheme_for_spans()
      if not labels_flag and not self.split_file("train", required=False):
        labels_flag = ",".join(ner_data.CLUENER_TYPES)
    if labels_flag:
      return ner_data.parse_labels_flag(labels_flag, scheme)
    if not self.split_file("train", required=False):
      raise ValueError(
          "No labels: --data_dir=%s has no training file, --output_dir holds "
          "no %s, and --labels is not set." % (flags_obj.data_dir,
                                               LABELS_FILE))
    return ner_data.build_labels(self.examples("train"), scheme)

  def save_labels(self):
    gfile_utils.write_json(
        os.path.join(self.flags.output_dir, LABELS_FILE),
        dict(task_name=self.task_name, labels=self.labels, scheme=self.scheme,
             use_crf=bool(self.flags.use_crf)), indent=2)

  def check_inputs(self):
    """Every split the flags need is there and its tags are known, before
    anything is trained."""
    for split, _ in finetuning.stage_splits(self.flags):
      examples = self.examples(split)
      finetuning.require_examples(len(examples), split,
                                  [self.split_file(split)])
      if split != "test" and any(e.tags is None for e in examples):
        raise ner_data.NerDataError(
            "%s has sentences without tags; the %s split needs them." %
            (self.split_file(split), split))
      ner_data.check_tags(examples, self.labels, self.scheme)

  def features_file(self, split, pad_to_multiple=1):
    path = self.split_file(split)
    sort_by_length = self.flags.dynamic_length and split != "train"
    fingerprint = self.setup.fingerprint(
        split, [path], task=self.task_name, labels=self.labels,
        scheme=self.scheme, pad_to_multiple=pad_to_multiple,
        sort_by_length=sort_by_length)

    def records(stats):
      examples = self.examples(split)
      stats.update(self._read_stats[split])
      return ner_data.example_records(
          examples, self.setup.tokenizer, self.label_map,
          self.flags.max_seq_length, stats)

    features = finetune_data.prepare_features_file(
        records, SPEC, fingerprint, self.cache_dir, split,
        pad_to_multiple, sort_by_length)
    if split == "train" and estimator_utils.is_chief(self.flags):
      self.save_labels()
    if features.stats.get("split_sentences"):
      tf.logging.info("%s: %d sentences longer than --max_seq_length were "
                      "split into overlapping windows (%d records).", split,
                      features.stats["split_sentences"], features.num_records)
    return features

  def predict_tags(self, estimator, split, features_file, checkpoint_path):
    """Word tags per sentence of `split` from a checkpoint."""
    outputs = finetuning.predict(estimator,
                                 self.input_fn(features_file, False),
                                 checkpoint_path,
                                 features_file.num_real_records)
    examples = self.examples(split)
    merged = ner_data.merge_windows([len(e.words) for e in examples], outputs)
    return [[self.labels[tag_id] for tag_id in tag_ids] for tag_ids in merged]

  def head_fn(self):
    return head_fn_builder(self.tagger)

  def evaluate(self, estimator, dev_file, checkpoint_path):
    return evaluate(estimator, self, dev_file, checkpoint_path)

  def predict(self, estimator, checkpoint_path):
    predict(estimator, self, checkpoint_path)

  def export(self):
    export_model(self)

  def score(self, split, word_tags):
    """Entity and token scores on the input's own units."""
    examples = self.examples(split)
    gold = [ner_data.gold_output_tags(e, self.scheme) for e in examples]
    predicted = [ner_data.output_tags(e, tags, self.scheme)
                 for e, tags in zip(examples, word_tags)]
    return ner_metrics.evaluate(gold, predicted)


# ----------------------------------------------------------------------------
# Stages.


def evaluate(estimator, task, dev_file, checkpoint_path):
  """Scores a checkpoint on dev; writes and returns eval_results.txt's
  values (eval_f1 chooses the best checkpoint)."""
  word_tags = task.predict_tags(estimator, "dev", dev_file, checkpoint_path)
  results = ner_metrics.flatten_results(task.score("dev", word_tags))
  results["checkpoint"] = checkpoint_path
  results["global_step"] = int(tf.train.load_variable(checkpoint_path,
                                                      "global_step"))
  estimator_utils.write_eval_results(task.flags.output_dir, results)
  return results


def prediction_file_name(task_name):
  return ("test_predictions.json" if task_name == "cluener"
          else "test_predictions.txt")


def predict(estimator, task, checkpoint_path):
  """Writes the test predictions in the input's format (and test_results.txt
  when the test file has gold tags)."""
  flags_obj = task.flags
  test_file = task.features_file(
      "test", finetuning.pad_multiple(flags_obj, flags_obj.predict_batch_size))
  word_tags = task.predict_tags(estimator, "test", test_file, checkpoint_path)
  examples = task.examples("test")
  path = os.path.join(task.flags.output_dir,
                      prediction_file_name(task.task_name))
  gfile_utils.write_lines(path, ner_data.prediction_lines(
      task.task_name, examples, word_tags))
  tf.logging.info("Wrote %s", path)
  if all(example.tags is not None for example in examples):
    results = ner_metrics.flatten_results(task.score("test", word_tags),
                                          prefix="test_")
    estimator_utils.write_eval_results(task.flags.output_dir, results,
                                       file_name="test_results.txt")


def build_serving_graph(task, hub_module_handle=None):
  """The export's build_fn: token ids and label_mask (1 at each word's first
  piece) in; tag_ids [batch, seq] and per-token label probabilities out."""

  def build():
    input_ids, input_mask, segment_ids = export.input_placeholders()
    label_mask = tf.placeholder(tf.int32, [None, None], name="label_mask")
    encoded = finetune_model.encode(task.setup.albert_config, False, input_ids,
                                    input_mask, segment_ids,
                                    hub_module_handle=hub_module_handle)
    logits = task.tagger.logits(encoded.sequence_output, False)
    tag_ids = task.tagger.decode(logits, label_mask)
    return (dict(input_ids=input_ids, input_mask=input_mask,
                 segment_ids=segment_ids, label_mask=label_mask),
            dict(tag_ids=tag_ids, probabilities=tf.nn.softmax(logits)))

  return build


def export_model(task):
  """export_dir/ner/<step>/: the SavedModel ner_predictor.py loads."""
  flags_obj, setup = task.flags, task.setup
  info = dict(task="ner", task_name=task.task_name, labels=task.labels,
              scheme=task.scheme, use_crf=bool(flags_obj.use_crf),
              do_lower_case=bool(setup.do_lower_case),
              max_seq_length=int(flags_obj.max_seq_length))
  return export.export_saved_model(
      build_serving_graph(task, flags_obj.albert_hub_module_handle),
      finetuning.trained_checkpoint(flags_obj.output_dir),
      os.path.join(flags_obj.export_dir, "ner"), info, setup.vocab_files)


def run(flags_obj):
  """Runs the stages the flags ask for (FLAGS or finetuning.flags_namespace)."""
  validate_task_flags(flags_obj)
  setup = finetuning.Setup.from_flags(flags_obj)
  return finetuning.run_stages(NerTask(flags_obj, setup))


def main(_):
  tf.logging.set_verbosity(tf.logging.INFO)
  run(FLAGS)


if __name__ == "__main__":
  app.run(main)
