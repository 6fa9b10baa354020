# coding=utf-8
"""Benchmark: reading-comprehension prediction, ours vs HF transformers.

Measures, in one run, on the same synthetic CMRC2018-shaped questions
(contexts of 400-800 random Chinese characters from the vocab, questions of
12 characters) and the same windows, predict examples/sec (questions
answered per second, end to end: tokenization and windows, the model,
best-span post-processing) of
  * ours: squad_predictor.SquadPredictor on a SavedModel exported as
    run_squad_v1.py --export_dir writes it (windows sorted by length and
    padded per batch to the longest);
  * HF: transformers' AlbertForQuestionAnswering with the same config
    (random weights: nothing is downloaded), BertTokenizerFast on the same
    vocab.txt, windows padded to max_seq_length (run_qa.py's default), and
    run_qa-style post-processing (top-20 starts x top-20 ends);
HF is also timed with per-batch dynamic padding, to show how much of the
gap is padding. Windows are the same for both: HF's `stride` (overlap) is
set to the window's context room minus our doc_stride (step). Passes
alternate between the systems so load from other processes affects both.

  python benchmark_squad.py    # albert_config_tiny.json, max_seq_length 512
  python benchmark_squad.py --albert_config_file=albert_config/albert_config_base.json

Needs torch and transformers (requirements-bench.txt); not a test, it
prints its figures (target: ours >= 1.5x HF).
"""

import os
import tempfile
import time

from absl import app
from absl import flags
import numpy as np
import tensorflow.compat.v1 as tf

import export
import modeling
import squad_predictor
import squad_task
import squad_utils
import tokenization

FLAGS = flags.FLAGS
HERE = os.path.dirname(os.path.abspath(__file__))

flags.DEFINE_string(
    "albert_config_file",
    os.path.join(HERE, "albert_config", "albert_config_tiny.json"),
    "ALBERT config of both models (an albert_zh or google config).")
flags.DEFINE_string("vocab_file",
                    os.path.join(HERE, "albert_config", "vocab.txt"),
                    "WordPiece vocab for both tokenizers.")
flags.DEFINE_integer("max_seq_length", 512, "Tokens per window.")
flags.DEFINE_integer("doc_stride", 128, "Our step between windows.")
flags.DEFINE_integer("max_query_length", 64, "Longest question, tokens.")
flags.DEFINE_integer("question_length", 12, "Characters per question.")
flags.DEFINE_integer("num_examples", 24, "Questions per timed pass.")
# squad_predictor declares --batch_size (windows per model call) and
# --num_threads.
FLAGS.set_default("batch_size", 8)
flags.DEFINE_integer("passes", 2, "Timed passes per system.")
flags.DEFINE_integer("seed", 12345, "Seed of the synthetic data.")

N_BEST = 20
MAX_ANSWER_LENGTH = 30


def cmrc_like_pairs(tokenizer, count, question_length, rng):
  """[(question, context)] of random CJK characters from the vocab."""
  characters = [token for token in tokenizer.vocab
                if len(token) == 1 and tokenization.is_chinese_char(ord(token))]
  def text(length):
    return "".join(rng.choice(characters, size=length))
  return [(text(question_length), text(rng.randint(400, 801)))
          for _ in range(count)]


# ----------------------------------------------------------------------------
# Ours.


def export_random_model(albert_config, vocab_file, work_dir):
  """A run_squad_v1-style SavedModel with random weights; returns its dir."""
  checkpoint_dir = os.path.join(work_dir, "checkpoint")
  tf.io.gfile.makedirs(checkpoint_dir)

  build = squad_task.serving_graph_fn(albert_config, version_2=False,
                                      start_n_top=5, end_n_top=5)

  with tf.Graph().as_default():
    build()
    tf.train.get_or_create_global_step()
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      checkpoint = tf.train.Saver().save(
          sess, os.path.join(checkpoint_dir, "model.ckpt"), global_step=1)
  info = dict(version_2=False, do_lower_case=True,
              max_seq_length=FLAGS.max_seq_length, doc_stride=FLAGS.doc_stride,
              max_query_length=FLAGS.max_query_length,
              max_answer_length=MAX_ANSWER_LENGTH, n_best_size=N_BEST,
              null_score_diff_threshold=None)
  return export.export_saved_model(
      build, checkpoint, os.path.join(work_dir, "export"), info,
      [vocab_file, None], info_file=squad_task.SQUAD_INFO_FILE)


class Ours(object):
  name = "ours (SquadPredictor)"

  def __init__(self, saved_model):
    self.predictor = squad_predictor.SquadPredictor(
        saved_model, num_threads=FLAGS.num_threads,
        batch_size=FLAGS.batch_size)

  def num_windows(self, pairs):
    maker = squad_utils.RecordMaker(
        self.predictor.tokenizer, FLAGS.max_seq_length, FLAGS.doc_stride,
        FLAGS.max_query_length, is_training=False)
    examples = [squad_utils.SquadExample(str(i), q, c, [])
                for i, (q, c) in enumerate(pairs)]
    return sum(1 for _ in maker.records(examples, {}))

  def answer(self, pairs):
    return [answer["text"] for answer in self.predictor.predict(pairs)]


# ----------------------------------------------------------------------------
# HF transformers.


class HuggingFace(object):
  """AlbertForQuestionAnswering as run_qa.py / the QA pipeline use it."""

  def __init__(self, albert_config, dynamic_padding):
    import torch  # pylint: disable=g-import-not-at-top
    import transformers  # pylint: disable=g-import-not-at-top
    self.torch = torch
    if FLAGS.num_threads:
      torch.set_num_threads(FLAGS.num_threads)
    config = transformers.AlbertConfig(
        vocab_size=albert_config.vocab_size,
        embedding_size=albert_config.embedding_size,
        hidden_size=albert_config.hidden_size,
        num_hidden_layers=albert_config.num_hidden_layers,
        num_attention_heads=albert_config.num_attention_heads,
        intermediate_size=albert_config.intermediate_size,
        hidden_act="gelu", hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
        max_position_embeddings=albert_config.max_position_embeddings,
        type_vocab_size=albert_config.type_vocab_size)
    torch.manual_seed(0)
    self.model = transformers.AlbertForQuestionAnswering(config).eval()
    self.tokenizer = transformers.BertTokenizerFast(
        vocab_file=FLAGS.vocab_file, do_lower_case=True)
    self.dynamic_padding = dynamic_padding
    self.name = "HF transformers (%s padding)" % (
        "dynamic" if dynamic_padding else "max_seq_length")

  def _encode(self, pairs):
    question_tokens = len(self.tokenizer.tokenize(pairs[0][0]))
    room = FLAGS.max_seq_length - question_tokens - 3
    return self.tokenizer(
        [q for q, _ in pairs], [c for _, c in pairs],
        truncation="only_second", max_length=FLAGS.max_seq_length,
        stride=room - FLAGS.doc_stride, return_overflowing_tokens=True,
        return_offsets_mapping=True,
        padding=False if self.dynamic_padding else "max_length")

  def num_windows(self, pairs):
    return len(self._encode(pairs)["input_ids"])

  def answer(self, pairs):
    encoded = self._encode(pairs)
    start_logits, end_logits = [], []
    num = len(encoded["input_ids"])
    with self.torch.inference_mode():
      for begin in range(0, num, FLAGS.batch_size):
        rows = range(begin, min(num, begin + FLAGS.batch_size))
        batch = self.tokenizer.pad(
            {key: [encoded[key][i] for i in rows] for key in
             ("input_ids", "attention_mask", "token_type_ids")},
            return_tensors="pt")
        output = self.model(**batch)
        start_logits.extend(output.start_logits.numpy())
        end_logits.extend(output.end_logits.numpy())
    return self._postprocess(pairs, encoded, start_logits, end_logits)

  def _postprocess(self, pairs, encoded, start_logits, end_logits):
    """run_qa.py's postprocess_qa_predictions (n-best starts x ends)."""
    best = [(-np.inf, "")] * len(pairs)
    for feature, example in enumerate(encoded["overflow_to_sample_mapping"]):
      offsets = encoded["offset_mapping"][feature]
      sequence_ids = encoded.sequence_ids(feature)
      starts = np.argsort(start_logits[feature])[::-1][:N_BEST]
      ends = np.argsort(end_logits[feature])[::-1][:N_BEST]
      for start in starts:
        for end in ends:
          if (start >= len(offsets) or end >= len(offsets) or
              sequence_ids[start] != 1 or sequence_ids[end] != 1 or
              end < start or end - start + 1 > MAX_ANSWER_LENGTH):
            continue
          score = start_logits[feature][start] + end_logits[feature][end]
          if score > best[example][0]:
            context = pairs[example][1]
            best[example] = (score, context[offsets[start][0]:
                                            offsets[end][1]])
    return [text for _, text in best]


# ----------------------------------------------------------------------------


def time_pass(system, pairs):
  start = time.perf_counter()
  system.answer(pairs)
  return time.perf_counter() - start


def main(_):
  tf.logging.set_verbosity(tf.logging.WARN)
  albert_config = modeling.AlbertConfig.from_json_file(
      FLAGS.albert_config_file)
  tokenizer = tokenization.FullTokenizer(FLAGS.vocab_file, True)
  rng = np.random.RandomState(FLAGS.seed)
  pairs = cmrc_like_pairs(tokenizer, FLAGS.num_examples,
                          FLAGS.question_length, rng)
  with tempfile.TemporaryDirectory() as work_dir:
    systems = [Ours(export_random_model(albert_config, FLAGS.vocab_file,
                                        work_dir)),
               HuggingFace(albert_config, dynamic_padding=False),
               HuggingFace(albert_config, dynamic_padding=True)]
    windows = [system.num_windows(pairs) for system in systems]
    print("config %s, max_seq_length %d, %d questions (contexts 400-800 "
          "chars), windows per system: %s, batch %d" % (
              os.path.basename(FLAGS.albert_config_file),
              FLAGS.max_seq_length, len(pairs), windows, FLAGS.batch_size))
    for system in systems:  # warm-up (graph loading, first-call costs)
      system.answer(pairs[:2])
    seconds = [0.0] * len(systems)
    for _ in range(FLAGS.passes):
      for index, system in enumerate(systems):
        seconds[index] += time_pass(system, pairs)
  rates = [FLAGS.passes * len(pairs) / s for s in seconds]
  for system, rate in zip(systems, rates):
    print("%-40s %8.2f examples/sec" % (system.name, rate))
  print("ratio ours / HF (max_seq_length padding): %.2fx (target >= 1.5x)" %
        (rates[0] / rates[1]))
  print("ratio ours / HF (dynamic padding):        %.2fx" %
        (rates[0] / rates[2]))


if __name__ == "__main__":
  app.run(main)
