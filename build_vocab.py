# coding=utf-8
"""Builds a BERT-style Chinese WordPiece vocab.txt (albert_config/vocab.txt).

The released albert_zh checkpoints ship Google's 21128-entry Chinese vocab. This
script makes a vocab with the same size and conventions from scratch, so the
project carries no copied vocab and users can build one for their own corpus:

  ids 0..103   [PAD], [unused1]..[unused99], [UNK], [CLS], [SEP], [MASK]
  then         symbols: ASCII punctuation, digits and letters, full-width forms
               and common Chinese punctuation;
               characters (CJK first in practice) by descending frequency;
               frequent non-CJK words of the corpus;
               generated pieces: "00".."99", "000".."999", "aa".."zz";
               the "##" continuation twin of every entry above that is not a
               single punctuation character (whole-word masking and WordPiece
               continuations need them);
               [unused100].. only if the corpus cannot fill --vocab_size.

Characters are ranked by frequency, ties broken by code point, so the output is
identical on every run. Without --input_file, frequencies come from jieba's
bundled dictionary (jieba/dict.txt: word, count, tag): each word's count is
added to every character of the word. With --input_file, the characters and
words of the given UTF-8 text files are counted after the same BasicTokenizer
normalisation the model uses (so every entry is reachable by the tokenizer).

Symbols, words and generated pieces are reserved first; characters then fill the
remaining slots, each with its "##" twin.

Usage:
  python build_vocab.py                      # regenerates albert_config/vocab.txt
  python build_vocab.py --input_file='corpus/*.txt' --output_file=my_vocab.txt
"""

import collections
import os
import string
import time

from absl import app
from absl import flags
from absl import logging

import shared_flags
import tokenization

FLAGS = flags.FLAGS

_DEFAULT_OUTPUT = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "albert_config", "vocab.txt")

# --input_file: text to count characters and words from; without it character
# frequencies come from jieba's bundled dictionary (how albert_config/vocab.txt
# is made). --output_file defaults to albert_config/vocab.txt.
shared_flags.define("input_file", "output_file", "do_lower_case")
flags.DEFINE_integer(
    "vocab_size", 21128,
    "Exact number of entries to write; 21128 matches the released albert_zh "
    "configs' vocab_size.")
flags.DEFINE_integer(
    "max_word_pieces", 3000,
    "At most this many frequent multi-character non-CJK words of the corpus "
    "(each also gets a ## twin).")
flags.DEFINE_bool(
    "generated_pieces", True,
    "Reserve the generated pieces 00-99, 000-999 and aa-zz (each with a ## "
    "twin) for numbers and Latin text, which a Chinese corpus covers poorly.")
flags.DEFINE_integer(
    "min_count", 1,
    "Characters and words seen fewer times than this are left out.")

NUM_UNUSED = 99  # [unused1]..[unused99], as in Google's Chinese vocab.
CONTINUATION_PREFIX = "##"

# Symbols and letters common in Chinese text beyond ASCII: Latin-1 (accented
# letters reduce to ASCII when lower-casing), Greek, kana, CJK and general
# punctuation, full-width ASCII variants, currency, units, maths, enumerators.
_EXTRA_SYMBOLS = "".join(
    chr(cp) for low, high in (
        (0x00A1, 0x00FF),  # Latin-1 supplement
        (0x0391, 0x03A9),  # Greek capitals
        (0x03B1, 0x03C9),  # Greek small letters
        (0x3001, 0x3003),  # 、。〃
        (0x3008, 0x3011),  # 〈〉《》「」『』【】
        (0x3014, 0x301F),  # 〔〕〖〗〘〙〚〛〜〝〞〟
        (0x3041, 0x3096),  # hiragana
        (0x30A1, 0x30FC),  # katakana, ・, ー
        (0x2010, 0x2027),  # dashes, quotes, bullets, ellipsis
        (0x2030, 0x203B),  # per mille, primes, guillemets, reference mark
        (0x2160, 0x2169),  # Roman numerals I..X
        (0x2190, 0x2193),  # arrows
        (0x2460, 0x2473),  # circled 1..20
        (0x2474, 0x2487),  # parenthesised 1..20
        (0x25A0, 0x25A1),  # squares
        (0x25B2, 0x25B3),  # triangles
        (0x25C6, 0x25C7),  # diamonds
        (0x25CB, 0x25CF),  # circles
        (0x2605, 0x2606),  # stars
        (0xFF01, 0xFF5E),  # full-width ASCII variants
        (0xFFE0, 0xFFE6),  # full-width cent, pound, yen, ...
    ) for cp in range(low, high + 1)) + "€™№℃℉≈≠≤≥±∞√∑∈∵∴"


def special_tokens():
  """The 104 reserved entries: [PAD]=0, [unused1..99], [UNK]=100 .. [MASK]=103."""
  return ([tokenization.PAD_TOKEN] +
          ["[unused%d]" % i for i in range(1, NUM_UNUSED + 1)] +
          [tokenization.UNK_TOKEN, tokenization.CLS_TOKEN,
           tokenization.SEP_TOKEN, tokenization.MASK_TOKEN])


def needs_twin(entry):
  """Whether `entry` gets a ## continuation twin.

  A single punctuation character is always a token of its own after the
  BasicTokenizer, so it can never continue a word.
  """
  return not (len(entry) == 1 and tokenization.is_punctuation(entry))


def symbol_entries(basic_tokenizer):
  """ASCII and Chinese symbols, normalised the way the tokenizer sees them."""
  candidates = (string.punctuation + string.digits + string.ascii_letters +
                _EXTRA_SYMBOLS)
  entries = []
  for char in candidates:
    tokens = basic_tokenizer.tokenize(char)
    # Upper-case letters collapse onto lower-case ones when lower-casing.
    if len(tokens) == 1 and tokens[0] not in entries:
      entries.append(tokens[0])
  return entries


def generated_entries():
  """Reproducible number and letter pieces: 00..99, 000..999, aa..zz."""
  numbers = ["%02d" % i for i in range(100)] + ["%03d" % i for i in range(1000)]
  bigrams = [a + b for a in string.ascii_lowercase for b in string.ascii_lowercase]
  return numbers + bigrams


def count_tokens(weighted_texts, basic_tokenizer):
  """Counts characters and multi-character words of weighted texts.

  Args:
    weighted_texts: iterable of (text, weight).
    basic_tokenizer: tokenization.BasicTokenizer used to normalise the text.

  Returns:
    (char_counts, word_counts): collections.Counter of single characters (every
    character of every token) and of non-CJK tokens longer than one character.
  """
  char_counts = collections.Counter()
  word_counts = collections.Counter()
  for text, weight in weighted_texts:
    for token in basic_tokenizer.tokenize(text):
      if len(token) == 1:
        char_counts[token] += weight
      else:
        word_counts[token] += weight
        for char in token:
          char_counts[char] += weight
  return char_counts, word_counts


def jieba_dict_path():
  """Path of the frequency dictionary bundled with the jieba package."""
  import jieba  # pylint: disable=g-import-not-at-top
  return os.path.join(os.path.dirname(jieba.__file__), "dict.txt")


def read_jieba_dict(path):
  """Yields (word, count) from a jieba dictionary ("word count [tag]" lines)."""
  with open(path, encoding="utf-8") as reader:
    for line_number, line in enumerate(reader, start=1):
      fields = line.split()
      if not fields:
        continue
      if len(fields) < 2 or not fields[1].isdigit():
        raise ValueError("%s line %d is not 'word count [tag]': %r" %
                         (path, line_number, line.rstrip("\n")))
      yield fields[0], int(fields[1])


def read_corpus_lines(paths, log_every=200000):
  """Yields (line, 1) for every line of `paths`, logging progress."""
  start = time.time()
  num_lines = 0
  num_chars = 0
  for path in paths:
    with open(path, "rb") as reader:
      for line_number, raw_line in enumerate(reader, start=1):
        try:
          line = raw_line.decode("utf-8")
        except UnicodeDecodeError as error:
          raise ValueError("%s line %d is not valid UTF-8 (%s): convert the "
                           "corpus to UTF-8" % (path, line_number, error)) from None
        num_lines += 1
        num_chars += len(line)
        if num_lines % log_every == 0:
          elapsed = max(time.time() - start, 1e-9)
          logging.info("Counted %d lines (%.0f lines/s, %.0f chars/s)", num_lines,
                       num_lines / elapsed, num_chars / elapsed)
        yield line, 1
  logging.info("Counted %d lines, %d characters from %d file(s)", num_lines,
               num_chars, len(paths))


def ranked(counts, min_count):
  """Keys of `counts` with count >= min_count, most frequent first, ties by text."""
  return sorted((key for key, count in counts.items() if count >= min_count),
                key=lambda key: (-counts[key], [ord(c) for c in key]))


def select_vocab(char_counts, word_counts, vocab_size, do_lower_case=True,
                 max_word_pieces=3000, use_generated_pieces=True, min_count=1):
  """Chooses the vocab entries, in id order. See the module docstring.

  Returns:
    list of exactly `vocab_size` distinct tokens.

  Raises:
    ValueError: the reserved part alone does not fit in `vocab_size`.
  """
  basic_tokenizer = tokenization.BasicTokenizer(do_lower_case=do_lower_case)
  specials = special_tokens()
  taken = set(specials)

  def take(candidates, limit=None):
    chosen = []
    for entry in candidates:
      if limit is not None and len(chosen) >= limit:
        break
      if entry not in taken:
        taken.add(entry)
        chosen.append(entry)
    return chosen

  symbols = take(symbol_entries(basic_tokenizer))
  words = take(ranked(word_counts, min_count), max_word_pieces)
  generated = take(generated_entries()) if use_generated_pieces else []

  def cost(entries):
    return sum(2 if needs_twin(entry) else 1 for entry in entries)

  free = vocab_size - len(specials) - cost(symbols) - cost(words) - cost(generated)
  if free < 0:
    raise ValueError(
        "--vocab_size=%d is too small: specials, symbols, %d words and %d "
        "generated pieces (with ## twins) already need %d entries; raise "
        "--vocab_size or lower --max_word_pieces / pass --nogenerated_pieces" %
        (vocab_size, len(words), len(generated), vocab_size - free))
  chars = []
  for char in ranked(char_counts, min_count):
    if char not in taken and cost([char]) <= free:
      taken.add(char)
      chars.append(char)
      free -= cost([char])

  singles = symbols + chars + words + generated
  twins = [CONTINUATION_PREFIX + entry for entry in singles if needs_twin(entry)]
  padding = ["[unused%d]" % i for i in range(NUM_UNUSED + 1, NUM_UNUSED + 1 + free)]
  if padding:
    logging.warning("The corpus ran out of characters: padded the vocab with %d "
                    "[unusedN] entries", len(padding))
  num_cjk = sum(1 for char in chars if tokenization.is_chinese_char(ord(char)))
  logging.info("Vocab: %d specials, %d symbols, %d characters (%d CJK), %d words, "
               "%d generated pieces, %d ## twins, %d padding", len(specials),
               len(symbols), len(chars), num_cjk, len(words), len(generated),
               len(twins), len(padding))
  return specials + singles + twins + padding


def write_vocab(tokens, output_file):
  """Writes one token per line via a temporary file, then renames it."""
  output_dir = os.path.dirname(os.path.abspath(output_file))
  if not os.path.isdir(output_dir):
    raise ValueError("--output_file directory %s does not exist" % output_dir)
  temp_file = "%s.tmp-%d" % (output_file, os.getpid())
  try:
    with open(temp_file, "w", encoding="utf-8", newline="\n") as writer:
      writer.write("".join(token + "\n" for token in tokens))
    os.replace(temp_file, output_file)
  finally:
    if os.path.exists(temp_file):
      os.remove(temp_file)


def build_vocab(input_files, vocab_size, do_lower_case=True, max_word_pieces=3000,
                use_generated_pieces=True, min_count=1):
  """Counts the corpus (or jieba's dictionary) and returns the vocab tokens."""
  basic_tokenizer = tokenization.BasicTokenizer(do_lower_case=do_lower_case)
  if input_files:
    weighted_texts = read_corpus_lines(input_files)
  else:
    path = jieba_dict_path()
    logging.info("Counting character frequencies of %s", path)
    weighted_texts = read_jieba_dict(path)
  char_counts, word_counts = count_tokens(weighted_texts, basic_tokenizer)
  return select_vocab(char_counts, word_counts, vocab_size,
                      do_lower_case=do_lower_case,
                      max_word_pieces=max_word_pieces,
                      use_generated_pieces=use_generated_pieces,
                      min_count=min_count)


def validate_flags():
  for name in ("vocab_size", "min_count"):
    if FLAGS[name].value < 1:
      raise app.UsageError("--%s must be positive, got %d" % (name, FLAGS[name].value))
  if FLAGS.max_word_pieces < 0:
    raise app.UsageError("--max_word_pieces must be >= 0, got %d" %
                         FLAGS.max_word_pieces)


def main(argv):
  del argv  # Unused.
  validate_flags()
  input_files = shared_flags.expand_input_files(FLAGS.input_file) if FLAGS.input_file else []
  tokens = build_vocab(input_files, FLAGS.vocab_size,
                       do_lower_case=FLAGS.do_lower_case,
                       max_word_pieces=FLAGS.max_word_pieces,
                       use_generated_pieces=FLAGS.generated_pieces,
                       min_count=FLAGS.min_count)
  output_file = FLAGS.output_file or _DEFAULT_OUTPUT
  write_vocab(tokens, output_file)
  print("Wrote %d tokens to %s" % (len(tokens), output_file))


if __name__ == "__main__":
  app.run(main)
