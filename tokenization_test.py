# coding=utf-8
"""Tests for tokenization.py and build_vocab.py."""

import json
import os
import pickle
import random
import subprocess
import sys
import unicodedata

import pytest
import sentencepiece as spm

import build_vocab
import shared_flags
import tokenization

_HERE = os.path.dirname(os.path.abspath(__file__))
_VOCAB_FILE = os.path.join(_HERE, "albert_config", "vocab.txt")
_GOLDEN_FILE = os.path.join(_HERE, "testdata", "tokenization", "basic_tokenizer.jsonl")

_SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def _golden_cases():
  with open(_GOLDEN_FILE, encoding="utf-8") as reader:
    return [json.loads(line) for line in reader if line.strip()]


@pytest.fixture(scope="module")
def full_tokenizer():
  return tokenization.FullTokenizer(_VOCAB_FILE, do_lower_case=True)


@pytest.fixture(scope="module")
def vocab_lines():
  with open(_VOCAB_FILE, encoding="utf-8") as reader:
    return reader.read().split("\n")[:-1]


def _write_vocab(path, tokens):
  path.write_text("".join(token + "\n" for token in tokens), encoding="utf-8")
  return str(path)


# --------------------------------------------------------------------------
# BasicTokenizer


@pytest.mark.parametrize("case", _golden_cases(),
                         ids=lambda case: "%s:%s" % (case["do_lower_case"],
                                                     case["text"][:12]))
def test_basic_tokenizer_matches_original_bert(case):
  tokenizer = tokenization.BasicTokenizer(do_lower_case=case["do_lower_case"])
  assert tokenizer.tokenize(case["text"]) == case["tokens"]


def test_golden_file_covers_both_casings_and_all_lines():
  cases = _golden_cases()
  assert len(cases) == 160
  assert {case["do_lower_case"] for case in cases} == {True, False}


def _reference_basic_tokenize(text, do_lower_case):
  """BERT's BasicTokenizer written character by character, as in the spec."""
  cjk = ((0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF),
         (0x2A700, 0x2B73F), (0x2B740, 0x2B81F), (0x2B820, 0x2CEAF),
         (0xF900, 0xFAFF), (0x2F800, 0x2FA1F))
  spaced = []
  for char in text:
    category = unicodedata.category(char)
    if ord(char) in (0, 0xFFFD) or (char not in "\t\n\r" and
                                    category in ("Cc", "Cf")):
      continue
    if char in " \t\n\r" or category == "Zs":
      spaced.append(" ")
    elif any(low <= ord(char) <= high for low, high in cjk):
      spaced.append(" %s " % char)
    else:
      spaced.append(char)
  output = []
  for token in "".join(spaced).split():
    if do_lower_case:
      token = "".join(c for c in unicodedata.normalize("NFD", token.lower())
                      if unicodedata.category(c) != "Mn")
    word = ""
    for char in token:
      cp = ord(char)
      if (33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126
          or unicodedata.category(char).startswith("P")):
        if word:
          output.append(word)
        output.append(char)
        word = ""
      else:
        word += char
    if word:
      output.append(word)
  return " ".join(output).split()


def test_fast_basic_tokenizer_equals_reference_on_random_text():
  alphabet = ("abcXYZ019 .,!?'-#$^`~" "\t\n\r\x0b\x0c\x1c\x1f\x85\xa0"
              "\u3000\u2028\u2029\u200b\u200d\ufeff\x00\x07\ufffd"
              "éÀñßİŒ\u0301" "中文說話，。！《》“”、" "\uf900\uf9ff\u3400\U00020000"
              "のカ한국αβ≥￥１ａＢ😀\ue000")
  rng = random.Random(1234)
  for do_lower_case in (True, False):
    tokenizer = tokenization.BasicTokenizer(do_lower_case=do_lower_case)
    for _ in range(400):
      text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30)))
      assert tokenizer.tokenize(text) == _reference_basic_tokenize(
          text, do_lower_case), repr(text)


def test_basic_tokenizer_accepts_utf8_bytes():
  tokenizer = tokenization.BasicTokenizer()
  assert tokenizer.tokenize("Hi你好".encode("utf-8")) == ["hi", "你", "好"]


def test_compatibility_ideograph_is_normalised_only_when_lower_casing():
  # U+F900 decomposes canonically to U+8C48; BERT's NFD step applies it.
  assert tokenization.BasicTokenizer(True).tokenize("\uf900") == ["\u8c48"]
  assert tokenization.BasicTokenizer(False).tokenize("\uf900") == ["\uf900"]


def test_is_chinese_char_range_edges():
  for cp in (0x4E00, 0x9FFF, 0x3400, 0x4DBF, 0x20000, 0x2A6DF, 0x2CEAF, 0xF900,
             0xFAFF, 0x2F800, 0x2FA1F):
    assert tokenization.is_chinese_char(cp), hex(cp)
  for cp in (0x4DFF, 0xA000, 0x33FF, 0x3042, 0xAC00, 0xFF01, 0x2FA20, ord("a")):
    assert not tokenization.is_chinese_char(cp), hex(cp)


def test_convert_to_unicode():
  assert tokenization.convert_to_unicode("中") == "中"
  assert tokenization.convert_to_unicode("中".encode("utf-8")) == "中"
  assert tokenization.convert_to_unicode(b"a\xffb") == "ab"
  with pytest.raises(ValueError, match="int"):
    tokenization.convert_to_unicode(3)


# --------------------------------------------------------------------------
# WordpieceTokenizer


def test_wordpiece_greedy_longest_match_first():
  vocab = {token: i for i, token in enumerate(
      ["[UNK]", "un", "una", "##aff", "##affable", "##able", "##a", "##ff",
       "runn", "##ing", "##i", "##n", "##g"])}
  tokenizer = tokenization.WordpieceTokenizer(vocab)
  # "una" + "##ffable"? no: "una" is the longest prefix, then "##ff", "##able".
  assert tokenizer.tokenize("unaffable") == ["una", "##ff", "##able"]
  assert tokenizer.tokenize("unaff") == ["una", "##ff"]
  assert tokenizer.tokenize("running") == ["runn", "##ing"]
  assert tokenizer.tokenize("runn ing") == ["runn", "[UNK]"]
  # One unmatchable piece makes the whole word [UNK].
  assert tokenizer.tokenize("unx") == ["[UNK]"]
  assert tokenizer.tokenize("") == []


def test_wordpiece_prefers_long_continuation():
  vocab = {token: i for i, token in enumerate(
      ["[UNK]", "un", "##aff", "##able", "##affable"])}
  tokenizer = tokenization.WordpieceTokenizer(vocab)
  assert tokenizer.tokenize("unaffable") == ["un", "##affable"]


def test_wordpiece_overlong_word_is_unk():
  vocab = {"[UNK]": 0, "a": 1, "##a": 2}
  tokenizer = tokenization.WordpieceTokenizer(vocab, max_input_chars_per_word=5)
  assert tokenizer.tokenize("aaaaa") == ["a", "##a", "##a", "##a", "##a"]
  assert tokenizer.tokenize("aaaaaa") == ["[UNK]"]


# --------------------------------------------------------------------------
# FullTokenizer with the committed vocab


def test_full_tokenizer_mixed_chinese_english_punctuation(full_tokenizer):
  # Expected pieces follow from how build_vocab.py composes the vocab: single
  # CJK characters, letter bigrams, 2- and 3-digit numbers, their ## twins.
  text = "ALBERT模型在2019年发布，准确率达到87.5%！"
  assert full_tokenizer.tokenize(text) == [
      "al", "##be", "##rt", "模", "型", "在", "201", "##9", "年", "发", "布",
      "，", "准", "确", "率", "达", "到", "87", ".", "5", "%", "！"]


def test_full_tokenizer_full_width_quotes_and_unknown(full_tokenizer):
  assert full_tokenizer.tokenize("“你好”（测试）——《三国》…") == [
      "“", "你", "好", "”", "（", "测", "试", "）", "—", "—", "《", "三", "国",
      "》", "…"]
  assert full_tokenizer.tokenize("ＡＢＣ１２３") == [
      "ａ", "##ｂ", "##ｃ", "##１", "##２", "##３"]
  # U+20000 (CJK extension B) is split out but is not in the vocab.
  assert full_tokenizer.tokenize("Café 𠀀\u200b!") == [
      "ca", "##fe", "[UNK]", "!"]


def test_full_tokenizer_ids_round_trip(full_tokenizer):
  tokens = full_tokenizer.tokenize("我爱北京天安门。Hello")
  ids = full_tokenizer.convert_tokens_to_ids(tokens)
  assert full_tokenizer.convert_ids_to_tokens(ids) == tokens
  assert full_tokenizer.convert_tokens_to_ids(["[CLS]", "[SEP]", "[MASK]"]) == [
      101, 102, 103]


def test_tokenizers_survive_pickling(full_tokenizer, spm_model):
  # Data pipelines hand tokenizers to worker processes.
  text = "ALBERT模型，Café！"
  copy = pickle.loads(pickle.dumps(full_tokenizer))
  assert copy.tokenize(text) == full_tokenizer.tokenize(text)
  assert copy.convert_tokens_to_ids(["的"]) == full_tokenizer.convert_tokens_to_ids(["的"])
  sp_tokenizer = tokenization.FullTokenizer(None, spm_model_file=spm_model[0])
  sp_copy = pickle.loads(pickle.dumps(sp_tokenizer))
  assert sp_copy.tokenize("the lazy fox") == sp_tokenizer.tokenize("the lazy fox")


def test_unknown_token_maps_to_unk_id(full_tokenizer):
  assert full_tokenizer.convert_tokens_to_ids(["no-such-token", "的"]) == [
      100, full_tokenizer.vocab["的"]]


def test_out_of_range_id_is_a_clear_error(full_tokenizer):
  with pytest.raises(ValueError, match="21128 is outside the vocab"):
    full_tokenizer.convert_ids_to_tokens([21128])


def test_full_tokenizer_needs_a_vocab():
  with pytest.raises(ValueError, match="vocab_file"):
    tokenization.FullTokenizer(None)


# --------------------------------------------------------------------------
# load_vocab


def test_load_vocab_missing_file_names_it(tmp_path):
  missing = str(tmp_path / "nope" / "vocab.txt")
  with pytest.raises(FileNotFoundError, match="nope/vocab.txt"):
    tokenization.load_vocab(missing)
  with pytest.raises(FileNotFoundError, match="nope/vocab.txt"):
    tokenization.FullTokenizer(missing)


def test_load_vocab_requires_special_tokens(tmp_path):
  path = _write_vocab(tmp_path / "vocab.txt", ["[PAD]", "[UNK]", "[CLS]", "a"])
  with pytest.raises(ValueError) as error:
    tokenization.load_vocab(path)
  message = str(error.value)
  assert path in message
  assert "lacks the special token(s) [SEP], [MASK]:" in message


def test_load_vocab_rejects_duplicates_and_blank_lines(tmp_path):
  path = _write_vocab(tmp_path / "dup.txt", _SPECIALS + ["a", "b", "a"])
  with pytest.raises(ValueError, match="line 8 repeats token 'a' from line 6"):
    tokenization.load_vocab(path)
  path = _write_vocab(tmp_path / "blank.txt", _SPECIALS + ["a", "", "b"])
  with pytest.raises(ValueError, match="line 7 is empty"):
    tokenization.load_vocab(path)


def test_load_vocab_ids_are_line_numbers(tmp_path):
  path = _write_vocab(tmp_path / "vocab.txt", _SPECIALS + ["中", "##中"])
  vocab = tokenization.load_vocab(path)
  assert list(vocab.items()) == [(t, i) for i, t in enumerate(_SPECIALS + ["中", "##中"])]


def test_load_vocab_through_gfile_url(tmp_path):
  path = _write_vocab(tmp_path / "vocab.txt", _SPECIALS + ["x"])
  assert tokenization.load_vocab("file://" + path)["x"] == 5
  with pytest.raises(FileNotFoundError, match="missing.txt"):
    tokenization.load_vocab("file://" + str(tmp_path / "missing.txt"))


# --------------------------------------------------------------------------
# The committed vocab.txt


def test_vocab_size_specials_and_uniqueness(vocab_lines):
  assert len(vocab_lines) == 21128
  assert len(set(vocab_lines)) == len(vocab_lines)
  assert vocab_lines[0] == "[PAD]"
  assert vocab_lines[1:100] == ["[unused%d]" % i for i in range(1, 100)]
  assert vocab_lines[100:104] == ["[UNK]", "[CLS]", "[SEP]", "[MASK]"]
  assert all(line and line == line.strip() for line in vocab_lines)


def test_vocab_cjk_characters_have_twins(vocab_lines):
  entries = set(vocab_lines)
  cjk = [t for t in vocab_lines if len(t) == 1 and tokenization.is_chinese_char(ord(t))]
  assert len(cjk) >= 7000
  assert [c for c in cjk if "##" + c not in entries] == []
  # Every non-punctuation single character can continue a word.
  singles = [t for t in vocab_lines if len(t) == 1]
  assert [c for c in singles
          if not tokenization.is_punctuation(c) and "##" + c not in entries] == []
  # The most frequent characters of Chinese text are present.
  assert {"的", "是", "在", "了", "中", "国"} <= entries


def test_vocab_entries_are_reachable_by_the_tokenizer(vocab_lines):
  basic = tokenization.BasicTokenizer(do_lower_case=True)
  for token in vocab_lines[104:]:
    word = token[2:] if token.startswith("##") else token
    assert basic.tokenize(word) == [word], token


def test_build_vocab_reproduces_committed_file(tmp_path):
  output = tmp_path / "vocab.txt"
  subprocess.run([sys.executable, os.path.join(_HERE, "build_vocab.py"),
                  "--output_file=%s" % output], check=True, cwd=str(tmp_path),
                 capture_output=True)
  with open(_VOCAB_FILE, "rb") as committed:
    assert output.read_bytes() == committed.read()
  assert os.listdir(str(tmp_path)) == ["vocab.txt"]  # No temporary left over.


# --------------------------------------------------------------------------
# build_vocab on a user corpus

_CORPUS = ("今天天气很好。我们去公园散步吧！\n"
           "The weather is nice today, the park is open.\n"
           "\n"
           "天气预报说明天下雨，the park closes at 18:00。\n")


def _build_from_corpus(tmp_path, vocab_size, **kwargs):
  corpus = tmp_path / "corpus.txt"
  corpus.write_text(_CORPUS, encoding="utf-8")
  return build_vocab.build_vocab([str(corpus)], vocab_size, **kwargs)


def test_build_vocab_from_user_corpus(tmp_path):
  tokens = _build_from_corpus(tmp_path, 1000, use_generated_pieces=False,
                              max_word_pieces=3)
  assert len(tokens) == 1000 and len(set(tokens)) == 1000
  symbols = build_vocab.symbol_entries(tokenization.BasicTokenizer())
  # Counted by hand: 天 4, 气 2, every other CJK character once (then ordered
  # by code point); ASCII letters, digits and punctuation are symbols already.
  chars = list("天气下今们公去吧园好很我报散明步说雨预")
  # Words: "the" 3, then "is" and "park" 2 each (tie broken alphabetically).
  words = ["the", "is", "park"]
  singles = symbols + chars + words
  twins = ["##" + t for t in singles
           if not (len(t) == 1 and tokenization.is_punctuation(t))]
  used = 104 + len(singles) + len(twins)
  padding = ["[unused%d]" % i for i in range(100, 100 + 1000 - used)]
  assert tokens == build_vocab.special_tokens() + singles + twins + padding
  assert "##天" in twins and "##，" not in twins and "##the" in twins


def test_build_vocab_character_order_is_by_frequency_then_code_point(tmp_path):
  char_counts = {"乙": 2, "甲": 2, "丙": 5, "a": 9}
  tokens = build_vocab.select_vocab(char_counts, {}, 1000,
                                    use_generated_pieces=False)
  assert len(tokens) == 1000
  chars = [t for t in tokens if t in ("乙", "甲", "丙")]
  assert chars == ["丙", "乙", "甲"]  # 乙 U+4E59 < 甲 U+7532.


def test_corpus_vocab_tokenizes_its_corpus_without_unk(tmp_path):
  tokens = _build_from_corpus(tmp_path, 1000, use_generated_pieces=False)
  vocab_file = _write_vocab(tmp_path / "vocab.txt", tokens)
  tokenizer = tokenization.FullTokenizer(vocab_file)
  pieces = tokenizer.tokenize(_CORPUS)
  assert "[UNK]" not in pieces
  assert pieces[:4] == ["今", "天", "天", "气"]
  assert "weather" in pieces and "18" in pieces and "##00" not in pieces


def test_build_vocab_too_small_is_a_clear_error(tmp_path):
  with pytest.raises(ValueError, match="--vocab_size=300 is too small"):
    _build_from_corpus(tmp_path, 300)


def test_build_vocab_bad_input(tmp_path):
  bad = tmp_path / "latin1.txt"
  bad.write_bytes("ok\n".encode("utf-8") + "caf\xe9\n".encode("latin-1"))
  with pytest.raises(ValueError, match="latin1.txt line 2 is not valid UTF-8"):
    build_vocab.build_vocab([str(bad)], 1000)
  with pytest.raises(ValueError, match="matches no file"):
    shared_flags.expand_input_files(str(tmp_path / "*.none"))


def test_build_vocab_cli_on_corpus_glob(tmp_path):
  (tmp_path / "a.txt").write_text("你好世界 hello\n", encoding="utf-8")
  (tmp_path / "b.txt").write_text("世界和平 world\n", encoding="utf-8")
  output = tmp_path / "out" / "vocab.txt"
  output.parent.mkdir()
  subprocess.run([sys.executable, os.path.join(_HERE, "build_vocab.py"),
                  "--input_file=%s,%s" % (tmp_path / "a*.txt", tmp_path / "b.txt"),
                  "--output_file=%s" % output, "--vocab_size=1400",
                  "--nogenerated_pieces", "--nodo_lower_case"],
                 check=True, capture_output=True)
  tokens = output.read_text(encoding="utf-8").split("\n")[:-1]
  assert len(tokens) == 1400
  assert "A" in tokens and "##Z" in tokens  # Cased: upper-case letters kept.
  assert tokens.index("世") < tokens.index("你")  # 世 and 界 occur twice.
  assert "hello" in tokens and "##world" in tokens


# --------------------------------------------------------------------------
# SentencePiece


@pytest.fixture(scope="module")
def spm_model(tmp_path_factory):
  """Trains a tiny SentencePiece model (no downloads)."""
  directory = tmp_path_factory.mktemp("spm")
  corpus = directory / "corpus.txt"
  corpus.write_text("\n".join([
      "the quick brown fox jumps over the lazy dog in 1999, again",
      "a lazy dog sleeps while the quick fox runs",
      "numbers like 1999, 2000 and 42 appear here",
      "hello world this is a tiny corpus for sentencepiece"] * 20),
                    encoding="utf-8")
  prefix = str(directory / "tiny")
  spm.SentencePieceTrainer.train(
      input=str(corpus), model_prefix=prefix, vocab_size=80,
      hard_vocab_limit=False, user_defined_symbols=["1999,"],
      control_symbols=["[CLS]", "[SEP]", "[MASK]"], pad_id=0, unk_id=1,
      bos_id=-1, eos_id=-1, minloglevel=2)
  return prefix + ".model", prefix + ".vocab"


def test_sentencepiece_tokenizer(spm_model):
  model_file, _ = spm_model
  tokenizer = tokenization.FullTokenizer(None, spm_model_file=model_file)
  sp_model = spm.SentencePieceProcessor()
  sp_model.load(model_file)
  assert len(tokenizer.vocab) == sp_model.get_piece_size()
  assert tokenizer.vocab["[CLS]"] == sp_model.piece_to_id("[CLS]")
  tokens = tokenizer.tokenize("The  QUICK fox")
  # Lower-cased and whitespace-collapsed before SentencePiece, as albert does.
  assert tokens == sp_model.encode_as_pieces("the quick fox")
  ids = tokenizer.convert_tokens_to_ids(tokens)
  assert ids == sp_model.encode_as_ids("the quick fox")
  assert tokenizer.convert_ids_to_tokens(ids) == tokens
  assert tokenizer.convert_tokens_to_ids(["no-such-piece"]) == [
      sp_model.piece_to_id("<unk>")]
  cased = tokenization.FullTokenizer(None, do_lower_case=False,
                                     spm_model_file=model_file)
  assert cased.tokenize("Fox") != tokenizer.tokenize("Fox")


def test_sentencepiece_splits_number_comma_pieces(spm_model):
  model_file, _ = spm_model
  tokenizer = tokenization.FullTokenizer(None, spm_model_file=model_file)
  sp_model = tokenizer.sp_model
  raw = sp_model.encode_as_pieces("in 1999, the fox")
  assert "1999," in raw  # The model glues the comma to the number ...
  tokens = tokenizer.tokenize("in 1999, the fox")
  assert "1999," not in tokens  # ... the tokenizer separates them again.
  number = sp_model.encode_as_pieces("1999")
  expected_number = ([number[0][1:]] if len(number[0]) > 1 else []) + number[1:]
  position = raw.index("1999,")
  assert tokens == raw[:position] + expected_number + [","] + raw[position + 1:]


def test_sentencepiece_vocab_file_must_match_model(spm_model, tmp_path):
  model_file, vocab_file = spm_model
  tokenizer = tokenization.FullTokenizer(vocab_file, spm_model_file=model_file)
  assert tokenizer.vocab["<pad>"] == 0
  wrong = _write_vocab(tmp_path / "wrong.vocab", ["<pad>", "<unk>", "oops"])
  with pytest.raises(ValueError, match="does not match SentencePiece model"):
    tokenization.FullTokenizer(wrong, spm_model_file=model_file)


def test_sentencepiece_bad_model_path(tmp_path):
  with pytest.raises(ValueError, match="missing.model"):
    tokenization.FullTokenizer(None, spm_model_file=str(tmp_path / "missing.model"))
