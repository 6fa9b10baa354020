# coding=utf-8
"""Fine-tunes ALBERT for sentence(-pair) classification: LCQMC, XNLI, CLUE tasks.

Starts from a released albert_zh checkpoint of either layout, a checkpoint of
run_pretraining.py, or a TF-Hub module (--albert_hub_module_handle), and writes
to --output_dir:
  eval_results.txt      accuracy, loss (and precision/recall/F1 for binary
                        tasks) of the latest dev evaluation
  best/                 the checkpoint with the best dev accuracy so far, with
                        its eval_results.txt (dev is evaluated at every saved
                        checkpoint while training)
  test_results.tsv      class probabilities per test example (BERT's format)
  test_predictions.tsv  the predicted label per test example, by id
  <split>.<fingerprint>.tf_record   cached features, rebuilt when the data,
                        vocab, max_seq_length or task change
With --export_dir it also writes a SavedModel for TF Serving and the pretrained
encoder as a TF-Hub module (see export.py).

Example (LCQMC with albert_tiny_zh):
  python run_classifier.py --task_name=lcqmc --data_dir=lcqmc \\
    --vocab_file=albert_config/vocab.txt \\
    --bert_config_file=albert_config/albert_config_tiny.json \\
    --init_checkpoint=albert_tiny_zh/albert_model.ckpt \\
    --do_train --do_eval --do_predict --max_seq_length=128 \\
    --train_batch_size=64 --learning_rate=1e-4 --num_train_epochs=5 \\
    --output_dir=lcqmc_out
"""

import os
import shutil

from absl import app
from absl import flags
import tensorflow.compat.v1 as tf

import classifier_data
import classifier_model
import estimator_utils
import export
import modeling
import shared_flags
import tokenization

FLAGS = flags.FLAGS

estimator_utils.define_common_flags(optimizer="adamw")

flags.DEFINE_string(
    "task_name", None,
    "Task: lcqmc (alias lcqmc_pair), xnli, afqmc, tnews, iflytek, cmnli, csl, "
    "or generic_single / generic_pair for your own TSV or JSON-lines data.")
flags.DEFINE_string("data_dir", None,
                    "Directory with the task's train/dev/test files.")
# --vocab_file is optional with --albert_hub_module_handle (the module carries
# its vocab); pairs longer than --max_seq_length lose tokens from the longer text.
shared_flags.define("vocab_file", "spm_model_file", "do_lower_case",
                    "max_seq_length")
flags.DEFINE_bool("do_train", False, "Fine-tune on the training split.")
flags.DEFINE_bool("do_eval", False,
                  "Evaluate on dev (at every saved checkpoint when training).")
flags.DEFINE_bool("do_predict", False,
                  "Predict the test split with the best (else latest) "
                  "checkpoint.")
flags.DEFINE_integer("train_batch_size", 32, "Global training batch size.")
flags.DEFINE_integer("eval_batch_size", 8, "Evaluation batch size.")
flags.DEFINE_integer("predict_batch_size", 8, "Prediction batch size.")
flags.DEFINE_float("learning_rate", 5e-5, "Peak learning rate.")
flags.DEFINE_float("num_train_epochs", 3.0, "Passes over the training data.")
flags.DEFINE_float("warmup_proportion", 0.1,
                   "Fraction of training steps with linear warmup.")
flags.DEFINE_string(
    "albert_hub_module_handle", None,
    "Fine-tune from this TF-Hub module (TF1 Hub format, e.g. a local path "
    "written by --export_dir or export.py) instead of --init_checkpoint.")
flags.DEFINE_string(
    "export_dir", None,
    "Write a SavedModel of the fine-tuned classifier (export_dir/classifier/"
    "<step>) and, with --init_checkpoint, the pretrained encoder as a TF-Hub "
    "module (export_dir/hub_module).")
flags.DEFINE_list(
    "labels", None,
    "generic_* tasks only: comma-separated labels (their order fixes the "
    "ids). Default: the labels found in the training file.")
flags.DEFINE_bool(
    "skip_bad_rows", False,
    "Skip malformed rows (wrong column count, empty text, unknown label) and "
    "count them, instead of stopping with their file:line.")
flags.DEFINE_bool(
    "dynamic_length", True,
    "Pad each batch to its longest example (training batches are grouped by "
    "length) instead of padding every example to max_seq_length. TPUs need "
    "--nodynamic_length.")


# ----------------------------------------------------------------------------
# Setup.


def validate_flags():
  """Checks the flags before any work; errors name the flag and the fix."""
  estimator_utils.validate_common_flags(FLAGS)
  if not (FLAGS.do_train or FLAGS.do_eval or FLAGS.do_predict or
          FLAGS.export_dir):
    raise ValueError("Nothing to do: pass at least one of --do_train, "
                     "--do_eval, --do_predict or --export_dir.")
  for name in ("task_name", "data_dir"):
    if not getattr(FLAGS, name):
      raise ValueError("--%s is required." % name)
  if not tf.io.gfile.isdir(FLAGS.data_dir):
    raise ValueError("--data_dir=%s is not a directory." % FLAGS.data_dir)
  if not (FLAGS.vocab_file or FLAGS.spm_model_file or
          FLAGS.albert_hub_module_handle):
    raise ValueError("--vocab_file (or --spm_model_file) is required.")
  if FLAGS.albert_hub_module_handle and FLAGS.init_checkpoint:
    raise ValueError("--albert_hub_module_handle and --init_checkpoint both "
                     "give the starting weights; pass only one.")
  if FLAGS.use_tpu and FLAGS.dynamic_length:
    raise ValueError("TPUs need static shapes: pass --nodynamic_length with "
                     "--use_tpu.")
  for name in ("max_seq_length", "train_batch_size", "eval_batch_size",
               "predict_batch_size"):
    if getattr(FLAGS, name) < 1:
      raise ValueError("--%s must be positive." % name)
  if FLAGS.max_seq_length < 3:
    raise ValueError("--max_seq_length must be at least 3 ([CLS] a [SEP]).")
  if FLAGS.num_train_epochs <= 0 and FLAGS.do_train:
    raise ValueError("--num_train_epochs must be positive with --do_train.")
  if not 0.0 <= FLAGS.warmup_proportion <= 1.0:
    raise ValueError("--warmup_proportion must be in [0, 1].")


def check_config(albert_config):
  """max_seq_length and init_checkpoint must fit the config."""
  if FLAGS.max_seq_length > albert_config.max_position_embeddings:
    raise ValueError(
        "--max_seq_length=%d exceeds max_position_embeddings=%d of "
        "--bert_config_file=%s." % (FLAGS.max_seq_length,
                                    albert_config.max_position_embeddings,
                                    FLAGS.bert_config_file))
  if FLAGS.init_checkpoint:
    check_checkpoint_layout(FLAGS.init_checkpoint, albert_config,
                            FLAGS.bert_config_file)


def check_checkpoint_layout(init_checkpoint, albert_config, config_file):
  """Fails early when the checkpoint's layout differs from the config's.

  The layout is read from the checkpoint's variable names (brightmart's
  `layer_shared`, google's `transformer/group_*`), so a released checkpoint of
  either kind is recognised before any data is processed.
  """
  layout = modeling.checkpoint_layout(init_checkpoint)
  if layout and layout != albert_config.layout:
    suggestion = ("a *_google config, e.g. albert_config/"
                  "albert_config_tiny_google.json" if layout == "google" else
                  "an albert_zh config with ln_type, e.g. "
                  "albert_config/albert_config_tiny.json")
    raise ValueError(
        "--init_checkpoint=%s has %s-layout variables but --bert_config_file="
        "%s describes the %s layout: pass %s." % (
            init_checkpoint, layout, config_file, albert_config.layout,
            suggestion))


def make_tokenizer():
  """(tokenizer, vocab files, do_lower_case), from flags or the hub module."""
  vocab_file, spm_model_file = FLAGS.vocab_file, FLAGS.spm_model_file
  do_lower_case = FLAGS.do_lower_case
  if FLAGS.albert_hub_module_handle and not (vocab_file or spm_model_file):
    info = export.hub_tokenization_info(FLAGS.albert_hub_module_handle)
    vocab_file, spm_model_file = info["vocab_file"], info["spm_model_file"]
    do_lower_case = info["do_lower_case"]
    tf.logging.info("Tokenization from the hub module: %s", info)
  tokenizer = tokenization.FullTokenizer(
      vocab_file=vocab_file, do_lower_case=do_lower_case,
      spm_model_file=spm_model_file)
  return tokenizer, [vocab_file, spm_model_file], do_lower_case


class Task(object):
  """What every stage needs: processor, labels, tokenizer and cache keys."""

  def __init__(self, processor, tokenizer, vocab_files, do_lower_case):
    self.processor = processor
    self.label_list = processor.get_labels()
    self.tokenizer = tokenizer
    self.vocab_files = vocab_files
    self.do_lower_case = do_lower_case

  def features_file(self, split, examples=None, pad_to_multiple=1):
    """The cached features of `split` (reads the data only on a cache miss).

    With dynamic lengths, dev and test records are stored sorted by length so
    that each batch pads little.
    """
    data_files = self.processor.split_files(FLAGS.data_dir, split)
    sort_by_length = FLAGS.dynamic_length and split != "train"
    fingerprint = classifier_data.cache_fingerprint(
        FLAGS.task_name, split, data_files, self.vocab_files, self.label_list,
        FLAGS.max_seq_length, self.do_lower_case, FLAGS.skip_bad_rows,
        pad_to_multiple, sort_by_length)
    examples_fn = ((lambda: examples) if examples is not None else
                   (lambda: self.processor.get_examples(FLAGS.data_dir, split)))
    return classifier_data.prepare_features_file(
        examples_fn, fingerprint, FLAGS.output_dir, split, self.label_list,
        FLAGS.max_seq_length, self.tokenizer, pad_to_multiple, sort_by_length)

  def input_fn(self, features_file, is_training):
    return classifier_data.file_based_input_fn_builder(
        features_file.path, FLAGS.max_seq_length, is_training,
        drop_remainder=FLAGS.use_tpu, dynamic_length=FLAGS.dynamic_length)


# ----------------------------------------------------------------------------
# Stages.


def latest_step(output_dir):
  checkpoint = tf.train.latest_checkpoint(output_dir)
  if not checkpoint:
    return 0
  return tf.train.load_variable(checkpoint, "global_step")


def round_ends(num_train_steps, every):
  """Steps at which training pauses for a dev evaluation."""
  ends = list(range(every, num_train_steps, every))
  return ends + [num_train_steps]


def evaluate(estimator, task, dev_file, checkpoint_path):
  """Evaluates one checkpoint on dev and writes eval_results.txt."""
  steps = None
  if FLAGS.use_tpu:  # the padded dev set divides evenly into batches
    steps = dev_file.num_examples // FLAGS.eval_batch_size
  results = estimator.evaluate(input_fn=task.input_fn(dev_file, False),
                               steps=steps, checkpoint_path=checkpoint_path)
  results = {key: value for key, value in results.items()}
  results["checkpoint"] = checkpoint_path
  estimator_utils.write_eval_results(FLAGS.output_dir, results)
  return results


def best_dir():
  return os.path.join(FLAGS.output_dir, "best")


def best_accuracy():
  """Dev accuracy of the kept best checkpoint, or None."""
  path = os.path.join(best_dir(), "eval_results.txt")
  if not tf.io.gfile.exists(path):
    return None
  with tf.io.gfile.GFile(path) as f:
    for line in f:
      key, _, value = line.partition(" = ")
      if key == "eval_accuracy":
        return float(value)
  return None


def keep_if_best(checkpoint_path, results):
  """Copies the checkpoint to output_dir/best/ when its accuracy is the best.

  The copy is assembled in best.tmp/ and renamed into place, so best/ always
  holds one complete checkpoint.
  """
  previous = best_accuracy()
  accuracy = float(results["eval_accuracy"])
  if previous is not None and accuracy <= previous:
    tf.logging.info("Dev accuracy %.4f does not beat the best %.4f", accuracy,
                    previous)
    return False
  tmp_dir = best_dir() + ".tmp"
  if tf.io.gfile.exists(tmp_dir):
    tf.io.gfile.rmtree(tmp_dir)
  tf.io.gfile.makedirs(tmp_dir)
  for path in tf.io.gfile.glob(checkpoint_path + ".*"):
    tf.io.gfile.copy(path, os.path.join(tmp_dir, os.path.basename(path)))
  with tf.io.gfile.GFile(os.path.join(tmp_dir, "checkpoint"), "w") as f:
    f.write('model_checkpoint_path: "%s"\n' % os.path.basename(checkpoint_path))
  results = dict(results, checkpoint=os.path.join(
      best_dir(), os.path.basename(checkpoint_path)))
  estimator_utils.write_eval_results(tmp_dir, results)
  if tf.io.gfile.exists(best_dir()):
    shutil.rmtree(best_dir())
  tf.io.gfile.rename(tmp_dir, best_dir())
  tf.logging.info("New best dev accuracy %.4f: kept %s in %s", accuracy,
                  checkpoint_path, best_dir())
  return True


def train(estimator, task, train_file, num_train_steps, dev_file=None):
  """Trains to num_train_steps; with dev_file, evaluates at every checkpoint
  and keeps the best one."""
  if dev_file is None:
    estimator_utils.train(estimator, task.input_fn(train_file, True),
                          num_train_steps)
    return
  for end in round_ends(num_train_steps, FLAGS.save_checkpoints_steps):
    if end <= latest_step(FLAGS.output_dir):
      continue
    estimator_utils.train(estimator, task.input_fn(train_file, True), end)
    checkpoint = tf.train.latest_checkpoint(FLAGS.output_dir)
    keep_if_best(checkpoint, evaluate(estimator, task, dev_file, checkpoint))


def predict(estimator, task, checkpoint_path):
  """Writes test_results.tsv (probabilities) and test_predictions.tsv."""
  examples = task.processor.get_test_examples(FLAGS.data_dir)
  pad_to = FLAGS.predict_batch_size if FLAGS.use_tpu else 1
  test_file = task.features_file("test", examples, pad_to)
  tf.logging.info("Predicting %d examples with %s", len(examples),
                  checkpoint_path)
  results = estimator.predict(input_fn=task.input_fn(test_file, False),
                              checkpoint_path=checkpoint_path,
                              yield_single_examples=True)
  probabilities = [None] * len(examples)
  for result in results:
    if result["is_real_example"]:
      probabilities[result["example_index"]] = result["probabilities"]
  missing = sum(p is None for p in probabilities)
  if missing:
    raise RuntimeError("%d of %d test examples got no prediction." %
                       (missing, len(examples)))
  write_predictions(FLAGS.output_dir, examples, probabilities, task.label_list)


def write_predictions(output_dir, examples, probabilities, label_list):
  """test_results.tsv: one row of class probabilities per example (label-list
  order); test_predictions.tsv: `id<TAB>label` with a header."""
  results_path = os.path.join(output_dir, "test_results.tsv")
  predictions_path = os.path.join(output_dir, "test_predictions.tsv")
  with tf.io.gfile.GFile(results_path + ".tmp", "w") as results, \
      tf.io.gfile.GFile(predictions_path + ".tmp", "w") as predictions:
    predictions.write("id\tlabel\n")
    for example, probs in zip(examples, probabilities):
      results.write("\t".join("%.6f" % p for p in probs) + "\n")
      predictions.write("%s\t%s\n" % (example.guid,
                                      label_list[int(probs.argmax())]))
  tf.io.gfile.rename(results_path + ".tmp", results_path, overwrite=True)
  tf.io.gfile.rename(predictions_path + ".tmp", predictions_path,
                     overwrite=True)
  tf.logging.info("Wrote %s and %s", results_path, predictions_path)


def trained_checkpoint():
  """The best kept checkpoint, else the latest one in output_dir."""
  checkpoint = tf.train.latest_checkpoint(best_dir())
  if checkpoint:
    return checkpoint
  checkpoint = tf.train.latest_checkpoint(FLAGS.output_dir)
  if not checkpoint:
    raise ValueError("--output_dir=%s holds no checkpoint to predict or export "
                     "with: train first (--do_train)." % FLAGS.output_dir)
  return checkpoint


def export_models(albert_config, task):
  checkpoint = trained_checkpoint()
  export.export_classifier(
      albert_config, checkpoint, task.label_list, os.path.join(
          FLAGS.export_dir, "classifier"), task.vocab_files,
      task.do_lower_case, FLAGS.max_seq_length,
      hub_module_handle=FLAGS.albert_hub_module_handle)
  if FLAGS.init_checkpoint:
    export.export_hub_module(
        albert_config, FLAGS.init_checkpoint,
        os.path.join(FLAGS.export_dir, "hub_module"), task.vocab_files[0],
        task.do_lower_case, spm_model_file=task.vocab_files[1])
  else:
    tf.logging.info("No --init_checkpoint: the pretrained encoder is not "
                    "exported as a TF-Hub module.")


def main(_):
  tf.logging.set_verbosity(tf.logging.INFO)
  validate_flags()
  albert_config = estimator_utils.load_albert_config(FLAGS.bert_config_file)
  check_config(albert_config)
  if FLAGS.export_dir and FLAGS.init_checkpoint:
    export.check_hub_checkpoint(FLAGS.init_checkpoint)
  tf.io.gfile.makedirs(FLAGS.output_dir)

  tokenizer, vocab_files, do_lower_case = make_tokenizer()
  processor = classifier_data.get_processor(
      FLAGS.task_name, data_dir=FLAGS.data_dir, labels=FLAGS.labels,
      skip_bad_rows=FLAGS.skip_bad_rows)
  task = Task(processor, tokenizer, vocab_files, do_lower_case)
  tf.logging.info("Task %s, labels: %s", FLAGS.task_name,
                  ", ".join(task.label_list))

  # Read every split up front so a malformed row stops the run before training.
  train_file = task.features_file("train") if FLAGS.do_train else None
  dev_file = None
  if FLAGS.do_eval:
    pad_to = FLAGS.eval_batch_size if FLAGS.use_tpu else 1
    dev_file = task.features_file("dev", pad_to_multiple=pad_to)

  num_train_steps, num_warmup_steps = 0, 0
  if train_file:
    num_train_steps = max(1, int(train_file.num_examples /
                                 FLAGS.train_batch_size *
                                 FLAGS.num_train_epochs))
    num_warmup_steps = int(num_train_steps * FLAGS.warmup_proportion)
    tf.logging.info("Training on %d examples: %d steps of batch %d, %d "
                    "warmup", train_file.num_examples, num_train_steps,
                    FLAGS.train_batch_size, num_warmup_steps)

  model_fn = classifier_model.model_fn_builder(
      albert_config=albert_config, num_labels=len(task.label_list),
      init_checkpoint=FLAGS.init_checkpoint, learning_rate=FLAGS.learning_rate,
      num_train_steps=num_train_steps, num_warmup_steps=num_warmup_steps,
      use_tpu=FLAGS.use_tpu, use_one_hot_embeddings=FLAGS.use_tpu,
      optimizer=FLAGS.optimizer,
      hub_module_handle=FLAGS.albert_hub_module_handle, use_amp=FLAGS.use_amp,
      use_fused_kernels=estimator_utils.runs_on_cpu(FLAGS))
  estimator = estimator_utils.make_estimator(
      model_fn, FLAGS, train_batch_size=FLAGS.train_batch_size,
      eval_batch_size=FLAGS.eval_batch_size,
      predict_batch_size=FLAGS.predict_batch_size)

  if FLAGS.do_train:
    train(estimator, task, train_file, num_train_steps, dev_file)
  elif FLAGS.do_eval:
    evaluate(estimator, task, dev_file,
             tf.train.latest_checkpoint(FLAGS.output_dir))
  if FLAGS.do_predict:
    predict(estimator, task, trained_checkpoint())
  if FLAGS.export_dir:
    export_models(albert_config, task)


if __name__ == "__main__":
  app.run(main)
