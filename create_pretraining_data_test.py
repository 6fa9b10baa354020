# coding=utf-8
"""Tests for create_pretraining_data.py and the reader in pretraining_input.py.

They run on the small fixture corpus and vocab in testdata/pretraining_data/
(the first chapter of the bundled novel plus a few odd documents; a vocab with
the corpus characters, their `##` twins and a few missing characters).
"""

import collections
import os
import random
import re
import subprocess
import sys

import jieba
import numpy as np
import pytest
import tensorflow.compat.v1 as tf

import create_pretraining_data as cpd
import pretraining_input
import tokenization

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "testdata", "pretraining_data")
CORPUS = os.path.join(FIXTURES, "corpus.txt")
VOCAB = os.path.join(FIXTURES, "vocab.txt")
SEQ = 64
MAX_PRED = 10


@pytest.fixture(scope="module")
def tokenizer():
  return tokenization.FullTokenizer(VOCAB, do_lower_case=True)


@pytest.fixture(scope="module")
def vocab(tokenizer):
  return cpd.vocab_ids(tokenizer, VOCAB)


def _options(**overrides):
  defaults = dict(max_seq_length=SEQ, max_predictions_per_seq=MAX_PRED,
                  dupe_factor=4)
  defaults.update(overrides)
  return cpd.default_options(**defaults)


def _run(tmp_path, tokenizer, options, name="out.tfrecord", **kwargs):
  output = str(tmp_path / name)
  stats = cpd.create_pretraining_data([CORPUS], [output], tokenizer, options,
                                      vocab_file=VOCAB, **kwargs)
  return output, stats


def _read(path, options):
  return list(pretraining_input.read_pretraining_examples(
      [path], options.max_seq_length, options.max_predictions_per_seq,
      with_token_boundary=True))


def _cjk_twin_ids(tokenizer):
  return {index for token, index in tokenizer.vocab.items()
          if len(token) == 3 and token.startswith("##") and
          tokenization.is_chinese_char(ord(token[2]))}


@pytest.fixture(scope="module")
def sop_run(tmp_path_factory, tokenizer):
  """One whole-word, n-gram, SOP run over the fixture corpus, read back."""
  options = _options(dupe_factor=6)
  path, stats = _run(tmp_path_factory.mktemp("sop"), tokenizer, options)
  return options, stats, _read(path, options)


# --- Encoding ---------------------------------------------------------------


def test_encoder_ids_equal_tokenizer_output(tokenizer):
  encoder = cpd.SentenceEncoder(tokenizer, segment_chinese_words=True)
  with open(CORPUS, encoding="utf-8") as reader:
    lines = [line.strip() for line in reader]
  lines += ["Hello, World! ALBERT模型2018年 café 龙龙 T恤", "  \u200b  "]
  for line in lines:
    ids, starts = encoder.encode(line)
    expected = tokenizer.convert_tokens_to_ids(tokenizer.tokenize(line))
    assert ids == expected, line
    assert len(starts) == len(ids)


def test_encoder_word_starts_follow_jieba(tokenizer):
  encoder = cpd.SentenceEncoder(tokenizer, segment_chinese_words=True)
  sentence = "话说天下大势分久必合合久必分"
  _, starts = encoder.encode(sentence)
  expected = []
  for word in jieba.lcut(sentence):
    expected += [True] + [False] * (len(word) - 1)
  assert starts == expected
  assert not all(starts)  # jieba found multi-character words here

  no_segmentation = cpd.SentenceEncoder(tokenizer, segment_chinese_words=False)
  assert all(no_segmentation.encode(sentence)[1])


def test_encoder_marks_wordpiece_continuations(tokenizer):
  encoder = cpd.SentenceEncoder(tokenizer, segment_chinese_words=True)
  ids, starts = encoder.encode("berter")
  tokens = tokenizer.convert_ids_to_tokens(ids)
  assert tokens == tokenizer.tokenize("berter")
  assert starts == [not token.startswith("##") for token in tokens]
  assert any(token.startswith("##") for token in tokens)


def test_replacement_ids_are_real_tokens(tokenizer, vocab):
  tokens = set(tokenizer.convert_ids_to_tokens(vocab.replacement_ids))
  for special in ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[unused1]",
                  "<S>"):
    assert special not in tokens
  assert not set(vocab.replacement_ids) & _cjk_twin_ids(tokenizer)
  assert {"曹", "，", "a", "##er"} <= tokens


# --- Masking and pairing (pure functions, explicit rng) ---------------------


def test_ngram_sampler_distribution():
  rng = random.Random(0)
  sampler = cpd.NgramSampler(3, favor_shorter_ngram=True)
  assert sampler.probabilities(3) == pytest.approx([6 / 11, 3 / 11, 2 / 11])
  counts = collections.Counter(sampler.sample(rng, 3) for _ in range(60000))
  for n, expected in zip((1, 2, 3), (6 / 11, 3 / 11, 2 / 11)):
    assert counts[n] / 60000 == pytest.approx(expected, abs=0.01)
  # Near the end of a segment only shorter spans fit.
  assert {sampler.sample(rng, 1) for _ in range(100)} == {1}
  counts = collections.Counter(sampler.sample(rng, 2) for _ in range(20000))
  assert counts[1] / 20000 == pytest.approx(2 / 3, abs=0.015)
  longer = cpd.NgramSampler(3, favor_shorter_ngram=False)
  assert longer.probabilities(3) == pytest.approx([2 / 11, 3 / 11, 6 / 11])


def test_num_to_predict_is_the_published_formula():
  assert cpd.num_to_predict(128, 0.15, 20) == 19
  assert cpd.num_to_predict(512, 0.10, 51) == 51
  assert cpd.num_to_predict(10, 0.01, 20) == 1
  assert cpd.num_to_predict(10, 0.0, 20) == 0


def _fake_sequence(num_words, word_length):
  """[CLS] A [SEP] B [SEP] where every word has `word_length` tokens."""
  ids = list(range(200, 200 + 2 * num_words * word_length))
  starts = [i % word_length == 0 for i in range(len(ids))]
  half = len(ids) // 2
  input_ids = [1] + ids[:half] + [2] + ids[half:] + [2]
  word_starts = [True] + starts[:half] + [True] + starts[half:] + [True]
  bounds = ((1, half + 1), (half + 2, len(ids) + 2))
  return input_ids, word_starts, bounds


def test_masking_hides_whole_words_and_labels_originals(vocab):
  vocab = vocab._replace(cls_id=1, sep_id=2)
  input_ids, word_starts, bounds = _fake_sequence(num_words=30, word_length=2)
  options = _options(max_seq_length=len(input_ids), max_predictions_per_seq=40,
                     masked_lm_prob=0.3)
  sampler = cpd.NgramSampler(3, True)
  target = cpd.num_to_predict(len(input_ids), 0.3, 40)
  for seed in range(50):
    out = cpd.create_masked_lm_predictions(input_ids, word_starts, bounds,
                                           options, vocab, sampler,
                                           random.Random(seed))
    positions = out.masked_lm_positions
    assert positions == sorted(set(positions))
    assert len(positions) <= target
    assert len(positions) >= target - 1  # two-token words: at most 1 short
    assert out.masked_lm_ids == [input_ids[p] for p in positions]
    masked = set(positions)
    for index, (before, after) in enumerate(zip(input_ids, out.input_ids)):
      if index not in masked:
        assert before == after
    assert not masked & {0, bounds[0][1], len(input_ids) - 1}
    for p in positions:  # whole words: both tokens of a word or neither
      partner = p + 1 if word_starts[p] else p - 1
      assert partner in masked
    assert 2 * sum(out.ngram_lengths) == len(positions)  # n words, 2 tokens


def test_masking_without_whole_words_picks_single_tokens(vocab):
  vocab = vocab._replace(cls_id=1, sep_id=2)
  input_ids, word_starts, bounds = _fake_sequence(num_words=30, word_length=2)
  options = _options(max_seq_length=len(input_ids), max_predictions_per_seq=40,
                     masked_lm_prob=0.3, do_whole_word_mask=False, ngram=1)
  target = cpd.num_to_predict(len(input_ids), 0.3, 40)
  out = cpd.create_masked_lm_predictions(
      input_ids, word_starts, bounds, options, vocab, cpd.NgramSampler(1, True),
      random.Random(3))
  assert len(out.masked_lm_positions) == target
  assert set(out.ngram_lengths) == {1}
  masked = set(out.masked_lm_positions)
  # Some word is cut in half, which whole-word masking never does.
  assert any((p + 1 if word_starts[p] else p - 1) not in masked for p in masked)


def test_replacement_split_is_80_10_10(vocab):
  rng = random.Random(7)
  outcomes = collections.Counter()
  for _ in range(40000):
    new_id = cpd._masked_token_id(5000, vocab, rng)
    outcomes["mask" if new_id == vocab.mask_id else
             "same" if new_id == 5000 else "random"] += 1
  assert outcomes["mask"] / 40000 == pytest.approx(0.8, abs=0.01)
  assert outcomes["same"] / 40000 == pytest.approx(0.1, abs=0.01)
  assert outcomes["random"] / 40000 == pytest.approx(0.1, abs=0.01)


def test_truncate_seq_pair_trims_the_longer_side():
  a = (list(range(10)), [True] * 10)
  b = (list(range(100, 103)), [True] * 3)
  new_a, new_b, removed = cpd.truncate_seq_pair(a, b, 8, random.Random(1))
  assert removed == 5 and len(new_a[0]) == 5 and new_b == b
  first = new_a[0][0]
  assert new_a[0] == list(range(first, first + 5))  # a contiguous slice
  assert len(new_a[1]) == len(new_a[0])
  # Ties trim B, and both sides shrink once they are the longer one.
  new_a, new_b, removed = cpd.truncate_seq_pair(a, a, 8, random.Random(2))
  assert (len(new_a[0]), len(new_b[0]), removed) == (4, 4, 12)


def test_single_sentence_is_split_at_a_word_start():
  sentence = ([10, 11, 12, 13, 14], [True, False, True, False, False])
  for seed in range(20):
    stats = collections.Counter()
    a, b, label = cpd._sop_pair([sentence], random.Random(seed), stats)
    first, second = (b, a) if label else (a, b)
    assert first[0] + second[0] == sentence[0]
    assert first[0] == [10, 11]  # the only inner word start is position 2
    assert stats["single_sentences_split"] == 1
  stats = collections.Counter()
  assert cpd._sop_pair([([10], [True])], random.Random(0), stats) is None
  assert stats["skipped_one_token_chunks"] == 1


# --- Serialization ------------------------------------------------------------


def test_serialized_bytes_equal_tf_example():
  instance = cpd.TrainingInstance(
      input_ids=[101, 5, 127, 128, 16383, 16384, 70000, 102, 300, 102],
      segment_ids=[0] * 8 + [1] * 2,
      token_boundary=[True, True, False, True, True, False, True, True, True,
                      True],
      masked_lm_positions=[2, 5],
      masked_lm_ids=[21127, 9],
      next_sentence_label=1)
  record = cpd.serialize_instance(instance, max_seq_length=12,
                                  max_predictions_per_seq=4)

  def int64s(values):
    return tf.train.Feature(int64_list=tf.train.Int64List(value=values))

  expected = tf.train.Example(features=tf.train.Features(feature={
      "input_ids": int64s(instance.input_ids + [0, 0]),
      "input_mask": int64s([1] * 10 + [0, 0]),
      "segment_ids": int64s(instance.segment_ids + [0, 0]),
      "token_boundary": int64s([int(b) for b in instance.token_boundary] +
                               [0, 0]),
      "masked_lm_positions": int64s([2, 5, 0, 0]),
      "masked_lm_ids": int64s([21127, 9, 0, 0]),
      "masked_lm_weights": tf.train.Feature(float_list=tf.train.FloatList(
          value=[1.0, 1.0, 0.0, 0.0])),
      "next_sentence_labels": int64s([1]),
  }))
  assert record == expected.SerializeToString(deterministic=True)


# --- End to end on the fixture corpus ---------------------------------------


def test_mask_rate_labels_and_whole_words(sop_run, tokenizer, vocab):
  options, stats, examples = sop_run
  assert len(examples) == stats["instances"] > 100
  twins = _cjk_twin_ids(tokenizer)
  special = {vocab.cls_id, vocab.sep_id}
  total_masked = total_tokens = exact = 0
  outcomes = collections.Counter()
  for example in examples:
    length = int(example["input_mask"].sum())
    ids = example["input_ids"][:length]
    num_masked = int(example["masked_lm_weights"].sum())
    positions = example["masked_lm_positions"][:num_masked]
    labels = example["masked_lm_ids"][:num_masked]
    target = cpd.num_to_predict(length, options.masked_lm_prob, MAX_PRED)
    assert 1 <= num_masked <= target
    exact += num_masked == target
    total_masked += num_masked
    total_tokens += length
    assert not twins & set(labels.tolist())  # never a `##` twin label
    assert not twins & set(ids.tolist())  # nor a `##` twin input
    assert not special & set(labels.tolist())
    assert list(positions) == sorted(set(positions))
    for position, label in zip(positions, labels):
      outcomes["mask" if ids[position] == vocab.mask_id else
               "same" if ids[position] == label else "random"] += 1
    # Whole words: a masked continuation token's word start is masked too.
    masked = set(positions.tolist())
    boundary = example["token_boundary"]
    for position in masked:
      previous = position - 1
      if not boundary[position] and ids[previous] not in special:
        assert previous in masked
  assert exact / len(examples) > 0.9
  assert total_masked / total_tokens == pytest.approx(0.15, abs=0.02)
  assert stats["masked_tokens"] == total_masked
  assert outcomes["mask"] / total_masked == pytest.approx(0.8, abs=0.04)
  assert outcomes["same"] / total_masked == pytest.approx(0.1, abs=0.04)


def test_ngram_mix_matches_one_over_n_when_budget_allows(vocab):
  vocab = vocab._replace(cls_id=1, sep_id=2)
  input_ids, word_starts, bounds = _fake_sequence(num_words=400, word_length=1)
  options = _options(max_seq_length=len(input_ids), max_predictions_per_seq=200)
  sampler = cpd.NgramSampler(3, True)
  lengths = collections.Counter()
  for seed in range(60):
    lengths.update(cpd.create_masked_lm_predictions(
        input_ids, word_starts, bounds, options, vocab, sampler,
        random.Random(seed)).ngram_lengths)
  shares = np.array([lengths[n] for n in (1, 2, 3)]) / sum(lengths.values())
  assert shares == pytest.approx([6 / 11, 3 / 11, 2 / 11], abs=0.035)


def test_ngram_spans_on_the_fixture_corpus(sop_run):
  _, stats, _ = sop_run
  spans = np.array([stats["ngram_%d" % n] for n in (1, 2, 3)])
  shares = spans / spans.sum()
  # With only ~10 predictions per sequence, long spans often overshoot the
  # budget and fall back to shorter ones (as published), so unigrams gain.
  assert shares[0] > shares[1] > shares[2] > 0.07
  assert shares[0] < 0.75


def test_sop_labels_balanced_and_documents_accounted(sop_run):
  options, stats, examples = sop_run
  labels = [int(example["next_sentence_labels"][0]) for example in examples]
  assert np.mean(labels) == pytest.approx(0.5, abs=0.08)
  assert stats["label_1"] == sum(labels)
  # chapter + 4 documents with tokens; the zero-width-space one has none.
  assert stats["documents"] == 5
  assert stats["skipped_documents_without_tokens"] == 1
  assert stats["skipped_one_token_chunks"] == options.dupe_factor  # "好"
  assert stats["single_sentences_split"] >= 2 * options.dupe_factor


def test_instances_are_well_formed(sop_run, vocab):
  options, _, examples = sop_run
  for example in examples:
    length = int(example["input_mask"].sum())
    ids = example["input_ids"]
    segments = example["segment_ids"]
    assert ids[0] == vocab.cls_id and ids[length - 1] == vocab.sep_id
    assert not ids[length:].any() and not segments[length:].any()
    sep_positions = np.flatnonzero(ids[:length] == vocab.sep_id)
    assert len(sep_positions) == 2
    first_sep = sep_positions[0]
    assert not segments[:first_sep + 1].any()
    assert segments[first_sep + 1:length].all()
    assert example["token_boundary"][[0, first_sep, length - 1]].all()


def test_single_sentence_documents_yield_instances(tmp_path, tokenizer):
  corpus = tmp_path / "single.txt"
  corpus.write_text("天下大势，分久必合，合久必分。\n\n玄德曰：“吾乃中山靖王之后。”\n",
                    encoding="utf-8")
  options = _options(dupe_factor=3)
  output = str(tmp_path / "single.tfrecord")
  stats = cpd.create_pretraining_data([str(corpus)], [output], tokenizer,
                                      options, vocab_file=VOCAB)
  assert stats["documents"] == 2
  assert stats["instances"] == 6 == len(_read(output, options))


def test_nsp_mode_uses_random_next_labels(tmp_path, tokenizer):
  options = _options(random_next_sentence=True, dupe_factor=6)
  path, stats = _run(tmp_path, tokenizer, options)
  labels = [int(e["next_sentence_labels"][0]) for e in _read(path, options)]
  assert len(labels) == stats["instances"]
  # Label 1 = random next: half of the multi-sentence chunks plus every
  # single-sentence chunk, so a little over half.
  assert 0.45 < np.mean(labels) < 0.75


def test_output_identical_for_any_worker_count(tmp_path, tokenizer,
                                               monkeypatch):
  monkeypatch.setattr(cpd, "_BLOCK_MAX_CHARS", 400)  # several blocks
  options = _options(dupe_factor=3)
  contents = []
  for num_workers in (1, 2, 3):
    outputs = [str(tmp_path / ("w%d_%d.tfrecord" % (num_workers, shard)))
               for shard in range(2)]
    cpd.create_pretraining_data([CORPUS], outputs, tokenizer, options,
                                vocab_file=VOCAB, num_workers=num_workers,
                                shuffle_buffer_size=50)
    contents.append([open(path, "rb").read() for path in outputs])
  assert contents[0] == contents[1] == contents[2]
  assert all(contents[0])
  other_seed = str(tmp_path / "seed.tfrecord")
  cpd.create_pretraining_data([CORPUS], [other_seed], tokenizer,
                              options._replace(random_seed=1),
                              vocab_file=VOCAB, shuffle_buffer_size=50)
  assert open(other_seed, "rb").read() != contents[0][0]


def test_dataset_batches_for_training(sop_run, tmp_path, tokenizer):
  options = _options(dupe_factor=1)
  path, _ = _run(tmp_path, tokenizer, options)
  with tf.Graph().as_default():
    dataset = pretraining_input.make_pretraining_dataset(
        [path], SEQ, MAX_PRED, is_training=True, batch_size=4, seed=1)
    batch = tf.data.make_one_shot_iterator(dataset).get_next()
    assert "token_boundary" not in batch  # never required by readers
    with tf.Session() as session:
      values = session.run(batch)
  assert values["input_ids"].shape == (4, SEQ)
  assert values["input_ids"].dtype == np.int32
  assert values["masked_lm_weights"].shape == (4, MAX_PRED)
  assert values["masked_lm_weights"].dtype == np.float32
  assert values["next_sentence_labels"].shape == (4, 1)


# --- Bad input and crash safety -------------------------------------------------


def test_non_utf8_input_is_an_error_naming_file_and_line(tmp_path, tokenizer):
  corpus = tmp_path / "latin1.txt"
  corpus.write_bytes("第一句。\n第二句。\n".encode("utf-8") +
                     "caf\u00e9\n".encode("latin-1") + "第四句。\n".encode("utf-8"))
  output = str(tmp_path / "bad.tfrecord")
  with pytest.raises(ValueError, match=r"latin1\.txt:3 is not valid UTF-8"):
    cpd.create_pretraining_data([str(corpus)], [output], tokenizer, _options(),
                                vocab_file=VOCAB)
  assert not os.path.exists(output)
  assert not os.path.exists(output + ".incomplete")
  stats = cpd.create_pretraining_data([str(corpus)], [output], tokenizer,
                                      _options(), vocab_file=VOCAB,
                                      on_decode_error="replace")
  assert stats["lines_with_decode_errors"] == 1
  assert stats["sentences"] == 4 and os.path.exists(output)


def test_missing_input_file_is_a_clear_error(tmp_path):
  missing = str(tmp_path / "nowhere" / "*.txt")
  with pytest.raises(ValueError, match="matches no file"):
    cpd.expand_input_files(missing)


def test_script_reports_missing_vocab_and_runs_with_flags(tmp_path):
  script = os.path.join(HERE, "create_pretraining_data.py")
  base = [sys.executable, script, "--input_file=" + CORPUS,
          "--max_seq_length=%d" % SEQ, "--max_predictions_per_seq=%d" % MAX_PRED,
          "--dupe_factor=1"]
  missing = subprocess.run(
      base + ["--output_file=%s" % (tmp_path / "x.tfrecord"),
              "--vocab_file=%s" % (tmp_path / "missing_vocab.txt")],
      capture_output=True, text=True)
  assert missing.returncode != 0
  assert "--vocab_file=%s does not exist" % (tmp_path / "missing_vocab.txt") \
      in missing.stderr
  outputs = [str(tmp_path / "a.tfrecord"), str(tmp_path / "b.tfrecord")]
  ok = subprocess.run(
      base + ["--output_file=" + ",".join(outputs), "--vocab_file=" + VOCAB,
              "--num_workers=2"], capture_output=True, text=True)
  assert ok.returncode == 0, ok.stderr
  assert "Summary: 5 documents" in ok.stderr
  options = _options()
  counts = [len(_read(path, options)) for path in outputs]
  assert abs(counts[0] - counts[1]) <= 1 and sum(counts) > 0


def test_crash_leaves_no_output_under_the_final_name(tmp_path, tokenizer,
                                                     monkeypatch):
  monkeypatch.setattr(cpd, "_BLOCK_MAX_CHARS", 400)
  output = str(tmp_path / "crash.tfrecord")
  original_call = cpd.BlockProcessor.__call__
  seen = []

  def failing_call(self, block):
    if block[0] == 1:
      seen.append(os.path.exists(output + ".incomplete"))
      raise RuntimeError("simulated crash")
    return original_call(self, block)

  monkeypatch.setattr(cpd.BlockProcessor, "__call__", failing_call)
  with pytest.raises(RuntimeError, match="simulated crash"):
    cpd.create_pretraining_data([CORPUS], [output], tokenizer, _options(),
                                vocab_file=VOCAB, shuffle_buffer_size=1)
  assert seen == [True]  # records were being written when it failed
  assert not os.path.exists(output)
  assert not os.path.exists(output + ".incomplete")


def test_sentencepiece_vocab_uses_word_markers(tmp_path):
  import sentencepiece as spm  # pylint: disable=g-import-not-at-top
  english = tmp_path / "english.txt"
  sentences = ["the quick brown fox jumps over the lazy dog .",
               "albert shares parameters across layers .",
               "sentence order prediction replaces next sentence prediction ."]
  english.write_text("\n".join(sentences * 20) + "\n\n" +
                     "\n".join(sentences[::-1] * 20) + "\n", encoding="utf-8")
  prefix = str(tmp_path / "spm")
  spm.SentencePieceTrainer.train(
      input=str(english), model_prefix=prefix, vocab_size=45,
      user_defined_symbols=["[CLS]", "[SEP]", "[MASK]"], pad_id=0, unk_id=1,
      bos_id=-1, eos_id=-1, minloglevel=2)
  tokenizer = tokenization.FullTokenizer(None, spm_model_file=prefix + ".model")
  encoder = cpd.SentenceEncoder(tokenizer, segment_chinese_words=True)
  ids, starts = encoder.encode("albert shares parameters")
  pieces = tokenizer.convert_ids_to_tokens(ids)
  assert pieces == tokenizer.tokenize("albert shares parameters")
  assert starts == [piece.startswith("\u2581") for piece in pieces]
  assert not all(starts)  # some word was cut into several pieces
  options = _options(dupe_factor=2, max_seq_length=32, max_predictions_per_seq=5)
  output = str(tmp_path / "spm.tfrecord")
  stats = cpd.create_pretraining_data([str(english)], [output], tokenizer,
                                      options, vocab_file=prefix + ".model")
  assert stats["instances"] == len(_read(output, options)) > 0


# --- Empty output and tiny sequences (issue 14, item 7) -----------------------


def test_zero_instances_is_an_error_and_leaves_no_file(tmp_path, tokenizer):
  for name, text in (("empty.txt", ""), ("blank.txt", "\n \n\t\n\n")):
    corpus = tmp_path / name
    corpus.write_text(text, encoding="utf-8")
    output = str(tmp_path / (name + ".tfrecord"))
    with pytest.raises(ValueError, match=(
        r"no instances from 1 input file\(s\).*%s.*0 documents" % name)):
      cpd.create_pretraining_data([str(corpus)], [output], tokenizer,
                                  _options(), vocab_file=VOCAB)
    assert not os.path.exists(output)
    assert not os.path.exists(output + ".incomplete")


def test_script_fails_on_empty_input_and_warns_about_short_sequences(tmp_path):
  empty = tmp_path / "empty.txt"
  empty.write_text("", encoding="utf-8")
  output = str(tmp_path / "empty.tfrecord")
  result = subprocess.run(
      [sys.executable, os.path.join(HERE, "create_pretraining_data.py"),
       "--input_file=%s" % empty, "--output_file=" + output,
       "--vocab_file=" + VOCAB, "--max_seq_length=12",
       "--max_predictions_per_seq=2"], capture_output=True, text=True)
  assert result.returncode != 0
  assert "no instances from 1 input file(s)" in result.stderr
  # 12 - 3 special tokens = 9 tokens, round(9 * 0.15) = 1 masked token.
  assert re.search(r"W.*--max_seq_length=12 .*at most 1 masked token",
                   result.stderr)
  assert not os.path.exists(output)
  assert not os.path.exists(output + ".incomplete")


def test_short_sequence_warning_from_the_function(tmp_path, tokenizer, caplog):
  options = _options(max_seq_length=15, max_predictions_per_seq=3,
                     dupe_factor=1)
  with caplog.at_level("WARNING"):
    _run(tmp_path, tokenizer, options)
  assert any("--max_seq_length=15" in r.getMessage() and
             r.levelname == "WARNING" for r in caplog.records)
  caplog.clear()
  with caplog.at_level("WARNING"):
    _run(tmp_path, tokenizer, _options(max_seq_length=16, dupe_factor=1))
  assert not any("--max_seq_length" in r.getMessage() for r in caplog.records)


# --- Sharding across machines (issue 20) -------------------------------------


def _records(paths):
  return [record for path in paths
          for record in tf.io.tf_record_iterator(path)]


@pytest.mark.parametrize("num_shards", [1, 2, 3])
def test_shard_union_equals_one_machine_output(tmp_path, tokenizer,
                                               monkeypatch, num_shards):
  monkeypatch.setattr(cpd, "_BLOCK_MAX_CHARS", 400)  # several blocks
  options = _options(dupe_factor=2)
  whole = [str(tmp_path / "whole_a.tfrecord"),
           str(tmp_path / "whole_b.tfrecord")]
  whole_stats = cpd.create_pretraining_data([CORPUS], whole, tokenizer, options,
                                            vocab_file=VOCAB,
                                            shuffle_buffer_size=50)
  shard_records = []
  documents = 0
  for shard_index in range(num_shards):
    outputs = cpd.shard_output_files(whole, num_shards, shard_index)
    stats = cpd.create_pretraining_data(
        [CORPUS], outputs, tokenizer, options, vocab_file=VOCAB,
        shuffle_buffer_size=50, num_shards=num_shards, shard_index=shard_index,
        num_workers=2 if shard_index == 1 else 1)
    assert stats["documents"] >= 1  # 5 documents: every shard gets some
    documents += stats["documents"]
    shard_records.append(_records(outputs))
  assert documents == whole_stats["documents"] == 5
  union = [record for records in shard_records for record in records]
  assert collections.Counter(union) == collections.Counter(_records(whole))
  if num_shards == 1:  # one shard is the unsharded run, byte for byte
    assert shard_records[0] == _records(whole)
  else:  # whole documents: no instance is made by two shards
    assert all(not set(a) & set(b) for i, a in enumerate(shard_records)
               for b in shard_records[i + 1:])


def test_shard_output_names_and_bad_shard_flags():
  assert cpd.shard_output_files(["out/a.tfrecord"], 1, 0) == ["out/a.tfrecord"]
  assert cpd.shard_output_files(["out/a.tfrecord", "b"], 3, 1) == [
      "out/a.tfrecord-00001-of-00003", "b-00001-of-00003"]
  for num_shards, shard_index, flag in ((0, 0, "--num_shards"),
                                        (2, 2, "--shard_index"),
                                        (2, -1, "--shard_index")):
    with pytest.raises(ValueError, match=flag):
      cpd.shard_output_files(["a"], num_shards, shard_index)


def test_script_shards_union_equals_unsharded_run(tmp_path, tokenizer):
  options = _options(dupe_factor=1)
  whole = str(tmp_path / "whole.tfrecord")
  cpd.create_pretraining_data([CORPUS], [whole], tokenizer, options,
                              vocab_file=VOCAB)
  output = str(tmp_path / "sharded.tfrecord")
  for shard_index in range(2):
    result = subprocess.run(
        [sys.executable, os.path.join(HERE, "create_pretraining_data.py"),
         "--input_file=" + CORPUS, "--output_file=" + output,
         "--vocab_file=" + VOCAB, "--max_seq_length=%d" % SEQ,
         "--max_predictions_per_seq=%d" % MAX_PRED, "--dupe_factor=1",
         "--num_shards=2", "--shard_index=%d" % shard_index],
        capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "shard %d of 2" % shard_index in result.stderr
  shards = [output + "-0000%d-of-00002" % i for i in range(2)]
  assert not os.path.exists(output)
  assert collections.Counter(_records(shards)) == collections.Counter(
      _records([whole]))
