# coding=utf-8
"""Reads the pretraining TFRecords written by create_pretraining_data.py.

The one definition of the pretraining features (names and shapes as albert_zh
and google-research/albert write them) and the tf.data pipeline that feeds
run_pretraining.py. The optional `token_boundary` feature is written by
create_pretraining_data.py but never required here, so files from the
original scripts read the same way.
"""

import tensorflow.compat.v1 as tf

INT_FEATURE_NAMES = ("input_ids", "input_mask", "segment_ids",
                     "masked_lm_positions", "masked_lm_ids",
                     "next_sentence_labels")


def pretraining_feature_spec(max_seq_length, max_predictions_per_seq,
                             with_token_boundary=False):
  """Returns the feature-name -> FixedLenFeature map of one instance.

  Args:
    max_seq_length: length of input_ids/input_mask/segment_ids.
    max_predictions_per_seq: length of the masked_lm_* features.
    with_token_boundary: also parse `token_boundary` (only files written by
      google-research/albert or by our create_pretraining_data.py have it).
  """
  spec = {
      "input_ids": tf.io.FixedLenFeature([max_seq_length], tf.int64),
      "input_mask": tf.io.FixedLenFeature([max_seq_length], tf.int64),
      "segment_ids": tf.io.FixedLenFeature([max_seq_length], tf.int64),
      "masked_lm_positions":
          tf.io.FixedLenFeature([max_predictions_per_seq], tf.int64),
      "masked_lm_ids":
          tf.io.FixedLenFeature([max_predictions_per_seq], tf.int64),
      "masked_lm_weights":
          tf.io.FixedLenFeature([max_predictions_per_seq], tf.float32),
      "next_sentence_labels": tf.io.FixedLenFeature([1], tf.int64),
  }
  if with_token_boundary:
    spec["token_boundary"] = tf.io.FixedLenFeature([max_seq_length], tf.int64)
  return spec


def decode_record(record, name_to_features):
  """Parses one serialized tf.train.Example; int64 features become int32.

  TPUs only support int32, and every id/position fits in it.
  """
  example = tf.io.parse_single_example(record, name_to_features)
  for name in list(example.keys()):
    if example[name].dtype == tf.int64:
      example[name] = tf.cast(example[name], tf.int32)
  return example


def make_pretraining_dataset(input_files, max_seq_length,
                             max_predictions_per_seq, is_training, batch_size,
                             num_cpu_threads=4, with_token_boundary=False,
                             seed=None, record_shard=None):
  """Builds the tf.data.Dataset of batched pretraining features.

  Training reads the files in a shuffled, repeating, interleaved order (as
  google's run_pretraining does); evaluation reads them once, in order.
  Batches always have exactly `batch_size` rows (TPUs need static shapes).

  Args:
    input_files: list of TFRecord file paths.
    max_seq_length: sequence length the files were written with.
    max_predictions_per_seq: masked_lm_* length the files were written with.
    is_training: shuffle and repeat when True.
    batch_size: rows per batch.
    num_cpu_threads: files read in parallel when training.
    with_token_boundary: also return `token_boundary` (see
      pretraining_feature_spec).
    seed: optional seed for the training shuffles (None: nondeterministic).
    record_shard: optional (num_shards, index): keep every num_shards-th
      record of each file, from the index-th (one input pipeline's share when
      there are fewer files than pipelines).

  Returns:
    A dataset of dicts with the features of pretraining_feature_spec.
  """
  if not input_files:
    raise ValueError("make_pretraining_dataset: input_files is empty; pass at "
                     "least one TFRecord file written by "
                     "create_pretraining_data.py")
  name_to_features = pretraining_feature_spec(
      max_seq_length, max_predictions_per_seq, with_token_boundary)

  def read_file(path):
    records = tf.data.TFRecordDataset(path)
    return records.shard(*record_shard) if record_shard else records

  if is_training:
    dataset = tf.data.Dataset.from_tensor_slices(tf.constant(input_files))
    dataset = dataset.repeat()
    dataset = dataset.shuffle(buffer_size=len(input_files), seed=seed)
    cycle_length = min(num_cpu_threads, len(input_files))
    dataset = dataset.interleave(
        read_file,
        cycle_length=cycle_length,
        num_parallel_calls=cycle_length,
        deterministic=seed is not None)
    dataset = dataset.shuffle(buffer_size=100, seed=seed)
  else:
    dataset = tf.data.Dataset.from_tensor_slices(
        tf.constant(input_files)).flat_map(read_file)

  dataset = dataset.map(
      lambda record: decode_record(record, name_to_features),
      num_parallel_calls=num_cpu_threads)
  return dataset.batch(batch_size, drop_remainder=True)


def read_pretraining_examples(input_files, max_seq_length,
                              max_predictions_per_seq,
                              with_token_boundary=False):
  """Yields every instance of the files, in order, as a dict of numpy arrays.

  Uses the same parser as training (decode_record) in a private graph, so it
  works whether or not eager execution is enabled. Meant for tests and for
  inspecting a file, not for training.
  """
  name_to_features = pretraining_feature_spec(
      max_seq_length, max_predictions_per_seq, with_token_boundary)
  with tf.Graph().as_default():
    dataset = tf.data.TFRecordDataset(list(input_files)).map(
        lambda record: decode_record(record, name_to_features))
    next_example = tf.data.make_one_shot_iterator(dataset).get_next()
    with tf.Session() as session:
      while True:
        try:
          yield session.run(next_example)
        except tf.errors.OutOfRangeError:
          return
