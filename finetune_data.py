# coding=utf-8
"""Task-agnostic fine-tuning data: record specs, fingerprinted caches, batches.

Every fine-tuning script (run_classifier, run_squad_v1/v2, run_race, run_ner)
turns its examples into *records*: plain dicts from feature name to a number
or a flat list of numbers. This module owns what happens after that:

  * `FeatureSpec` says which features a task's records carry and their shapes:
    scalars, fixed-length vectors, token sequences (padded per batch) and
    groups of sequences such as the choices of a multiple-choice question.
  * `prepare_features_file` streams records into a TFRecord cache named by a
    fingerprint of everything that decided them (`cache_fingerprint`), so a
    cache is rebuilt exactly when the data, vocabulary or settings change.
    A JSON sidecar, renamed into place last, carries the counts and whatever
    statistics the task collected while converting.
  * `input_fn_builder` batches a cache for the Estimator: with dynamic lengths
    every batch is padded only to its longest sequence (training batches come
    from length buckets), otherwise to max_seq_length (static shapes, TPUs).
"""

import dataclasses
import hashlib
import json
import os
from typing import Optional, Tuple

import tensorflow.compat.v1 as tf

import distribution
import estimator_utils
import gfile_utils

# Bump when the record layout or a conversion changes: old caches then miss.
CACHE_FORMAT_VERSION = 3


# ----------------------------------------------------------------------------
# Record specs.


@dataclasses.dataclass(frozen=True)
class Feature:
  """One field of a record.

  shape: () a scalar; (K,) a fixed-length vector; (None,) a token sequence,
    padded along its last axis; (C, None) C sequences of one example (the
    choices of a question), stored flattened row-major.
  dtype: "int" (int32 in the graph) or "float".
  """
  name: str
  shape: Tuple[Optional[int], ...] = ()
  dtype: str = "int"

  @property
  def is_sequence(self):
    return bool(self.shape) and self.shape[-1] is None

  @property
  def tf_dtype(self):
    return tf.float32 if self.dtype == "float" else tf.int32

  def padding_value(self):
    """The value of this feature in a padding record (TPU batch filler)."""
    if self.is_sequence:
      return [0] * (self.shape[0] if len(self.shape) == 2 else 1)
    if self.shape:
      return [0] * self.shape[0]
    return 0


BASE_SEQUENCE_FEATURES = (Feature("input_ids", (None,)),
                          Feature("input_mask", (None,)),
                          Feature("segment_ids", (None,)))
# Every record carries these: padding records are left out of metrics and
# outputs, and example_index puts length-sorted predictions back in order.
BOOKKEEPING_FEATURES = (Feature("is_real_example"), Feature("example_index"))


class FeatureSpec(object):
  """The features of a task's records; `length_key` drives length bucketing."""

  def __init__(self, features, length_key="input_ids"):
    names = [feature.name for feature in features]
    for feature in BOOKKEEPING_FEATURES:
      if feature.name not in names:
        features = list(features) + [feature]
    self.features = tuple(features)
    self.length_key = length_key
    if len(set(f.name for f in self.features)) != len(self.features):
      raise ValueError("FeatureSpec: duplicate feature names %s" % names)

  @classmethod
  def classifier(cls):
    """BERT's classifier records: three sequences and a scalar label."""
    return cls(BASE_SEQUENCE_FEATURES + (Feature("label_ids"),))

  def with_features(self, *more):
    return FeatureSpec(self.features + tuple(more), self.length_key)

  def __getitem__(self, name):
    for feature in self.features:
      if feature.name == name:
        return feature
    raise KeyError(name)

  @property
  def names(self):
    return [feature.name for feature in self.features]

  def padding_record(self):
    record = {f.name: f.padding_value() for f in self.features}
    record["is_real_example"] = 0
    return record

  def describe(self):
    """A JSON-able description, part of every cache fingerprint."""
    return [[f.name, list(f.shape), f.dtype] for f in self.features]


def _feature_proto(feature, value):
  values = value if isinstance(value, (list, tuple)) else [value]
  if feature.dtype == "float":
    return tf.train.Feature(float_list=tf.train.FloatList(value=values))
  return tf.train.Feature(int64_list=tf.train.Int64List(value=values))


def serialize_record(spec, record):
  """A record dict as a serialized tf.train.Example (missing bookkeeping
  features default to a real example at index 0)."""
  record = dict(record)
  record.setdefault("is_real_example", 1)
  record.setdefault("example_index", 0)
  missing = [name for name in spec.names if name not in record]
  if missing:
    raise ValueError("record lacks features %s (spec: %s)" %
                     (missing, spec.names))
  feature = {f.name: _feature_proto(f, record[f.name]) for f in spec.features}
  return tf.train.Example(features=tf.train.Features(
      feature=feature)).SerializeToString()


def record_length(spec, record):
  """Tokens per sequence of the record's length feature."""
  feature = spec[spec.length_key]
  values = record[feature.name]
  rows = feature.shape[0] if len(feature.shape) == 2 else 1
  return len(values) // rows


# ----------------------------------------------------------------------------
# Fingerprinted caches.


def _hash_file(digest, path):
  with tf.io.gfile.GFile(path, "rb") as f:
    for block in iter(lambda: f.read(1 << 20), b""):
      digest.update(block)


def cache_fingerprint(settings, files):
  """A hex digest of `settings` (a JSON-able dict) and the files' contents.

  Any change to the data or vocabulary contents, or to a setting that decides
  the records (casing, lengths, labels, padding, order), gives another
  fingerprint and so another cache file.
  """
  digest = hashlib.sha256()
  settings = dict(settings, cache_format_version=CACHE_FORMAT_VERSION)
  digest.update(json.dumps(settings, sort_keys=True).encode("utf-8"))
  for path in files:
    if path:
      digest.update(("\0file:%s\0" % os.path.basename(path)).encode("utf-8"))
      _hash_file(digest, path)
  return digest.hexdigest()[:20]


@dataclasses.dataclass
class FeaturesFile:
  """A complete cache: its records and what was counted while making them."""
  path: str
  num_records: int
  num_real_records: int
  from_cache: bool
  stats: dict = dataclasses.field(default_factory=dict)


def _cache_paths(cache_dir, name, fingerprint):
  base = os.path.join(cache_dir, "%s.%s.tf_record" % (name, fingerprint))
  return base, base + ".json"


def _remove_stale_caches(cache_dir, name, keep):
  for path in tf.io.gfile.glob(os.path.join(cache_dir,
                                            "%s.*.tf_record*" % name)):
    if not path.startswith(keep):
      tf.logging.info("Removing stale feature cache %s", path)
      tf.io.gfile.remove(path)


def _load_cache(record_path, meta_path):
  with tf.io.gfile.GFile(meta_path, "r") as f:
    meta = json.load(f)
  tf.logging.info("Using cached features %s (%d records)", record_path,
                  meta["num_records"])
  return FeaturesFile(record_path, meta["num_records"],
                      meta["num_real_records"], True, meta.get("stats", {}))


def _numbered(records, log_name, log_every=10000):
  """Gives each record its example_index unless set; logs progress."""
  for index, record in enumerate(records):
    if index and index % log_every == 0:
      tf.logging.info("Converting %s: %d records", log_name, index)
    record.setdefault("example_index", index)
    yield record


def prepare_features_file(records_fn, spec, fingerprint, cache_dir, name,
                          pad_to_multiple=1, sort_by_length=False):
  """Returns the FeaturesFile of `name`, converting only on a cache miss.

  Args:
    records_fn: records_fn(stats) -> iterable of record dicts; called only on
      a miss. Records are written as they come (memory stays flat however big
      the data set); whatever it stores in the dict `stats` is kept in the
      sidecar and returned with the cache. A record without example_index
      gets its position.
    spec: the FeatureSpec of the records.
    fingerprint: from cache_fingerprint().
    cache_dir: where caches live (a script's output_dir).
    name: names the file, e.g. "train" or "dev".
    pad_to_multiple: append padding records (is_real_example = 0) up to this
      multiple (TPU eval/predict need full batches).
    sort_by_length: write records shortest first (stable), so consecutive
      eval/predict batches pad little; example_index restores input order.
      Only the serialized records are held in memory for the sort.

  The record file is written under a temporary name and renamed; the sidecar
  is renamed last, so a cache is complete exactly when its sidecar exists.
  """
  record_path, meta_path = _cache_paths(cache_dir, name, fingerprint)
  if tf.io.gfile.exists(meta_path) and tf.io.gfile.exists(record_path):
    return _load_cache(record_path, meta_path)
  tf.io.gfile.makedirs(cache_dir)
  stats = {}
  num_real = 0
  with gfile_utils.atomic_path(record_path) as tmp_path:
    held = []
    with tf.io.TFRecordWriter(tmp_path) as writer:
      for record in _numbered(records_fn(stats), name):
        serialized = serialize_record(spec, record)
        num_real += 1
        if sort_by_length:
          held.append((record_length(spec, record), serialized))
        else:
          writer.write(serialized)
      held.sort(key=lambda item: item[0])
      for _, serialized in held:
        writer.write(serialized)
      num_padding = (-num_real) % pad_to_multiple
      padding = serialize_record(spec, spec.padding_record())
      for _ in range(num_padding):
        writer.write(padding)
  meta = dict(num_records=num_real + num_padding, num_real_records=num_real,
              fingerprint=fingerprint, stats=stats)
  gfile_utils.write_json(meta_path, meta)
  _remove_stale_caches(cache_dir, name, keep=record_path)
  tf.logging.info("Wrote %d %s records to %s", num_real + num_padding, name,
                  record_path)
  return FeaturesFile(record_path, num_real + num_padding, num_real, False,
                      stats)


# ----------------------------------------------------------------------------
# Input functions.


def default_bucket_boundaries(max_seq_length):
  """Length buckets for training: fine steps for short texts, coarser later."""
  candidates = [16, 24, 32, 40, 48, 64, 80, 96, 128, 160, 192, 256, 320, 384,
                448]
  return [b for b in candidates if b < max_seq_length]


def decode_fn(spec):
  """Parses a serialized record into tensors of the spec's shapes (int32 for
  integers: TPUs lack int64 support)."""
  parse_spec = {}
  for f in spec.features:
    dtype = tf.float32 if f.dtype == "float" else tf.int64
    if f.is_sequence:
      parse_spec[f.name] = tf.io.FixedLenSequenceFeature(
          [], dtype, allow_missing=True)
    else:
      parse_spec[f.name] = tf.io.FixedLenFeature(list(f.shape), dtype)

  def decode(serialized):
    parsed = tf.io.parse_single_example(serialized, parse_spec)
    decoded = {}
    for f in spec.features:
      value = tf.cast(parsed[f.name], f.tf_dtype)
      if f.is_sequence and len(f.shape) == 2:
        value = tf.reshape(value, [f.shape[0], -1])
      decoded[f.name] = value
    return decoded

  return decode


def _padded_shapes(spec):
  return {f.name: list(f.shape) for f in spec.features}


def _pad_to_fixed_length(spec, max_seq_length):
  def pad(features):
    padded = dict(features)
    for f in spec.features:
      if f.is_sequence:
        value = features[f.name][..., :max_seq_length]
        paddings = [[0, 0]] * (len(f.shape) - 1) + [
            [0, max_seq_length - tf.shape(value)[-1]]]
        padded[f.name] = tf.reshape(tf.pad(value, paddings),
                                    list(f.shape[:-1]) + [max_seq_length])
    return padded
  return pad


def batch_dataset(dataset, spec, batch_size, is_training, drop_remainder,
                  max_seq_length, dynamic_length=True, bucket_boundaries=None):
  """Batches decoded records.

  dynamic_length: training draws each batch from one length bucket; eval and
  predict keep file order (written sorted by length where that pays). Either
  way a batch is padded to its longest sequence. Otherwise every sequence is
  padded to max_seq_length (static shapes).
  """
  if not dynamic_length:
    dataset = dataset.map(_pad_to_fixed_length(spec, max_seq_length))
    return dataset.batch(batch_size, drop_remainder=drop_remainder)
  if not is_training:
    return dataset.padded_batch(batch_size, padded_shapes=_padded_shapes(spec),
                                drop_remainder=drop_remainder)
  boundaries = (bucket_boundaries if bucket_boundaries is not None
                else default_bucket_boundaries(max_seq_length))
  return dataset.bucket_by_sequence_length(
      element_length_func=lambda features: tf.shape(
          features[spec.length_key])[-1],
      bucket_boundaries=boundaries,
      bucket_batch_sizes=[batch_size] * (len(boundaries) + 1),
      padded_shapes=_padded_shapes(spec),
      drop_remainder=drop_remainder)


def records_per_step(batch_size, input_context=None):
  """Records one input pipeline yields per training step: its replicas'
  batches (batch_size is per replica)."""
  if input_context is None:
    return batch_size
  return (batch_size * input_context.num_replicas_in_sync //
          input_context.num_input_pipelines)


def features_dataset(input_file, spec, batch_size, max_seq_length, is_training,
                     drop_remainder, dynamic_length=True,
                     bucket_boundaries=None, shuffle_buffer=10000,
                     input_context=None, start_step=0):
  """A batched dataset over a features file.

  Args:
    input_context: a tf.distribute.InputContext when several input pipelines
      feed a MirroredStrategy; each then reads its own shard of the records.
    start_step: training resumes at this global step. The shuffled stream
      (the same for every call: the Estimator seeds it) skips the records
      the steps before it consumed, so training in rounds, or resumed after a
      kill, reads on through the data instead of starting it again.
  """
  files, record_shard = distribution.shard_files_or_records([input_file],
                                                           input_context)
  dataset = tf.data.TFRecordDataset(files)
  if record_shard:
    dataset = dataset.shard(*record_shard)
  if is_training:
    dataset = dataset.repeat().shuffle(buffer_size=shuffle_buffer)
    if start_step:
      dataset = dataset.skip(start_step *
                             records_per_step(batch_size, input_context))
  dataset = dataset.map(decode_fn(spec),
                        num_parallel_calls=tf.data.experimental.AUTOTUNE)
  dataset = batch_dataset(dataset, spec, batch_size, is_training,
                          drop_remainder, max_seq_length, dynamic_length,
                          bucket_boundaries)
  return dataset.prefetch(tf.data.experimental.AUTOTUNE)


def input_fn_builder(input_file, spec, max_seq_length, is_training,
                     drop_remainder, dynamic_length=True,
                     bucket_boundaries=None, shuffle_buffer=10000,
                     start_step=0):
  """An Estimator input_fn over a features file (batch size from params,
  split between MirroredStrategy replicas; start_step: see
  features_dataset)."""

  def dataset_fn(batch_size, input_context):
    return features_dataset(input_file, spec, batch_size, max_seq_length,
                            is_training, drop_remainder, dynamic_length,
                            bucket_boundaries, shuffle_buffer, input_context,
                            start_step)

  return estimator_utils.input_fn_from_dataset_fn(dataset_fn)
