# coding=utf-8
"""Creates ALBERT pretraining TFRecords (masked LM + sentence order) from text.

Input: UTF-8 text, one sentence per line, an empty line between documents.
Output: tf.train.Examples with the features albert_zh and google-research/albert
write (see pretraining_input.py, which reads them back).

Compared with the original scripts this one
  * masks Chinese whole words correctly: each sentence is segmented with jieba
    once (not once per duplicate), and the label of a masked character is the
    character itself, never its `##` twin, which never enters input_ids either;
  * does n-gram masking over whole words (p(n) proportional to 1/n) with an
    explicit, seeded rng, so `--random_seed` reproduces the output byte for byte
    whatever `--num_workers` is;
  * keeps single-sentence documents (the sentence is split in two) and reports
    everything it skips;
  * streams: documents are processed in bounded blocks, in parallel, and the
    instances are shuffled in a bounded buffer, so memory does not grow with
    the corpus;
  * writes each output under a temporary name and renames it when complete,
    and fails (leaving no file) when the input yields no instances;
  * shards across machines: with --num_shards=N --shard_index=i, a run takes
    the documents at positions i, i+N, i+2N, ... (whole documents) and writes
    `<output_file>-0000i-of-0000N`; since every document has its own rng, the
    N outputs together hold exactly the instances of one unsharded run.

Usage:
  python create_pretraining_data.py --input_file=data/sample_text_zh.txt \
    --output_file=/tmp/tf_examples.tfrecord --vocab_file=albert_config/vocab.txt \
    --do_whole_word_mask=True --max_seq_length=128 --max_predictions_per_seq=20
"""

import bisect
import collections
import glob
import importlib
import multiprocessing
import os
import random
import string
import struct
import threading
import time

from absl import app
from absl import flags
from absl import logging
import jieba

import shared_flags
import tokenization

FLAGS = flags.FLAGS

# With --spm_model_file, word starts come from SentencePiece's word marker and
# jieba is not used.
shared_flags.define("input_file", "output_file", "vocab_file", "spm_model_file",
                    "do_lower_case", "max_seq_length", "max_predictions_per_seq",
                    "random_seed")
flags.DEFINE_bool(
    "do_whole_word_mask", True,
    "Mask whole words: every token of a chosen word is masked. Chinese words "
    "come from jieba unless --non_chinese.")
flags.DEFINE_bool(
    "non_chinese", False,
    "Skip jieba word segmentation (text that is not Chinese): every CJK "
    "character is its own word and WordPiece `##` pieces join the word before.")
flags.DEFINE_integer(
    "dupe_factor", 10,
    "Number of times to duplicate the input data (with different masks).")
flags.DEFINE_float("masked_lm_prob", 0.15, "Masked LM probability.")
flags.DEFINE_float(
    "short_seq_prob", 0.1,
    "Probability of creating sequences shorter than the maximum length.")
flags.DEFINE_integer("ngram", 3, "Maximum number of whole words in a masked span.")
flags.DEFINE_bool(
    "favor_shorter_ngram", True,
    "p(n) proportional to 1/n when True; reversed (favouring long spans) when "
    "False.")
flags.DEFINE_bool(
    "random_next_sentence", False,
    "BERT-style next sentence prediction instead of sentence order prediction: "
    "label 1 means segment B was taken from a random document.")
flags.DEFINE_integer(
    "num_workers", 1,
    "Worker processes for segmentation, tokenization and masking. The output "
    "does not depend on it.")
flags.DEFINE_enum(
    "on_decode_error", "strict", ["strict", "replace"],
    "What to do with input lines that are not valid UTF-8: `strict` stops "
    "with an error naming the file and line; `replace` substitutes U+FFFD "
    "(dropped by the tokenizer) and counts the lines in the summary.")
flags.DEFINE_integer(
    "shuffle_buffer_size", 20000,
    "Instances held in the shuffle buffer before writing; bounds memory.")
flags.DEFINE_integer(
    "num_shards", 1,
    "Split the work over this many machines (or batch-scheduler tasks), each "
    "run with its own --shard_index; together they write the instances of one "
    "unsharded run. Outputs are named <output_file>-<index>-of-<num_shards>.")
flags.DEFINE_integer(
    "shard_index", 0,
    "Which shard this run makes, in [0, num_shards): the documents at "
    "positions shard_index, shard_index + num_shards, ... of the input.")

# Documents are handed to workers in blocks of about this many characters:
# large enough to amortise the hand-off, small enough to balance two workers
# on a small corpus and to keep memory flat.
_BLOCK_MAX_CHARS = 50000
# A "document" longer than this (e.g. a file without empty lines) is cut at a
# sentence boundary so that one document never has to fit in memory at once.
_MAX_DOCUMENT_CHARS = 100000
_PROGRESS_INTERVAL_SECS = 10.0
_NUM_EXAMPLES_TO_LOG = 2
# Below this --max_seq_length an instance holds so few tokens that
# num_to_predict masks only one or two of them.
_MIN_USEFUL_SEQ_LENGTH = 16


PretrainingOptions = collections.namedtuple("PretrainingOptions", [
    "max_seq_length", "max_predictions_per_seq", "masked_lm_prob",
    "short_seq_prob", "dupe_factor", "do_whole_word_mask", "ngram",
    "favor_shorter_ngram", "random_next_sentence", "random_seed"
])

# Ids of the special tokens and the ids a masked token may be replaced with.
VocabIds = collections.namedtuple(
    "VocabIds", ["cls_id", "sep_id", "mask_id", "replacement_ids"])

TrainingInstance = collections.namedtuple("TrainingInstance", [
    "input_ids", "segment_ids", "token_boundary", "masked_lm_positions",
    "masked_lm_ids", "next_sentence_label"
])

MaskedLmOutput = collections.namedtuple(
    "MaskedLmOutput",
    ["input_ids", "masked_lm_positions", "masked_lm_ids", "ngram_lengths"])


def default_options(**overrides):
  """PretrainingOptions with the flags' default values, updated by `overrides`."""
  values = {name: FLAGS[name].default for name in PretrainingOptions._fields}
  values.update(overrides)
  return PretrainingOptions(**values)


def options_from_flags():
  return PretrainingOptions(
      **{name: FLAGS[name].value for name in PretrainingOptions._fields})


def _is_bracketed_symbol(token):
  return len(token) > 2 and (token[0], token[-1]) in (("[", "]"), ("<", ">"))


def _is_cjk_twin(token):
  return (len(token) == 3 and token.startswith("##") and
          tokenization.is_chinese_char(ord(token[2])))


def vocab_ids(tokenizer, vocab_file):
  """Looks up the special tokens and the replacement candidates of a vocab.

  Random replacements are drawn only from real tokens: never [PAD], [UNK],
  [unused*], [CLS], [SEP], [MASK] (or SentencePiece's <pad>/<unk>), nor the
  `##` twin of a CJK character, which the tokenizer never produces.
  """
  vocab = tokenizer.vocab
  missing = [t for t in ("[CLS]", "[SEP]", "[MASK]") if t not in vocab]
  if missing:
    raise ValueError("Vocab %s lacks %s, which pretraining instances need" %
                     (vocab_file, ", ".join(missing)))
  replacement_ids = [
      index for token, index in vocab.items()
      if not _is_bracketed_symbol(token) and not _is_cjk_twin(token)
  ]
  return VocabIds(vocab["[CLS]"], vocab["[SEP]"], vocab["[MASK]"],
                  replacement_ids)


_ASCII_PUNCTUATION = frozenset(string.punctuation)
_ASCII_LETTERS_AND_PUNCTUATION = frozenset(string.ascii_lowercase +
                                           string.punctuation)


def _is_start_piece_sp(piece):
  """google's rule for SentencePiece pieces.

  A word starts at the "▁" marker, at "<", at a punctuation piece, and at
  any piece holding something other than ASCII letters and punctuation (digits
  and foreign characters are treated as whole words).
  """
  return (piece.startswith((tokenization.SPIECE_UNDERLINE, "<")) or
          piece in _ASCII_PUNCTUATION or
          any(char.lower() not in _ASCII_LETTERS_AND_PUNCTUATION
              for char in piece))


class SentenceEncoder(object):
  """Turns one sentence into token ids plus a word-start flag per token.

  With WordPiece vocabularies each CJK character is looked up on its own and
  the text between CJK characters goes through the tokenizer, which gives
  exactly tokenizer.tokenize(sentence) (BERT isolates CJK characters before
  anything else); all-CJK jieba words are memoised, as natural text repeats
  them. When `segment_chinese_words`, a CJK character starts a word only where
  jieba starts one; other tokens start a word unless they are `##`
  continuation pieces. With SentencePiece the "▁" marker decides.
  """

  _CACHE_SIZE = 1 << 17

  def __init__(self, tokenizer, segment_chinese_words):
    self._tokenizer = tokenizer
    self._segment = segment_chinese_words and tokenizer.sp_model is None
    self._char_ids = {}  # character -> tuple of ids if CJK, else None
    self._run_cache = {}  # non-CJK text -> (ids, starts)
    self._word_cache = {}  # all-CJK jieba word -> (ids, starts)
    if self._segment:
      jieba.setLogLevel(60)  # its "Building prefix dict" chatter is noise
      jieba.initialize()  # once, before workers fork, so they share it

  def encode(self, sentence):
    """Returns (token_ids, word_starts), two lists of equal length."""
    if self._tokenizer.sp_model is not None:
      tokens = self._tokenizer.tokenize(sentence)
      return (self._tokenizer.convert_tokens_to_ids(tokens),
              [_is_start_piece_sp(token) for token in tokens])
    words = jieba.lcut(sentence) if self._segment else [sentence]
    ids = []
    starts = []
    run = []  # pending non-CJK characters, tokenized together
    for word in words:
      cached = self._word_cache.get(word)
      if cached is not None:
        if run:
          self._append_run("".join(run), ids, starts)
          run = []
        ids.extend(cached[0])
        starts.extend(cached[1])
        continue
      word_begin = None  # where this word's tokens start in ids
      all_cjk = True
      word_start = True
      for char in word:
        char_ids = self._char_ids.get(char, ())
        if char_ids == ():
          char_ids = self._lookup_char(char)
        if char_ids is None:
          run.append(char)
          all_cjk = False
        else:
          if run:
            self._append_run("".join(run), ids, starts)
            run = []
          if word_begin is None:
            word_begin = len(ids)
          ids.extend(char_ids)
          starts.append(word_start)
          starts.extend([False] * (len(char_ids) - 1))
        # Without segmentation every CJK character is a word of its own.
        word_start = not self._segment
      if all_cjk and self._segment:
        self._remember(self._word_cache, word,
                       (ids[word_begin:], starts[word_begin:]))
    if run:
      self._append_run("".join(run), ids, starts)
    return ids, starts

  def _remember(self, cache, key, value):
    if len(cache) >= self._CACHE_SIZE:
      cache.clear()  # bounded: rare names and numbers would pile up
    cache[key] = value

  def _lookup_char(self, char):
    if tokenization.is_chinese_char(ord(char)):
      char_ids = tuple(self._tokenizer.convert_tokens_to_ids(
          self._tokenizer.tokenize(char)))
    else:
      char_ids = None
    self._char_ids[char] = char_ids
    return char_ids

  def _append_run(self, text, ids, starts):
    cached = self._run_cache.get(text)
    if cached is None:
      tokens = self._tokenizer.tokenize(text)
      cached = (self._tokenizer.convert_tokens_to_ids(tokens),
                [not token.startswith("##") for token in tokens])
      self._remember(self._run_cache, text, cached)
    ids.extend(cached[0])
    starts.extend(cached[1])


class NgramSampler(object):
  """Draws span lengths n in 1..ngram with p(n) proportional to 1/n."""

  def __init__(self, ngram, favor_shorter_ngram):
    weights = [1.0 / n for n in range(1, ngram + 1)]
    if not favor_shorter_ngram:
      weights.reverse()
    # cumulative[m] is the normalised CDF over n = 1..m (spans near the end of
    # a segment cannot be longer than the words left).
    self._cumulative = [None]
    for max_n in range(1, ngram + 1):
      total = sum(weights[:max_n])
      running = 0.0
      cdf = []
      for weight in weights[:max_n]:
        running += weight
        cdf.append(running / total)
      self._cumulative.append(cdf)
    self.ngram = ngram

  def probabilities(self, max_n):
    cdf = self._cumulative[max_n]
    return [cdf[0]] + [cdf[i] - cdf[i - 1] for i in range(1, len(cdf))]

  def sample(self, rng, max_n):
    cdf = self._cumulative[min(max_n, self.ngram)]
    return min(bisect.bisect_right(cdf, rng.random()) + 1, len(cdf))


def num_to_predict(num_tokens, masked_lm_prob, max_predictions_per_seq):
  """The published count: min(max_predictions, max(1, round(n * prob)))."""
  if masked_lm_prob == 0:
    return 0
  return min(max_predictions_per_seq,
             max(1, int(round(num_tokens * masked_lm_prob))))


def _segment_words(segment_bounds, word_starts, do_whole_word_mask):
  """Word spans of the segments and, per word, one past its segment's last.

  A word is a start token and the continuation tokens after it; a segment's
  first token always starts a word (truncation may have cut its head off), so
  no word crosses [SEP].
  """
  begins = []
  ends = []
  segment_limits = []
  for low, high in segment_bounds:
    if do_whole_word_mask:
      segment_begins = [low] + [
          i for i in range(low + 1, high) if word_starts[i]]
    else:
      segment_begins = list(range(low, high))
    begins.extend(segment_begins)
    ends.extend(segment_begins[1:])
    ends.append(high)
    segment_limits.extend([len(begins)] * len(segment_begins))
  return begins, ends, segment_limits


def create_masked_lm_predictions(input_ids, word_starts, segment_bounds,
                                 options, vocab, ngram_sampler, rng):
  """Chooses whole-word n-gram spans and masks them (80/10/10).

  Args:
    input_ids: token ids of the whole sequence, [CLS] and [SEP] included.
    word_starts: per token, True where a word starts.
    segment_bounds: [(low, high)] token ranges of the text segments (the
      positions of [CLS]/[SEP] are outside them and never masked).
    options: PretrainingOptions.
    vocab: VocabIds.
    ngram_sampler: NgramSampler for options.ngram.
    rng: random.Random.

  Returns:
    MaskedLmOutput: the masked input ids, the sorted masked positions, the
    original ids at those positions, and the n of every chosen span.
  """
  output_ids = list(input_ids)
  target = num_to_predict(len(input_ids), options.masked_lm_prob,
                          options.max_predictions_per_seq)
  begins, ends, limits = _segment_words(segment_bounds, word_starts,
                                        options.do_whole_word_mask)
  num_words = len(begins)
  order = list(range(num_words))
  covered = bytearray(len(input_ids))
  positions = []
  ngram_lengths = []
  for k in range(num_words):
    if len(positions) >= target:
      break
    # Lazy Fisher-Yates: only the words actually visited get shuffled.
    swap = k + int(rng.random() * (num_words - k))
    order[k], order[swap] = order[swap], order[k]
    word = order[k]
    n = ngram_sampler.sample(rng, limits[word] - word)
    begin = begins[word]
    # As published: fall back to shorter n-grams if the span would overshoot
    # the prediction budget, and skip the candidate if even one word does.
    room = target - len(positions)
    while n > 1 and ends[word + n - 1] - begin > room:
      n -= 1
    end = ends[word + n - 1]
    if end - begin > room or any(covered[begin:end]):
      continue
    covered[begin:end] = b"\x01" * (end - begin)
    for index in range(begin, end):
      positions.append(index)
      output_ids[index] = _masked_token_id(input_ids[index], vocab, rng)
    ngram_lengths.append(n)
  positions.sort()
  return MaskedLmOutput(output_ids, positions,
                        [input_ids[i] for i in positions], ngram_lengths)


def _masked_token_id(original_id, vocab, rng):
  """80% [MASK], 10% the original token, 10% a random real token."""
  if rng.random() < 0.8:
    return vocab.mask_id
  if rng.random() < 0.5:
    return original_id
  return rng.choice(vocab.replacement_ids)


def _concat_sentences(sentences):
  ids = []
  starts = []
  for sentence_ids, sentence_starts in sentences:
    ids.extend(sentence_ids)
    starts.extend(sentence_starts)
  return ids, starts


def truncate_seq_pair(tokens_a, tokens_b, max_num_tokens, rng):
  """google's truncation: trim the longer side, front or back at random.

  Segments are (ids, starts) pairs; returns the truncated pair of segments and
  the number of tokens removed.
  """
  lengths = [len(tokens_a[0]), len(tokens_b[0])]
  trims = [[0, 0], [0, 0]]  # tokens cut from the [front, back] of A and of B
  while lengths[0] + lengths[1] > max_num_tokens:
    side = 0 if lengths[0] > lengths[1] else 1
    trims[side][0 if rng.random() < 0.5 else 1] += 1
    lengths[side] -= 1

  def cut(segment, trim):
    front, back = trim
    end = len(segment[0]) - back
    return segment[0][front:end], segment[1][front:end]

  removed = len(tokens_a[0]) + len(tokens_b[0]) - sum(lengths)
  return cut(tokens_a, trims[0]), cut(tokens_b, trims[1]), removed


def _split_single_sentence(sentence, rng):
  """Splits one sentence into A and B at a random word start (>= 1 token each)."""
  ids, starts = sentence
  cut_points = [i for i in range(1, len(ids)) if starts[i]]
  if not cut_points:
    cut_points = list(range(1, len(ids)))
  cut = rng.choice(cut_points)
  return (ids[:cut], starts[:cut]), (ids[cut:], starts[cut:])


def _sop_pair(chunk, rng, stats):
  """Sentence order pair: (A, B, label), label 1 when swapped; None if unsplittable."""
  if len(chunk) >= 2:
    a_end = rng.randint(1, len(chunk) - 1)
    tokens_a = _concat_sentences(chunk[:a_end])
    tokens_b = _concat_sentences(chunk[a_end:])
  elif len(chunk[0][0]) >= 2:
    # albert_zh drops these chunks, losing every single-sentence document.
    tokens_a, tokens_b = _split_single_sentence(chunk[0], rng)
    stats["single_sentences_split"] += 1
  else:
    stats["skipped_one_token_chunks"] += 1
    return None
  if rng.random() < 0.5:
    return tokens_b, tokens_a, 1
  return tokens_a, tokens_b, 0


def _nsp_pair(chunk, documents, document_index, target_seq_length, rng):
  """BERT next sentence pair: (A, B, label, unused sentences); 1 = random B."""
  a_end = rng.randint(1, len(chunk) - 1) if len(chunk) >= 2 else 1
  tokens_a = _concat_sentences(chunk[:a_end])
  if len(chunk) == 1 or rng.random() < 0.5:
    target_b_length = target_seq_length - len(tokens_a[0])
    # Random documents come from the current block (the whole corpus is never
    # in memory); as in BERT, ten tries to avoid the document itself.
    for _ in range(10):
      random_index = rng.randint(0, len(documents) - 1)
      if random_index != document_index:
        break
    random_document = documents[random_index]
    random_start = rng.randint(0, len(random_document) - 1)
    b_sentences = []
    b_length = 0
    for sentence in random_document[random_start:]:
      b_sentences.append(sentence)
      b_length += len(sentence[0])
      if b_length >= target_b_length:
        break
    return tokens_a, _concat_sentences(b_sentences), 1, len(chunk) - a_end
  return tokens_a, _concat_sentences(chunk[a_end:]), 0, 0


def _build_instance(tokens_a, tokens_b, label, options, vocab, ngram_sampler,
                    rng, stats):
  """[CLS] A [SEP] B [SEP], masked, as a TrainingInstance."""
  ids_a, starts_a = tokens_a
  ids_b, starts_b = tokens_b
  input_ids = [vocab.cls_id] + ids_a + [vocab.sep_id] + ids_b + [vocab.sep_id]
  word_starts = [True] + starts_a + [True] + starts_b + [True]
  len_a = len(ids_a)
  segment_bounds = ((1, len_a + 1), (len_a + 2, len_a + 2 + len(ids_b)))
  masked = create_masked_lm_predictions(input_ids, word_starts, segment_bounds,
                                        options, vocab, ngram_sampler, rng)
  stats["instances"] += 1
  stats["label_1"] += label
  stats["masked_tokens"] += len(masked.masked_lm_positions)
  for n in masked.ngram_lengths:
    stats["ngram_%d" % n] += 1
  return TrainingInstance(
      input_ids=masked.input_ids,
      segment_ids=[0] * (len_a + 2) + [1] * (len(ids_b) + 1),
      token_boundary=word_starts,
      masked_lm_positions=masked.masked_lm_positions,
      masked_lm_ids=masked.masked_lm_ids,
      next_sentence_label=label)


def create_instances_from_document(documents, document_index, options, vocab,
                                   ngram_sampler, rng, stats):
  """All instances of one document for one duplicate (google's procedure).

  Args:
    documents: encoded documents of the block; each a list of (ids, starts)
      sentences, none empty.
    document_index: which of `documents` to use.
    options: PretrainingOptions.
    vocab: VocabIds.
    ngram_sampler: NgramSampler.
    rng: random.Random dedicated to this (document, duplicate).
    stats: collections.Counter updated with what was made and skipped.

  Returns:
    A list of TrainingInstance.
  """
  document = documents[document_index]
  max_num_tokens = options.max_seq_length - 3
  target_seq_length = max_num_tokens
  if rng.random() < options.short_seq_prob:
    target_seq_length = rng.randint(2, max_num_tokens)

  instances = []
  chunk = []
  chunk_length = 0
  i = 0
  while i < len(document):
    chunk.append(document[i])
    chunk_length += len(document[i][0])
    if i == len(document) - 1 or chunk_length >= target_seq_length:
      if options.random_next_sentence:
        tokens_a, tokens_b, label, unused = _nsp_pair(
            chunk, documents, document_index, target_seq_length, rng)
        i -= unused  # the sentences not used for A start the next chunk
        pair = (tokens_a, tokens_b, label)
      else:
        pair = _sop_pair(chunk, rng, stats)
      if pair is not None:
        tokens_a, tokens_b, label = pair
        tokens_a, tokens_b, removed = truncate_seq_pair(
            tokens_a, tokens_b, max_num_tokens, rng)
        stats["truncated_tokens"] += removed
        instances.append(
            _build_instance(tokens_a, tokens_b, label, options, vocab,
                            ngram_sampler, rng, stats))
      chunk = []
      chunk_length = 0
    i += 1
  return instances


# ---------------------------------------------------------------------------
# tf.train.Example serialization by hand: building Example protos in Python is
# the bottleneck otherwise. The bytes equal
# tf.train.Example.SerializeToString(deterministic=True) (features in sorted
# key order), which create_pretraining_data_test.py checks.


def _encode_varint(value):
  pieces = bytearray()
  while True:
    low = value & 0x7F
    value >>= 7
    if value:
      pieces.append(low | 0x80)
    else:
      pieces.append(low)
      return bytes(pieces)


_VARINT = [_encode_varint(value) for value in range(1 << 16)]


def _varint(value):
  return _VARINT[value] if value < (1 << 16) else _encode_varint(value)


def _packed_int64s(values, padded_length):
  try:
    payload = b"".join(map(_VARINT.__getitem__, values))
  except IndexError:  # an id beyond the table (vocabularies over 65536)
    payload = b"".join([_varint(value) for value in values])
  return payload + b"\x00" * (padded_length - len(values))


def _packed_bits(values, padded_length):
  # 0/1 values (or bools) are one-byte varints equal to themselves.
  return bytes(values) + b"\x00" * (padded_length - len(values))


def _length_delimited(tag, payload):
  return tag + _varint(len(payload)) + payload


_INT64_LIST = b"\x1a"  # Feature.int64_list, field 3, length-delimited
_FLOAT_LIST = b"\x12"  # Feature.float_list, field 2, length-delimited
_entry_prefixes = {}


def _feature_entry(name, list_tag, packed):
  """One Features.feature map entry holding a packed list.

  Everything before the packed values depends only on the name, the list type
  and the payload length, so it is built once per such triple.
  """
  key = (name, list_tag, len(packed))
  prefix = _entry_prefixes.get(key)
  if prefix is None:
    placeholder = b"\x00" * len(packed)
    feature = _length_delimited(list_tag, _length_delimited(b"\x0a",
                                                            placeholder))
    entry = _length_delimited(b"\x0a", name) + _length_delimited(
        b"\x12", feature)
    prefix = _length_delimited(b"\x0a", entry)[:-len(packed) or None]
    _entry_prefixes[key] = prefix
  return prefix + packed


_FLOAT_ONE = struct.pack("<f", 1.0)
_FLOAT_ZERO = struct.pack("<f", 0.0)


def serialize_instance(instance, max_seq_length, max_predictions_per_seq):
  """Serialized tf.train.Example of one instance, padded as the readers expect."""
  length = len(instance.input_ids)
  num_masked = len(instance.masked_lm_positions)
  weights = (_FLOAT_ONE * num_masked +
             _FLOAT_ZERO * (max_predictions_per_seq - num_masked))
  # Entries in sorted key order, as SerializeToString(deterministic=True).
  body = b"".join([
      _feature_entry(b"input_ids", _INT64_LIST,
                     _packed_int64s(instance.input_ids, max_seq_length)),
      _feature_entry(b"input_mask", _INT64_LIST,
                     b"\x01" * length + b"\x00" * (max_seq_length - length)),
      _feature_entry(b"masked_lm_ids", _INT64_LIST,
                     _packed_int64s(instance.masked_lm_ids,
                                    max_predictions_per_seq)),
      _feature_entry(b"masked_lm_positions", _INT64_LIST,
                     _packed_int64s(instance.masked_lm_positions,
                                    max_predictions_per_seq)),
      _feature_entry(b"masked_lm_weights", _FLOAT_LIST, weights),
      _feature_entry(b"next_sentence_labels", _INT64_LIST,
                     _packed_bits([instance.next_sentence_label], 1)),
      _feature_entry(b"segment_ids", _INT64_LIST,
                     _packed_bits(instance.segment_ids, max_seq_length)),
      _feature_entry(b"token_boundary", _INT64_LIST,
                     _packed_bits(instance.token_boundary, max_seq_length)),
  ])
  return _length_delimited(b"\x0a", body)


# ---------------------------------------------------------------------------
# Files. TensorFlow is imported only when first needed (remote paths, the
# first record written, or right after the worker processes are forked), so
# its 3-4 s import overlaps with the workers' first blocks instead of
# delaying them, and the workers are forked without it.


def _tf():
  return importlib.import_module("tensorflow.compat.v1")


def _is_remote(path):
  return "://" in path


def _glob(pattern):
  if _is_remote(pattern):
    return _tf().io.gfile.glob(pattern)
  return glob.glob(pattern)


def _exists(path):
  return _tf().io.gfile.exists(path) if _is_remote(path) else os.path.exists(path)


def _open_binary(path):
  return _tf().io.gfile.GFile(path, "rb") if _is_remote(path) else open(path, "rb")


# ---------------------------------------------------------------------------
# Reading: documents streamed from the input files, grouped into blocks.


def expand_input_files(input_file_flag):
  """Expands --input_file (local paths or gs:// and other remote globs)."""
  return shared_flags.expand_input_files(input_file_flag, glob_fn=_glob)


def _iter_lines(path, on_decode_error, stats):
  """Yields the stripped lines of a UTF-8 file, with errors naming file:line."""
  with _open_binary(path) as reader:
    for line_number, raw_line in enumerate(reader, start=1):
      stats["input_bytes"] += len(raw_line)
      try:
        line = raw_line.decode("utf-8")
      except UnicodeDecodeError as error:
        if on_decode_error != "replace":
          raise ValueError(
              "%s:%d is not valid UTF-8 (%s at byte %d of the line): convert "
              "the file to UTF-8, or pass --on_decode_error=replace to replace "
              "the bad bytes and go on" %
              (path, line_number, error.reason, error.start)) from None
        line = raw_line.decode("utf-8", "replace")
        stats["lines_with_decode_errors"] += 1
      yield line.strip()


def iter_documents(input_files, on_decode_error, stats):
  """Yields each document as a list of non-empty lines.

  An empty line (or the end of a file) ends a document. A document longer than
  _MAX_DOCUMENT_CHARS is cut at a sentence boundary so memory stays bounded.
  """
  for path in input_files:
    document = []
    document_chars = 0
    for line in _iter_lines(path, on_decode_error, stats):
      if line:
        document.append(line)
        document_chars += len(line)
        if document_chars < _MAX_DOCUMENT_CHARS:
          continue
        stats["documents_cut_for_length"] += 1
      if document:
        yield document
      document = []
      document_chars = 0
    if document:
      yield document


def select_shard(documents, num_shards, shard_index, stats):
  """Yields (position in the input, document) for this shard's documents.

  Shard i takes the documents at positions i, i + N, i + 2N, ...: whole
  documents, spread evenly however the corpus is ordered, and the position
  (which seeds the document's rng) is the one an unsharded run gives it.
  """
  for document_index, document in enumerate(documents):
    stats["documents_in_input"] += 1
    if document_index % num_shards == shard_index:
      yield document_index, document


def iter_blocks(indexed_documents):
  """Groups (document_index, document) pairs into blocks.

  Yields (block_index, document_indices, documents). Block boundaries depend
  only on the text, never on the number of workers, which keeps the output
  identical for any --num_workers.
  """
  indices = []
  block = []
  block_chars = 0
  block_index = 0
  for document_index, document in indexed_documents:
    indices.append(document_index)
    block.append(document)
    block_chars += sum(len(line) for line in document)
    if block_chars >= _BLOCK_MAX_CHARS:
      yield block_index, indices, block
      block_index += 1
      indices = []
      block = []
      block_chars = 0
  if block:
    yield block_index, indices, block


# ---------------------------------------------------------------------------
# Processing a block: the unit of work of one worker.


class BlockProcessor(object):
  """Encodes a block of documents once and makes dupe_factor sets of instances."""

  def __init__(self, encoder, options, vocab):
    self.encoder = encoder
    self.options = options
    self.vocab = vocab
    self.ngram_sampler = NgramSampler(options.ngram, options.favor_shorter_ngram)

  def encode_document(self, lines, stats):
    sentences = []
    for line in lines:
      sentence = self.encoder.encode(line)
      if sentence[0]:
        sentences.append(sentence)
      else:
        stats["skipped_lines_without_tokens"] += 1
    stats["sentences"] += len(sentences)
    return sentences

  def __call__(self, block):
    """Returns (serialized examples in shuffled order, Counter of stats)."""
    block_index, document_indices, lines_of_documents = block
    stats = collections.Counter()
    documents = []  # (index in the corpus, encoded sentences)
    for document_index, lines in zip(document_indices, lines_of_documents):
      sentences = self.encode_document(lines, stats)
      if sentences:
        documents.append((document_index, sentences))
      else:
        stats["skipped_documents_without_tokens"] += 1
    stats["documents"] += len(documents)
    encoded = [sentences for _, sentences in documents]
    options = self.options
    records = []
    for local_index, (document_index, _) in enumerate(documents):
      for dupe in range(options.dupe_factor):
        # One rng per (seed, duplicate, document): the result of a document
        # depends on nothing else, whatever worker handles it.
        rng = random.Random("%d:%d:%d" % (options.random_seed, dupe,
                                          document_index))
        for instance in create_instances_from_document(
            encoded, local_index, options, self.vocab, self.ngram_sampler,
            rng, stats):
          records.append(serialize_instance(instance, options.max_seq_length,
                                            options.max_predictions_per_seq))
    random.Random("%d:block:%d" % (options.random_seed,
                                   block_index)).shuffle(records)
    return records, stats


_WORKER_PROCESSOR = None


def _init_worker(processor):
  global _WORKER_PROCESSOR
  _WORKER_PROCESSOR = processor


def _process_block_in_worker(block):
  return _WORKER_PROCESSOR(block)


def process_blocks(processor, blocks, num_workers):
  """Yields processor(block) for every block, in block order.

  With several workers the blocks are processed in forked processes (which
  share the tokenizer and jieba's dictionary) with at most 2 * num_workers
  blocks in flight, so reading never runs ahead of processing.
  """
  if num_workers == 1:
    for block in blocks:
      yield processor(block)
    return
  context = multiprocessing.get_context("fork")
  with context.Pool(num_workers, initializer=_init_worker,
                    initargs=(processor,)) as pool:
    # The workers exist now; import TensorFlow (needed for writing) while
    # they work, instead of stalling them later when the first record is due.
    threading.Thread(target=_tf, daemon=True).start()
    pending = collections.deque()
    for block in blocks:
      pending.append(pool.apply_async(_process_block_in_worker, (block,)))
      if len(pending) >= 2 * num_workers:
        yield pending.popleft().get()
    while pending:
      yield pending.popleft().get()


class ShuffleBuffer(object):
  """Bounded random shuffle: each new record evicts a random held one."""

  def __init__(self, size, rng):
    self._size = max(1, size)
    self._rng = rng
    self._records = []

  def add(self, record):
    """Adds a record; returns the record to write now, or None."""
    if len(self._records) < self._size:
      self._records.append(record)
      return None
    index = self._rng.randrange(self._size)
    evicted = self._records[index]
    self._records[index] = record
    return evicted

  def drain(self):
    self._rng.shuffle(self._records)
    records, self._records = self._records, []
    return records


class AtomicRecordWriters(object):
  """TFRecord writers that write `<name>.incomplete` and rename on success.

  The files are opened at the first record. On an exception the temporary
  files are deleted; a killed run leaves only `.incomplete` files, never a
  truncated file under the final name.
  """

  def __init__(self, output_files):
    self._final = list(output_files)
    self._temporary = [path + ".incomplete" for path in self._final]
    self._writers = []
    self._next = 0
    self.counts = [0] * len(self._final)

  def __enter__(self):
    return self

  def _open(self):
    gfile = _tf().io.gfile
    for path in self._final:
      directory = os.path.dirname(path)
      if directory:
        gfile.makedirs(directory)
    self._writers = [_tf().io.TFRecordWriter(path) for path in self._temporary]

  def write(self, record):
    if not self._writers:
      self._open()
    self._writers[self._next].write(record)
    self.counts[self._next] += 1
    self._next = (self._next + 1) % len(self._writers)

  def __exit__(self, exc_type, exc_value, traceback):
    if not self._writers:
      return False  # nothing was written: no file, not even an empty one
    for writer in self._writers:
      writer.close()
    gfile = _tf().io.gfile
    if exc_type is not None:
      for path in self._temporary:
        if gfile.exists(path):
          gfile.remove(path)
      return False
    for temporary, final in zip(self._temporary, self._final):
      gfile.rename(temporary, final, overwrite=True)
    return False


class ProgressLogger(object):
  """Logs documents and instances per second every few seconds."""

  def __init__(self, interval_secs=_PROGRESS_INTERVAL_SECS):
    self._interval = interval_secs
    self._start = time.time()
    self._last = self._start

  def maybe_log(self, stats, written):
    now = time.time()
    if now - self._last < self._interval:
      return
    self._last = now
    elapsed = now - self._start
    logging.info(
        "Progress: %d documents (%.1f/s), %.1f MB of text (%.2f MB/s), %d "
        "instances made, %d written (%.0f/s)", stats["documents"],
        stats["documents"] / elapsed, stats["input_bytes"] / 1e6,
        stats["input_bytes"] / 1e6 / elapsed, stats["instances"], written,
        written / elapsed)


def _log_example(record, tokenizer):
  example = _tf().train.Example.FromString(record)
  features = example.features.feature
  length = sum(features["input_mask"].int64_list.value)
  tokens = tokenizer.convert_ids_to_tokens(
      features["input_ids"].int64_list.value[:length])
  num_masked = int(sum(features["masked_lm_weights"].float_list.value))
  labels = tokenizer.convert_ids_to_tokens(
      features["masked_lm_ids"].int64_list.value[:num_masked])
  logging.info("*** Example ***\ntokens: %s\nmasked_lm_positions: %s\n"
                  "masked_lm_labels: %s\nnext_sentence_labels: %d",
                  " ".join(tokens),
                  list(features["masked_lm_positions"].int64_list.value
                       [:num_masked]), " ".join(labels),
                  features["next_sentence_labels"].int64_list.value[0])


def summarize(stats, options):
  """One line saying what was read, made and skipped (and why)."""
  instances = max(stats["instances"], 1)
  spans = sum(stats["ngram_%d" % n] for n in range(1, options.ngram + 1))
  ngram_shares = " ".join(
      "%d:%.1f%%" % (n, 100.0 * stats["ngram_%d" % n] / max(spans, 1))
      for n in range(1, options.ngram + 1))
  label_name = ("NSP label 1 (random next)" if options.random_next_sentence
                else "SOP label 1 (swapped)")
  skipped = ", ".join("%d %s" % (stats[key], description) for key, description in (
      ("skipped_lines_without_tokens", "lines without tokens"),
      ("skipped_documents_without_tokens", "documents without tokens"),
      ("skipped_one_token_chunks", "one-token chunks that cannot be split"),
      ("truncated_tokens", "tokens truncated to fit max_seq_length"),
      ("lines_with_decode_errors", "lines with invalid UTF-8 replaced"),
      ("documents_cut_for_length",
       "documents cut at %d characters" % _MAX_DOCUMENT_CHARS),
  ))
  return ("Summary: %d documents, %d sentences, %d instances (x%d duplicates), "
          "%d masked tokens (%.2f per instance; n-gram spans %s), %s: %.1f%%, "
          "%d single sentences split into A/B; skipped/changed: %s" %
          (stats["documents"], stats["sentences"], stats["instances"],
           options.dupe_factor, stats["masked_tokens"],
           stats["masked_tokens"] / instances, ngram_shares, label_name,
           100.0 * stats["label_1"] / instances,
           stats["single_sentences_split"], skipped))


def shard_output_files(output_files, num_shards, shard_index):
  """The output paths of one shard: `<path>-<index>-of-<num_shards>`.

  The names of different shards never clash, so every task of a batch job can
  be given the same --output_file; one shard keeps the names unchanged.
  """
  if num_shards < 1:
    raise ValueError("--num_shards=%d must be at least 1" % num_shards)
  if not 0 <= shard_index < num_shards:
    raise ValueError("--shard_index=%d must be in [0, --num_shards=%d)" %
                     (shard_index, num_shards))
  if num_shards == 1:
    return list(output_files)
  return ["%s-%05d-of-%05d" % (path, shard_index, num_shards)
          for path in output_files]


def _warn_if_sequences_too_short(options):
  if options.max_seq_length >= _MIN_USEFUL_SEQ_LENGTH:
    return
  max_tokens = options.max_seq_length - 3  # [CLS] A [SEP] B [SEP]
  logging.warning(
      "--max_seq_length=%d leaves at most %d tokens per instance, so at most "
      "%d masked token(s) per instance (masked_lm_prob %g): almost nothing "
      "will be masked and the MLM loss learns little. Use %d or more (the "
      "released models use 128 and 512).", options.max_seq_length, max_tokens,
      num_to_predict(max_tokens, options.masked_lm_prob,
                     options.max_predictions_per_seq),
      options.masked_lm_prob, _MIN_USEFUL_SEQ_LENGTH)


def _no_instances_error(input_files, stats, num_shards, shard_index):
  """The ValueError for a run that made no instance, saying what was read."""
  shard = ""
  if num_shards > 1:
    shard = ("; this is shard %d of %d, which gets every %d-th of the %d "
             "documents of the input (use fewer shards)" %
             (shard_index, num_shards, num_shards,
              stats["documents_in_input"]))
  return ValueError(
      "no instances from %d input file(s) (%s): %d documents with tokens, %d "
      "documents without tokens, %d lines without tokens, %d one-token chunks "
      "that cannot be split%s. The input must be UTF-8 text with one sentence "
      "per line and an empty line between documents; nothing was written." %
      (len(input_files), ", ".join(input_files[:5]) +
       (" ..." if len(input_files) > 5 else ""), stats["documents"],
       stats["skipped_documents_without_tokens"],
       stats["skipped_lines_without_tokens"],
       stats["skipped_one_token_chunks"], shard))


def create_pretraining_data(input_files, output_files, tokenizer, options,
                            vocab_file="the vocab", segment_chinese_words=True,
                            num_workers=1, on_decode_error="strict",
                            shuffle_buffer_size=20000, num_shards=1,
                            shard_index=0):
  """Writes the pretraining TFRecords; returns the Counter of statistics.

  Args:
    input_files: text files, read in this order.
    output_files: TFRecord paths; instances are spread round-robin.
    tokenizer: tokenization.FullTokenizer.
    options: PretrainingOptions.
    vocab_file: name of the vocab, for error messages.
    segment_chinese_words: use jieba for Chinese word starts (whole-word
      masking and token_boundary); False for --non_chinese.
    num_workers: processes for the per-block work; does not change the output.
    on_decode_error: "strict" or "replace" (see --on_decode_error).
    shuffle_buffer_size: instances held back for shuffling.
    num_shards, shard_index: make only this shard's documents (see
      select_shard); the output_files should be this shard's own
      (shard_output_files).

  Raises:
    ValueError: no instance could be made (nothing is written then).
  """
  shard_output_files(output_files, num_shards, shard_index)  # checks the index
  _warn_if_sequences_too_short(options)
  if num_shards > 1 and options.random_next_sentence:
    logging.warning(
        "--random_next_sentence with --num_shards=%d: the random B segments "
        "come from this shard's documents, so the shards' union is a valid "
        "NSP set but not the exact instances of an unsharded run (it is for "
        "the default sentence-order task).", num_shards)
  encoder = SentenceEncoder(
      tokenizer, segment_chinese_words and options.do_whole_word_mask)
  processor = BlockProcessor(encoder, options, vocab_ids(tokenizer, vocab_file))
  stats = collections.Counter()
  blocks = iter_blocks(select_shard(
      iter_documents(input_files, on_decode_error, stats), num_shards,
      shard_index, stats))
  shuffle_buffer = ShuffleBuffer(
      shuffle_buffer_size, random.Random("%d:shuffle" % options.random_seed))
  progress = ProgressLogger()
  written = 0
  with AtomicRecordWriters(output_files) as writers:
    for records, block_stats in process_blocks(processor, blocks, num_workers):
      stats.update(block_stats)
      for record in records:
        record = shuffle_buffer.add(record)
        if record is not None:
          if written < _NUM_EXAMPLES_TO_LOG:
            _log_example(record, tokenizer)
          writers.write(record)
          written += 1
      progress.maybe_log(stats, written)
    for record in shuffle_buffer.drain():
      if written < _NUM_EXAMPLES_TO_LOG:
        _log_example(record, tokenizer)
      writers.write(record)
      written += 1
    if not written:  # raised inside: the writers leave nothing behind
      raise _no_instances_error(input_files, stats, num_shards, shard_index)
  if num_shards > 1:
    logging.info("This is shard %d of %d: it made the instances of %d of the "
                 "%d documents of the input", shard_index, num_shards,
                 stats["documents"] + stats["skipped_documents_without_tokens"],
                 stats["documents_in_input"])
  for path, count in zip(output_files, writers.counts):
    logging.info("Wrote %d instances to %s", count, path)
  logging.info(summarize(stats, options))
  return stats


def _validate_flags():
  """Checks the flags; raises ValueError naming the bad one."""
  for name in ("input_file", "output_file"):
    if not FLAGS[name].value:
      raise ValueError("--%s is required" % name)
  if not FLAGS.vocab_file and not FLAGS.spm_model_file:
    raise ValueError("--vocab_file is required (e.g. albert_config/vocab.txt), "
                     "or --spm_model_file for a SentencePiece model")
  for name in ("vocab_file", "spm_model_file"):
    path = FLAGS[name].value
    if path and not _exists(path):
      raise ValueError("--%s=%s does not exist; pass an existing file" %
                       (name, path))
  if FLAGS.max_seq_length < 5:
    raise ValueError("--max_seq_length=%d is too small: [CLS] A [SEP] B [SEP] "
                     "needs at least 5" % FLAGS.max_seq_length)
  for name in ("max_predictions_per_seq", "dupe_factor", "ngram",
               "num_workers", "shuffle_buffer_size"):
    if FLAGS[name].value < 1:
      raise ValueError("--%s=%d must be at least 1" % (name, FLAGS[name].value))
  for name in ("masked_lm_prob", "short_seq_prob"):
    if not 0.0 <= FLAGS[name].value <= 1.0:
      raise ValueError("--%s=%g must be in [0, 1]" % (name, FLAGS[name].value))
  shard_output_files([], FLAGS.num_shards, FLAGS.shard_index)


def main(_):
  _validate_flags()
  input_files = expand_input_files(FLAGS.input_file)
  output_files = [path.strip() for path in FLAGS.output_file.split(",")
                  if path.strip()]
  if len(set(output_files)) != len(output_files):
    raise ValueError("--output_file lists a file twice: %s" % FLAGS.output_file)
  output_files = shard_output_files(output_files, FLAGS.num_shards,
                                    FLAGS.shard_index)
  tokenizer = tokenization.FullTokenizer(
      vocab_file=FLAGS.vocab_file, do_lower_case=FLAGS.do_lower_case,
      spm_model_file=FLAGS.spm_model_file)
  options = options_from_flags()
  logging.info("Reading %d input file(s): %s", len(input_files),
               ", ".join(input_files[:5]) +
               (" ..." if len(input_files) > 5 else ""))
  create_pretraining_data(
      input_files, output_files, tokenizer, options,
      vocab_file=FLAGS.vocab_file or FLAGS.spm_model_file,
      segment_chinese_words=not FLAGS.non_chinese,
      num_workers=FLAGS.num_workers,
      on_decode_error=FLAGS.on_decode_error,
      shuffle_buffer_size=FLAGS.shuffle_buffer_size,
      num_shards=FLAGS.num_shards, shard_index=FLAGS.shard_index)


if __name__ == "__main__":
  app.run(main)
