"""Demonstrates ALBERT's three changes to BERT with real graphs and checks each.

1. Factorized embedding parameterization: V x E + E x H parameters instead of
   V x H.
2. Cross-layer parameter sharing: one set of block weights for every layer
   (or only the attention / only the feed-forward part shared).
3. Sentence-order prediction: the two segments of a pair, in order (label 0)
   or swapped (label 1), so topic alone cannot give the answer. The example
   pair is made by create_pretraining_data.py's own procedure.

Run `python test_changes.py` for the tables (exit status 1 if a claim fails);
pytest also collects the `test_*` functions below as tests.
"""

import collections
import os
import random
import sys

import numpy as np
import tensorflow.compat.v1 as tf

import create_pretraining_data
import modeling
import tokenization

HERE = os.path.dirname(os.path.abspath(__file__))
VOCAB_FILE = os.path.join(HERE, "albert_config", "vocab.txt")

# The ALBERT paper's example: BERT-xxlarge-sized H with a 30k vocabulary.
EMBEDDING_EXAMPLE = dict(vocab_size=30000, hidden_size=4096, embedding_size=128)
# albert_zh's own sharing example: a 12-layer encoder, H=1024, I=3072.
SHARING_EXAMPLE = dict(vocab_size=100, embedding_size=128, hidden_size=1024,
                       num_hidden_layers=12, num_attention_heads=16,
                       intermediate_size=3072)
EXPECTED_ENCODER_PARAMETERS = {"none": 125976576, "all": 10498048}
SOP_SENTENCES = ("刘备三顾茅庐，请诸葛亮出山。", "诸葛亮为他定下三分天下之计。")


def variables_of(config, prefix):
  """Builds an AlbertModel graph (no values) and lists variables under prefix."""
  with tf.Graph().as_default():
    modeling.AlbertModel(config, False, tf.zeros([1, 8], tf.int32))
    return [v for v in tf.trainable_variables() if v.op.name.startswith(prefix)]


def word_embedding_parameters(embedding_size):
  """Word-embedding parameters of a one-layer model with the example sizes.

  With E == H the google layout has no E->H mapping: that is BERT's embedding.
  """
  config = modeling.AlbertConfig.from_dict(dict(
      EMBEDDING_EXAMPLE, embedding_size=embedding_size, layout="google",
      num_hidden_layers=1, num_attention_heads=64, intermediate_size=64))
  names = ("bert/embeddings/word_embeddings",
           "bert/encoder/embedding_hidden_mapping_in/kernel")
  return modeling.count_parameters(
      [v for v in variables_of(config, "bert/") if v.op.name in names])


def encoder_parameters(sharing):
  config = modeling.AlbertConfig.from_dict(dict(SHARING_EXAMPLE,
                                                sharing=sharing))
  return modeling.count_parameters(variables_of(config, "bert/encoder/"))


def sentence_order_pair(tokenizer, first, second):
  """A two-sentence document through create_pretraining_data's SOP procedure.

  Returns the first in-order (label 0) and the first swapped (label 1) instance
  that the seeded pipeline makes, each as (tokens with the masked positions
  restored, segment_ids, label).
  """
  vocab = create_pretraining_data.vocab_ids(tokenizer, VOCAB_FILE)
  encoder = create_pretraining_data.SentenceEncoder(tokenizer, True)
  document = [encoder.encode(first), encoder.encode(second)]
  # short_seq_prob=0 keeps both sentences in one chunk, split between them.
  options = create_pretraining_data.default_options(short_seq_prob=0.0)
  sampler = create_pretraining_data.NgramSampler(options.ngram,
                                                 options.favor_shorter_ngram)
  by_label = {}
  for seed in range(100):
    for instance in create_pretraining_data.create_instances_from_document(
        [document], 0, options, vocab, sampler, random.Random(seed),
        collections.Counter()):
      by_label.setdefault(instance.next_sentence_label, instance)
    if len(by_label) == 2:
      break
  return [_unmasked(tokenizer, by_label[label]) for label in (0, 1)]


def _unmasked(tokenizer, instance):
  ids = list(instance.input_ids)
  for position, original in zip(instance.masked_lm_positions,
                                instance.masked_lm_ids):
    ids[position] = original
  return (tokenizer.convert_ids_to_tokens(ids), list(instance.segment_ids),
          instance.next_sentence_label)


def sop_logits(tokenizer, instances):
  """Runs a small random-init model's SOP head on the instances, [n, 2]."""
  config = modeling.AlbertConfig.from_json_file(
      os.path.join(HERE, "albert_config", "albert_config_tiny.json"))
  ids = np.array([tokenizer.convert_tokens_to_ids(t) for t, _, _ in instances])
  segments = np.array([s for _, s, _ in instances])
  with tf.Graph().as_default():
    model = modeling.AlbertModel(config, False, tf.constant(ids),
                                 token_type_ids=tf.constant(segments))
    logits = modeling.sentence_order_logits(config, model.get_pooled_output())
    with tf.Session() as session:
      session.run(tf.global_variables_initializer())
      return session.run(logits)


# ------------------------------------------------------------------ checks


def test_factorized_embedding_parameters():
  v, h, e = (EMBEDDING_EXAMPLE[k] for k in
             ("vocab_size", "hidden_size", "embedding_size"))
  assert word_embedding_parameters(h) == v * h == 122880000
  assert word_embedding_parameters(e) == v * e + e * h == 4364288


def test_cross_layer_sharing_parameters():
  counts = {mode: encoder_parameters(mode) for mode in modeling.SHARING_MODES}
  assert counts["none"] == EXPECTED_ENCODER_PARAMETERS["none"]
  assert counts["all"] == EXPECTED_ENCODER_PARAMETERS["all"]
  assert counts["all"] < counts["ffn"] < counts["attention"] < counts["none"]
  # Sharing one part saves that part's weights in 11 of 12 layers.
  saved = counts["none"] - counts["all"]
  assert (counts["none"] - counts["attention"]) + (
      counts["none"] - counts["ffn"]) == saved


def test_sentence_order_pairs_differ_only_in_order():
  tokenizer = tokenization.FullTokenizer(VOCAB_FILE)
  in_order, swapped = sentence_order_pair(tokenizer, *SOP_SENTENCES)
  assert (in_order[2], swapped[2]) == (0, 1)
  # The same sentences, split in the same place, only their order differs.
  first, second = (tokenizer.tokenize(s) for s in SOP_SENTENCES)
  assert in_order[0] == ["[CLS]"] + first + ["[SEP]"] + second + ["[SEP]"]
  assert swapped[0] == ["[CLS]"] + second + ["[SEP]"] + first + ["[SEP]"]
  assert in_order[1] == [0] * (len(first) + 2) + [1] * (len(second) + 1)
  assert "[UNK]" not in in_order[0]
  assert sop_logits(tokenizer, [in_order, swapped]).shape == (2, 2)


# ------------------------------------------------------------------ report


def print_table(title, header, rows):
  widths = [max(len(str(x)) for x in column) for column in zip(header, *rows)]
  print("\n" + title)
  for row in [header] + rows:
    print("  " + "  ".join(str(x).rjust(w) for x, w in zip(row, widths)))


def report():
  v, h, e = (EMBEDDING_EXAMPLE[k] for k in
             ("vocab_size", "hidden_size", "embedding_size"))
  print_table("1. Factorized embedding parameterization (V=%d, H=%d, E=%d)"
              % (v, h, e), ["embedding", "parameters"],
              [["V x H (BERT)", "{:,}".format(word_embedding_parameters(h))],
               ["V x E + E x H (ALBERT)",
                "{:,}".format(word_embedding_parameters(e))]])
  print_table("2. Cross-layer sharing, 12-layer encoder, H=1024, I=3072",
              ["sharing", "encoder parameters"],
              [[mode, "{:,}".format(encoder_parameters(mode))]
               for mode in ("none", "attention", "ffn", "all")])
  tokenizer = tokenization.FullTokenizer(VOCAB_FILE)
  instances = sentence_order_pair(tokenizer, *SOP_SENTENCES)
  print_table("3. Sentence-order prediction (label 1 = swapped)",
              ["label", "tokens"],
              [[label, " ".join(tokens)] for tokens, _, label in instances])


def main():
  tf.logging.set_verbosity(tf.logging.ERROR)
  report()
  checks = [test_factorized_embedding_parameters,
            test_cross_layer_sharing_parameters,
            test_sentence_order_pairs_differ_only_in_order]
  failed = 0
  print()
  for check in checks:
    try:
      check()
      print("PASS  " + check.__name__)
    except AssertionError as e:
      failed += 1
      print("FAIL  %s %s" % (check.__name__, e))
  return 1 if failed else 0


if __name__ == "__main__":
  tf.disable_v2_behavior()
  sys.exit(main())
