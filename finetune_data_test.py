# coding=utf-8
"""Tests for finetune_data: record specs, fingerprinted streaming caches and
length-bucketed batches (sequences and groups of sequences)."""

import os

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

import finetune_data
from finetune_data import Feature, FeatureSpec


def _write(path, text):
  with open(path, "w", encoding="utf-8") as f:
    f.write(text)
  return str(path)


def _read_records(path):
  return [tf.train.Example.FromString(r)
          for r in tf.io.tf_record_iterator(path)]


def _ints(example, name):
  return list(example.features.feature[name].int64_list.value)


def _sequence_record(index, length):
  return dict(input_ids=[index + 1] * length, input_mask=[1] * length,
              segment_ids=[0] * length, label_ids=index % 2,
              example_index=index)


# ---------------------------------------------------------------------------
# Caches


def _fingerprint(data_file, vocab_file, **overrides):
  settings = dict(task="lcqmc", split="train", labels=["0", "1"],
                  max_seq_length=32)
  settings.update(overrides)
  return finetune_data.cache_fingerprint(settings, [data_file, vocab_file])


def test_fingerprint_changes_with_every_input(tmp_path):
  data_file = _write(tmp_path / "train.txt", "我\t你\t1\n")
  vocab_file = _write(tmp_path / "vocab.txt", "[PAD]\n我\n")
  base = _fingerprint(data_file, vocab_file)
  assert base == _fingerprint(data_file, vocab_file)
  variants = [
      _fingerprint(data_file, vocab_file, max_seq_length=64),
      _fingerprint(data_file, vocab_file, task="afqmc"),
      _fingerprint(data_file, vocab_file, labels=["1", "0"]),
  ]
  _write(data_file, "我\t你\t0\n")
  variants.append(_fingerprint(data_file, vocab_file))
  _write(vocab_file, "[PAD]\n我\n新\n")
  variants.append(_fingerprint(data_file, vocab_file))
  assert len(set(variants + [base])) == len(variants) + 1


def test_cache_is_reused_then_rebuilt_and_keeps_stats(tmp_path):
  spec = FeatureSpec.classifier()
  cache_dir = str(tmp_path / "cache")
  calls = []

  def records(count):
    def make(stats):
      calls.append(count)
      stats["num_truncated"] = 7
      return (_sequence_record(i, 3 + i) for i in range(count))
    return make

  first = finetune_data.prepare_features_file(records(2), spec, "fp1",
                                              cache_dir, "train")
  assert (first.num_records, first.from_cache, calls) == (2, False, [2])
  assert first.stats == {"num_truncated": 7}
  examples = _read_records(first.path)
  assert _ints(examples[1], "input_ids") == [2, 2, 2, 2]
  assert _ints(examples[1], "label_ids") == [1]
  assert _ints(examples[0], "is_real_example") == [1]

  second = finetune_data.prepare_features_file(records(2), spec, "fp1",
                                               cache_dir, "train")
  assert (second.path, second.from_cache, calls) == (first.path, True, [2])
  assert second.stats == {"num_truncated": 7}

  third = finetune_data.prepare_features_file(records(3), spec, "fp2",
                                              cache_dir, "train")
  assert (third.num_records, third.from_cache, calls) == (3, False, [2, 3])
  # The stale cache of the same name is gone; no temporary files remain.
  assert sorted(os.listdir(cache_dir)) == sorted(
      [os.path.basename(third.path), os.path.basename(third.path) + ".json"])


def test_failed_conversion_leaves_no_cache(tmp_path):
  def records(stats):
    yield _sequence_record(0, 3)
    raise ValueError("bad row")

  with pytest.raises(ValueError, match="bad row"):
    finetune_data.prepare_features_file(records, FeatureSpec.classifier(),
                                        "fp", str(tmp_path), "train")
  assert os.listdir(tmp_path) == []


def test_sorted_cache_keeps_example_index(tmp_path):
  lengths = [4, 1, 2, 3, 1]
  result = finetune_data.prepare_features_file(
      lambda stats: (dict(_sequence_record(i, n), example_index=i)
                     for i, n in enumerate(lengths)),
      FeatureSpec.classifier(), "fp", str(tmp_path), "test",
      sort_by_length=True)
  records = _read_records(result.path)
  assert [len(_ints(r, "input_ids")) for r in records] == [1, 1, 2, 3, 4]
  # Stable: the two length-1 records keep their relative order.
  assert [_ints(r, "example_index")[0] for r in records] == [1, 4, 2, 3, 0]


def test_padded_cache_marks_fake_records(tmp_path):
  result = finetune_data.prepare_features_file(
      lambda stats: (_sequence_record(i, 2) for i in range(3)),
      FeatureSpec.classifier(), "fp", str(tmp_path), "dev", pad_to_multiple=4)
  assert (result.num_records, result.num_real_records) == (4, 3)
  real = [_ints(r, "is_real_example")[0] for r in _read_records(result.path)]
  assert real == [1, 1, 1, 0]


def test_record_missing_a_feature_is_named(tmp_path):
  with pytest.raises(ValueError, match="label_ids"):
    finetune_data.prepare_features_file(
        lambda stats: [dict(input_ids=[1], input_mask=[1], segment_ids=[0])],
        FeatureSpec.classifier(), "fp", str(tmp_path), "train")


# ---------------------------------------------------------------------------
# Batching


def _write_records(tmp_path, spec, records):
  path = str(tmp_path / "records.tf_record")
  with tf.io.TFRecordWriter(path) as writer:
    for record in records:
      writer.write(finetune_data.serialize_record(spec, record))
  return path


def _batches(input_fn, batch_size, count, input_context=None):
  with tf.Graph().as_default():
    tf.set_random_seed(12345)  # as the Estimator's tf_random_seed does
    dataset = input_fn({"batch_size": batch_size},
                       input_context=input_context)
    next_batch = tf.data.make_one_shot_iterator(dataset).get_next()
    with tf.Session() as sess:
      results = []
      for _ in range(count):
        try:
          results.append(sess.run(next_batch))
        except tf.errors.OutOfRangeError:
          break
      return results


def _length_file(tmp_path, lengths):
  spec = FeatureSpec.classifier()
  return spec, _write_records(tmp_path, spec, [
      _sequence_record(i, n) for i, n in enumerate(lengths)])


def test_predict_batches_keep_order_and_pad_to_longest(tmp_path):
  spec, path = _length_file(tmp_path, [3, 9, 4, 5, 30])
  input_fn = finetune_data.input_fn_builder(path, spec, 64, is_training=False,
                                            drop_remainder=False)
  batches = _batches(input_fn, 2, 10)
  assert [b["input_ids"].shape for b in batches] == [(2, 9), (2, 5), (1, 30)]
  firsts = np.concatenate([b["input_ids"][:, 0] for b in batches])
  np.testing.assert_array_equal(firsts, [1, 2, 3, 4, 5])
  np.testing.assert_array_equal(
      np.concatenate([b["example_index"] for b in batches]), [0, 1, 2, 3, 4])
  np.testing.assert_array_equal(batches[0]["input_mask"][0],
                                [1, 1, 1] + [0] * 6)
  assert batches[0]["input_ids"].dtype == np.int32


def test_training_batches_come_from_one_length_bucket(tmp_path):
  lengths = [5, 6, 7, 8] * 8 + [60, 61, 62, 63] * 8
  spec, path = _length_file(tmp_path, lengths)
  input_fn = finetune_data.input_fn_builder(
      path, spec, 64, is_training=True, drop_remainder=True,
      bucket_boundaries=[16, 32], shuffle_buffer=64)
  for batch in _batches(input_fn, 4, 12):
    real_lengths = batch["input_mask"].sum(axis=1)
    # All short or all long: never a short example padded to 63.
    assert real_lengths.max() < 16 or real_lengths.min() >= 32
    assert batch["input_ids"].shape[1] == real_lengths.max()


@pytest.mark.parametrize("replicas", [1, 2])
def test_training_resumed_at_a_step_reads_on_through_the_data(tmp_path,
                                                              replicas):
  # 40 records, 4 per replica batch: a round that starts at step 3 must get
  # the batches an uninterrupted run gets from step 3 on, not the first ones
  # again (two replicas of one pipeline take two batches a step).
  spec, path = _length_file(tmp_path, [4 + i % 5 for i in range(40)])
  context = None
  if replicas > 1:
    context = tf.distribute.InputContext(num_input_pipelines=1,
                                         input_pipeline_id=0,
                                         num_replicas_in_sync=replicas)

  def stream(start_step, count):
    input_fn = finetune_data.input_fn_builder(
        path, spec, 16, is_training=True, drop_remainder=True,
        dynamic_length=False, shuffle_buffer=40, start_step=start_step)
    return [b["example_index"].tolist()
            for b in _batches(input_fn, 4, count, context)]

  uninterrupted = stream(0, 3 * replicas + 4)
  assert stream(3, 4) == uninterrupted[3 * replicas:]
  assert stream(0, 4) != stream(3, 4)


def test_fixed_length_batches_are_static(tmp_path):
  spec, path = _length_file(tmp_path, [3, 40])
  input_fn = finetune_data.input_fn_builder(
      path, spec, 32, is_training=False, drop_remainder=True,
      dynamic_length=False)
  with tf.Graph().as_default():
    shapes = tf.data.get_output_shapes(input_fn({"batch_size": 2}))
    assert shapes["input_ids"].as_list() == [2, 32]
  batch = _batches(input_fn, 2, 1)[0]
  # Longer than max_seq_length is cut, shorter padded.
  assert batch["input_mask"].sum(axis=1).tolist() == [3, 32]


def _choice_spec():
  return FeatureSpec([Feature("input_ids", (3, None)),
                      Feature("choice_mask", (3,)),
                      Feature("score", (), "float"),
                      Feature("tags", (None,))])


def _choice_record(index, length):
  ids = [[index * 10 + c + 1] * length for c in range(3)]
  return dict(input_ids=sum(ids, []), choice_mask=[1, 1, 0],
              score=0.5 * index, tags=[7] * (length + 1), example_index=index)


def test_choice_groups_are_padded_per_batch_and_keep_their_rows(tmp_path):
  spec = _choice_spec()
  path = _write_records(tmp_path, spec, [_choice_record(0, 2),
                                         _choice_record(1, 5)])
  input_fn = finetune_data.input_fn_builder(path, spec, 16, is_training=False,
                                            drop_remainder=False)
  batch = _batches(input_fn, 2, 1)[0]
  assert batch["input_ids"].shape == (2, 3, 5)
  np.testing.assert_array_equal(batch["input_ids"][0, 1], [2, 2, 0, 0, 0])
  np.testing.assert_array_equal(batch["input_ids"][1, 2], [13] * 5)
  np.testing.assert_array_equal(batch["choice_mask"], [[1, 1, 0]] * 2)
  np.testing.assert_allclose(batch["score"], [0.0, 0.5])
  assert batch["score"].dtype == np.float32
  assert batch["tags"].shape == (2, 6)

  fixed = finetune_data.input_fn_builder(path, spec, 8, is_training=False,
                                         drop_remainder=True,
                                         dynamic_length=False)
  batch = _batches(fixed, 2, 1)[0]
  assert batch["input_ids"].shape == (2, 3, 8)
  np.testing.assert_array_equal(batch["input_ids"][0, 0], [1, 1] + [0] * 6)


def test_choice_training_batches_bucket_by_sequence_length(tmp_path):
  spec = _choice_spec()
  lengths = [3, 4] * 8 + [40, 41] * 8
  path = _write_records(tmp_path, spec, [_choice_record(i, n)
                                         for i, n in enumerate(lengths)])
  input_fn = finetune_data.input_fn_builder(
      path, spec, 64, is_training=True, drop_remainder=True,
      bucket_boundaries=[16], shuffle_buffer=32)
  for batch in _batches(input_fn, 4, 8):
    # One bucket per batch: all short (3-4 tokens) or all long (40-41).
    assert batch["input_ids"].shape[2] in (3, 4, 40, 41)
    real = batch["input_ids"][:, 0, :].astype(bool).sum(axis=1)
    assert real.max() < 16 or real.min() >= 32


def test_padding_record_matches_the_spec(tmp_path):
  spec = _choice_spec()
  result = finetune_data.prepare_features_file(
      lambda stats: [_choice_record(0, 2)], spec, "fp", str(tmp_path), "dev",
      pad_to_multiple=2)
  input_fn = finetune_data.input_fn_builder(result.path, spec, 16, False,
                                            False)
  batch = _batches(input_fn, 2, 1)[0]
  np.testing.assert_array_equal(batch["is_real_example"], [1, 0])
  assert batch["input_ids"].shape == (2, 3, 2)


def test_default_bucket_boundaries_stay_below_max_length():
  assert finetune_data.default_bucket_boundaries(64) == [16, 24, 32, 40, 48]
  assert finetune_data.default_bucket_boundaries(16) == []
