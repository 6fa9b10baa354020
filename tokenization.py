# coding=utf-8
"""Tokenizers for ALBERT: BERT's BasicTokenizer + WordPiece, or SentencePiece.

The Chinese checkpoints (albert_zh) use a BERT-style WordPiece vocab.txt in which
every CJK character is its own token; google-research/albert's English models use
a SentencePiece model instead (`spm_model_file`). `FullTokenizer` hides the
difference behind one API.

`BasicTokenizer` reproduces the output of the original BERT BasicTokenizer exactly
(the released checkpoints were trained on it) but is organised for speed: the text
is cut into raw tokens by one compiled regular expression, and the per-token work
(lower-casing, accent stripping, punctuation splitting, WordPiece) is memoised in
bounded caches, because natural text repeats the same few thousand tokens.
"""

import collections
import functools
import itertools
import re
import sys
import unicodedata

import sentencepiece as spm

PAD_TOKEN = "[PAD]"
UNK_TOKEN = "[UNK]"
CLS_TOKEN = "[CLS]"
SEP_TOKEN = "[SEP]"
MASK_TOKEN = "[MASK]"
# Tokens the pretraining and fine-tuning code look up by name in a WordPiece vocab.
REQUIRED_SPECIAL_TOKENS = (PAD_TOKEN, UNK_TOKEN, CLS_TOKEN, SEP_TOKEN, MASK_TOKEN)

SPIECE_UNDERLINE = "\u2581"

# The CJK Unified Ideographs blocks (plus compatibility ideographs) that BERT splits
# into single-character tokens. Kana and Hangul are not among them: BERT treats
# those like any other letters.
CJK_RANGES = (
    (0x4E00, 0x9FFF),
    (0x3400, 0x4DBF),
    (0x20000, 0x2A6DF),
    (0x2A700, 0x2B73F),
    (0x2B740, 0x2B81F),
    (0x2B820, 0x2CEAF),
    (0xF900, 0xFAFF),
    (0x2F800, 0x2FA1F),
)

_CJK_CLASS = "".join(
    "\\U%08x-\\U%08x" % (low, high) for low, high in CJK_RANGES)
# One raw token is either a single CJK character or a maximal run of characters
# that are neither whitespace nor CJK. `\s` in a str pattern is exactly
# str.isspace(), i.e. what BERT's whitespace_tokenize (str.split) splits on.
_RAW_TOKEN_RE = re.compile("[%s]|[^\\s%s]+" % (_CJK_CLASS, _CJK_CLASS))

# Size of the per-token memo tables; large enough for the working set of a
# Chinese corpus (a few thousand characters plus frequent words), bounded so a
# long run over noisy text cannot grow without limit.
_TOKEN_CACHE_SIZE = 1 << 17


def convert_to_unicode(text):
  """Returns `text` as str, decoding UTF-8 bytes (invalid bytes are dropped)."""
  if isinstance(text, str):
    return text
  if isinstance(text, bytes):
    return text.decode("utf-8", "ignore")
  raise ValueError("Unsupported string type: %s (expected str or UTF-8 bytes)" %
                   type(text).__name__)


def is_chinese_char(cp):
  """True if code point `cp` is in one of BERT's CJK ideograph blocks."""
  for low, high in CJK_RANGES:
    if low <= cp <= high:
      return True
  return False


def is_punctuation(char):
  """BERT's punctuation test: all non-alphanumeric printable ASCII, or Unicode P*."""
  cp = ord(char)
  # "^", "$", "`" and friends are symbols in Unicode, but BERT splits them too.
  if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
    return True
  return unicodedata.category(char).startswith("P")


def is_control(char):
  """BERT's control test: categories Cc/Cf, except tab/newline/CR (whitespace)."""
  if char in "\t\n\r":
    return False
  return unicodedata.category(char) in ("Cc", "Cf")


@functools.lru_cache(maxsize=None)
def _dropped_chars_res():
  """Regexes of the characters BERT's _clean_text deletes (built once, ~0.2 s).

  Returns:
    (all_dropped, dropped_spaces): every deleted character (NUL, U+FFFD, Cc/Cf
    controls), and the few of them that str.isspace() counts as whitespace
    (e.g. vertical tab). BERT deletes those too: they do not separate words.
  """
  dropped = [0, 0xFFFD] + [
      cp for cp in range(sys.maxunicode + 1) if is_control(chr(cp))]
  dropped_spaces = [cp for cp in dropped if chr(cp).isspace()]

  def char_class(cps):
    return re.compile("[%s]" % "".join("\\U%08x" % cp for cp in sorted(set(cps))))

  return char_class(dropped), char_class(dropped_spaces)


def strip_accents(text):
  """NFD-decomposes `text` and removes the combining marks (category Mn)."""
  if text.isascii():
    return text
  return "".join(char for char in unicodedata.normalize("NFD", text)
                 if unicodedata.category(char) != "Mn")


def split_on_punctuation(text):
  """Splits `text` so that every punctuation character is its own piece."""
  if len(text) < 2:
    return [text] if text else []
  pieces = []
  current = []
  for char in text:
    if is_punctuation(char):
      if current:
        pieces.append("".join(current))
        current = []
      pieces.append(char)
    else:
      current.append(char)
  if current:
    pieces.append("".join(current))
  return pieces


def _read_text_lines(path):
  """Reads a UTF-8 text file (local, or any tf.io.gfile URL such as gs://)."""
  if "://" in path:
    # Only remote files need TensorFlow; local use stays light to import.
    import tensorflow.compat.v1 as tf  # pylint: disable=g-import-not-at-top
    if not tf.io.gfile.exists(path):
      raise FileNotFoundError(
          "Vocab file %s does not exist: pass the path of a vocab.txt "
          "(one token per line), e.g. albert_config/vocab.txt" % path)
    with tf.io.gfile.GFile(path, "r") as reader:
      return reader.read().splitlines()
  try:
    with open(path, encoding="utf-8") as reader:
      return reader.read().splitlines()
  except FileNotFoundError:
    raise FileNotFoundError(
        "Vocab file %s does not exist: pass the path of a vocab.txt "
        "(one token per line), e.g. albert_config/vocab.txt" % path) from None
  except UnicodeDecodeError as error:
    raise ValueError("Vocab file %s is not valid UTF-8 (%s)" % (path, error)) from None


def _tokens_from_lines(lines, path):
  """Maps each line to its token, refusing blanks and duplicates."""
  while lines and not lines[-1].strip():
    lines = lines[:-1]  # A trailing newline or two is harmless.
  tokens = []
  first_line = {}
  for line_number, line in enumerate(lines, start=1):
    token = line.strip()
    if not token:
      raise ValueError("Vocab file %s line %d is empty: every line must hold one "
                       "token (ids are line numbers - 1)" % (path, line_number))
    if token in first_line:
      raise ValueError(
          "Vocab file %s line %d repeats token %r from line %d: a token may "
          "appear only once" % (path, line_number, token, first_line[token]))
    first_line[token] = line_number
    tokens.append(token)
  return tokens


def load_vocab(vocab_file, required_tokens=REQUIRED_SPECIAL_TOKENS):
  """Loads a WordPiece vocab.txt into an OrderedDict token -> id (line order).

  Args:
    vocab_file: path of a UTF-8 file with one token per line.
    required_tokens: tokens that must be present; defaults to the BERT special
      tokens the pipeline looks up by name.

  Returns:
    collections.OrderedDict mapping each token to its id.

  Raises:
    FileNotFoundError: `vocab_file` does not exist.
    ValueError: the file is malformed or lacks a required token.
  """
  tokens = _tokens_from_lines(_read_text_lines(vocab_file), vocab_file)
  vocab = collections.OrderedDict((token, index) for index, token in enumerate(tokens))
  missing = [token for token in required_tokens if token not in vocab]
  if missing:
    raise ValueError(
        "Vocab file %s lacks the special token(s) %s: a BERT/ALBERT vocab must "
        "contain %s (regenerate it with build_vocab.py)" %
        (vocab_file, ", ".join(missing), ", ".join(required_tokens)))
  return vocab


def preprocess_text(text, remove_space=True, lower=False):
  """google-research/albert's normalisation before SentencePiece.

  Collapses runs of whitespace, applies NFKD and drops combining characters, and
  lower-cases when `lower`.
  """
  text = convert_to_unicode(text)
  if remove_space:
    text = " ".join(text.strip().split())
  text = unicodedata.normalize("NFKD", text)
  text = "".join(char for char in text if not unicodedata.combining(char))
  if lower:
    text = text.lower()
  return text


def encode_pieces(sp_model, text):
  """SentencePiece pieces of `text`, with albert's fix for "<digits>," pieces.

  SentencePiece models trained on English tend to learn pieces such as "1999,"
  that glue a number to a following comma; albert re-encodes the number alone
  and emits the comma separately so numbers are tokenized consistently.
  """
  pieces = []
  for piece in sp_model.encode_as_pieces(text):
    if len(piece) > 1 and piece[-1] == "," and piece[-2].isdigit():
      number_pieces = sp_model.encode_as_pieces(
          piece[:-1].replace(SPIECE_UNDERLINE, ""))
      if piece[0] != SPIECE_UNDERLINE and number_pieces[0][0] == SPIECE_UNDERLINE:
        if len(number_pieces[0]) == 1:
          number_pieces = number_pieces[1:]
        else:
          number_pieces[0] = number_pieces[0][1:]
      pieces.extend(number_pieces)
      pieces.append(piece[-1])
    else:
      pieces.append(piece)
  return pieces


class _MemoizingTokenizer(object):
  """Base for tokenizers that memoise per-token methods in bounded caches.

  For every name in `_MEMOIZED`, the instance attribute `name` is a cached
  version of the method `_name`. The caches are per instance (they depend on
  the vocab and casing) and are rebuilt after unpickling, so tokenizers can be
  sent to worker processes.
  """
  _MEMOIZED = ()

  def _install_memos(self):
    for name in self._MEMOIZED:
      setattr(self, name, functools.lru_cache(maxsize=_TOKEN_CACHE_SIZE)(
          getattr(self, "_" + name)))

  def __getstate__(self):
    return {key: value for key, value in self.__dict__.items()
            if key not in self._MEMOIZED}

  def __setstate__(self, state):
    self.__dict__.update(state)
    self._install_memos()


class BasicTokenizer(_MemoizingTokenizer):
  """BERT's BasicTokenizer: cleaning, CJK splitting, lower-casing, punctuation."""
  _MEMOIZED = ("split_raw_token",)

  def __init__(self, do_lower_case=True):
    self.do_lower_case = do_lower_case
    self._dropped_re, self._dropped_spaces_re = _dropped_chars_res()
    self._install_memos()

  def raw_tokens(self, text):
    """Cuts `text` at whitespace and around every CJK character.

    Together with `split_raw_token` this is BERT's _clean_text +
    _tokenize_chinese_chars + whitespace_tokenize + per-token normalisation.
    Deleted characters (controls, NUL, U+FFFD) are neither whitespace nor CJK,
    so they always sit inside a raw token and are removed there (cached); only
    the few that str.isspace() would treat as separators are removed up front.
    """
    text = convert_to_unicode(text)
    if not text.isascii() or not text.isprintable():
      text = self._dropped_spaces_re.sub("", text)
    return _RAW_TOKEN_RE.findall(text)

  def _split_raw_token(self, token):
    """Cleans, lower-cases/strips accents of one raw token, splits punctuation."""
    if not token.isprintable() or "\ufffd" in token:
      token = self._dropped_re.sub("", token)
    if self.do_lower_case:
      token = strip_accents(token.lower())
    pieces = split_on_punctuation(token)
    if token.isascii():
      return tuple(pieces)
    # BERT re-splits the joined pieces on whitespace; only non-ASCII text could
    # conceivably gain whitespace from the steps above.
    return tuple(" ".join(pieces).split())

  def tokenize(self, text):
    """Tokenizes a piece of text into a list of basic tokens."""
    return list(itertools.chain.from_iterable(
        map(self.split_raw_token, self.raw_tokens(text))))


class WordpieceTokenizer(_MemoizingTokenizer):
  """Greedy longest-match-first WordPiece; continuations carry a "##" prefix."""
  _MEMOIZED = ("tokenize_word",)

  def __init__(self, vocab, unk_token=UNK_TOKEN, max_input_chars_per_word=200):
    self.vocab = vocab
    self.unk_token = unk_token
    self.max_input_chars_per_word = max_input_chars_per_word
    # No vocab entry is longer than this, so longer candidates need no lookup.
    self._max_piece_chars = max(
        (len(token[2:]) if token.startswith("##") else len(token)
         for token in vocab), default=0)
    self._install_memos()

  def _tokenize_word(self, word):
    """WordPieces of one whitespace-free word, or (unk_token,) if impossible."""
    if len(word) > self.max_input_chars_per_word:
      return (self.unk_token,)
    if word in self.vocab:
      return (word,)
    pieces = []
    start = 0
    while start < len(word):
      end = min(len(word), start + self._max_piece_chars)
      while end > start:
        piece = word[start:end] if start == 0 else "##" + word[start:end]
        if piece in self.vocab:
          pieces.append(piece)
          break
        end -= 1
      else:
        return (self.unk_token,)
      start = end
    return tuple(pieces)

  def tokenize(self, text):
    """Splits whitespace-separated `text` into WordPieces.

    For example, with a vocab holding "un", "##aff", "##able":
    tokenize("unaffable") == ["un", "##aff", "##able"].
    """
    tokens = []
    for word in convert_to_unicode(text).split():
      tokens.extend(self.tokenize_word(word))
    return tokens


def _load_spm_model(spm_model_file):
  """Loads a SentencePiece model, with a clear error for a bad path."""
  sp_model = spm.SentencePieceProcessor()
  try:
    sp_model.load(spm_model_file)
  except (OSError, RuntimeError) as error:
    raise ValueError("Cannot load SentencePiece model %s (%s): pass the .model "
                     "file written by spm_train" % (spm_model_file, error)) from None
  return sp_model


def _check_spm_vocab_file(vocab, vocab_file, spm_model_file):
  """Checks that a SentencePiece .vocab file lists the model's pieces in order."""
  lines = _read_text_lines(vocab_file)
  while lines and not lines[-1].strip():
    lines = lines[:-1]
  # spm_train writes "piece<TAB>score"; a bare piece per line is accepted too.
  pieces = [line.split("\t")[0] for line in lines]
  model_pieces = list(vocab)
  if pieces != model_pieces:
    mismatch = next((i for i, (a, b) in enumerate(zip(pieces, model_pieces))
                     if a != b), min(len(pieces), len(model_pieces)))
    raise ValueError(
        "Vocab file %s does not match SentencePiece model %s (first difference "
        "at line %d; %d vs %d pieces): pass the .vocab written together with the "
        "model, or no vocab file" % (vocab_file, spm_model_file, mismatch + 1,
                                     len(pieces), len(model_pieces)))


class FullTokenizer(_MemoizingTokenizer):
  """Text -> tokens -> ids, with WordPiece (default) or SentencePiece.

  With `spm_model_file`, the vocab comes from the SentencePiece model and
  `vocab_file` is optional (if given, it must be the model's .vocab listing).
  """
  _MEMOIZED = ("wordpieces_of_raw_token",)

  def __init__(self, vocab_file, do_lower_case=True, spm_model_file=None):
    self.do_lower_case = do_lower_case
    self.sp_model = None
    if spm_model_file:
      self.sp_model = _load_spm_model(spm_model_file)
      self.vocab = collections.OrderedDict(
          (self.sp_model.id_to_piece(i), i)
          for i in range(self.sp_model.get_piece_size()))
      if vocab_file:
        _check_spm_vocab_file(self.vocab, vocab_file, spm_model_file)
    else:
      if not vocab_file:
        raise ValueError("FullTokenizer needs vocab_file (a WordPiece vocab.txt) "
                         "or spm_model_file (a SentencePiece model)")
      self.vocab = load_vocab(vocab_file)
      self.basic_tokenizer = BasicTokenizer(do_lower_case=do_lower_case)
      self.wordpiece_tokenizer = WordpieceTokenizer(vocab=self.vocab)
      self._unk_id = self.vocab[UNK_TOKEN]
    self.inv_vocab = {index: token for token, index in self.vocab.items()}
    self._install_memos()

  def _wordpieces_of_raw_token(self, raw_token):
    """All WordPieces of one raw token (memoised: one lookup per raw token)."""
    pieces = []
    for basic_token in self.basic_tokenizer.split_raw_token(raw_token):
      pieces.extend(self.wordpiece_tokenizer.tokenize_word(basic_token))
    return tuple(pieces)

  def tokenize(self, text):
    """Tokenizes `text` (str or UTF-8 bytes) into a list of vocab tokens."""
    if self.sp_model:
      return encode_pieces(self.sp_model,
                           preprocess_text(text, lower=self.do_lower_case))
    return list(itertools.chain.from_iterable(
        map(self.wordpieces_of_raw_token, self.basic_tokenizer.raw_tokens(text))))

  def convert_tokens_to_ids(self, tokens):
    """Maps tokens to ids; a token outside the vocab becomes the [UNK]/<unk> id."""
    if self.sp_model:
      return [self.sp_model.piece_to_id(token) for token in tokens]
    vocab = self.vocab
    unk_id = self._unk_id
    return [vocab.get(token, unk_id) for token in tokens]

  def convert_ids_to_tokens(self, ids):
    """Maps ids back to tokens; an id outside the vocab is a ValueError."""
    tokens = []
    for index in ids:
      token = self.inv_vocab.get(int(index))
      if token is None:
        raise ValueError("Token id %s is outside the vocab (ids 0..%d)" %
                         (index, len(self.inv_vocab) - 1))
      tokens.append(token)
    return tokens
