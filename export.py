# coding=utf-8
"""Exports for serving and reuse: a classifier SavedModel and a TF-Hub module.

* `export_classifier`: a SavedModel (tag "serve") for TF Serving whose
  `serving_default` signature maps int32 `input_ids`, `input_mask`,
  `segment_ids` [batch, seq] (any seq up to max_position_embeddings) to
  `probabilities` and `logits` [batch, num_labels]. It is written to
  `<export_base>/<global_step>/`, the versioned layout TF Serving scans.
  `assets.extra/` holds what a client needs to build inputs -- the vocab (or
  SentencePiece model) and `classifier_info.json` (labels, do_lower_case,
  max_seq_length) -- which similarity.py reads.
* `export_hub_module`: the pretrained encoder in TF1 Hub format (tensorflow_hub
  0.15, as google-research/albert publishes), with signatures
    tokens:  input_ids, input_mask, segment_ids -> pooled_output,
             sequence_output
    mlm:     the same plus mlm_positions [batch, P] -> also mlm_logits
             [batch * P, vocab_size] (google's layout of this output)
    tokenization_info: -> vocab_file, spm_model_file (asset paths, "" when
             unused) and do_lower_case
  and graph variants for tags {"train"} (dropout on) and {} (off). Both
  run_classifier.py --albert_hub_module_handle and hub.Module load it.

Everything is written under a temporary name and renamed when complete.
"""

import json
import os
import shutil

import tensorflow.compat.v1 as tf

import classifier_model
import modeling

CLASSIFIER_INFO_FILE = "classifier_info.json"
_SIGNATURE_INPUTS = ("input_ids", "input_mask", "segment_ids")
# Variables the mlm signature needs; a fine-tuned checkpoint lacks them.
_MLM_VARIABLE = "cls/predictions/output_bias"


def _input_placeholders():
  return [tf.placeholder(tf.int32, [None, None], name=name)
          for name in _SIGNATURE_INPUTS]


def _move_into_place(tmp_path, final_path):
  if tf.io.gfile.exists(final_path):
    shutil.rmtree(final_path)
  tf.io.gfile.rename(tmp_path, final_path)


def _fresh_dir(path):
  if tf.io.gfile.exists(path):
    shutil.rmtree(path)
  return path


def export_classifier(albert_config, checkpoint_path, label_list, export_base,
                      vocab_files, do_lower_case, max_seq_length,
                      hub_module_handle=None):
  """Writes the fine-tuned classifier as a SavedModel; returns its directory.

  Args:
    albert_config: the encoder's config (unused with hub_module_handle).
    checkpoint_path: a checkpoint of run_classifier.py.
    label_list: label strings in id order.
    export_base: the version directory is created below it.
    vocab_files: [vocab_file, spm_model_file] (either may be None).
    do_lower_case, max_seq_length: tokenization settings, for clients.
    hub_module_handle: when the classifier was fine-tuned from a hub module.
  """
  step = int(tf.train.load_variable(checkpoint_path, "global_step"))
  final_dir = os.path.join(export_base, str(step))
  tmp_dir = _fresh_dir(final_dir + ".tmp")
  with tf.Graph().as_default():
    input_ids, input_mask, segment_ids = _input_placeholders()
    _, _, logits, probabilities = classifier_model.create_model(
        albert_config, False, input_ids, input_mask, segment_ids, None,
        len(label_list), hub_module_handle=hub_module_handle)
    saver = tf.train.Saver(tf.global_variables())
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      saver.restore(sess, checkpoint_path)
      signature = tf.saved_model.signature_def_utils.predict_signature_def(
          inputs=dict(input_ids=input_ids, input_mask=input_mask,
                      segment_ids=segment_ids),
          outputs=dict(probabilities=probabilities, logits=logits))
      builder = tf.saved_model.builder.SavedModelBuilder(tmp_dir)
      builder.add_meta_graph_and_variables(
          sess, [tf.saved_model.tag_constants.SERVING],
          signature_def_map={
              tf.saved_model.signature_constants
              .DEFAULT_SERVING_SIGNATURE_DEF_KEY: signature},
          strip_default_attrs=True)
      builder.save()
  _write_client_assets(tmp_dir, label_list, vocab_files, do_lower_case,
                       max_seq_length, checkpoint_path)
  _move_into_place(tmp_dir, final_dir)
  tf.logging.info("Exported the classifier SavedModel to %s", final_dir)
  return final_dir


def _write_client_assets(saved_model_dir, label_list, vocab_files,
                         do_lower_case, max_seq_length, checkpoint_path):
  extra_dir = os.path.join(saved_model_dir, "assets.extra")
  tf.io.gfile.makedirs(extra_dir)
  copied = []
  for path in vocab_files:
    if path:
      target = os.path.join(extra_dir, os.path.basename(path))
      tf.io.gfile.copy(path, target, overwrite=True)
      copied.append(os.path.basename(path))
    else:
      copied.append(None)
  info = dict(labels=list(label_list), do_lower_case=bool(do_lower_case),
              max_seq_length=int(max_seq_length), vocab_file=copied[0],
              spm_model_file=copied[1], checkpoint=checkpoint_path)
  with tf.io.gfile.GFile(os.path.join(extra_dir, CLASSIFIER_INFO_FILE),
                         "w") as f:
    json.dump(info, f, ensure_ascii=False, indent=2)


def latest_saved_model(path):
  """`path` itself if it is a SavedModel, else its highest numbered version."""
  if tf.io.gfile.exists(os.path.join(path, "saved_model.pb")):
    return path
  versions = [name for name in (tf.io.gfile.listdir(path)
                                if tf.io.gfile.isdir(path) else [])
              if name.strip("/").isdigit() and tf.io.gfile.exists(
                  os.path.join(path, name, "saved_model.pb"))]
  if not versions:
    raise ValueError("%s is neither a SavedModel nor a directory of numbered "
                     "SavedModel versions (run_classifier.py --export_dir "
                     "writes <export_dir>/classifier/<step>/)." % path)
  return os.path.join(path, max(versions, key=lambda v: int(v.strip("/"))))


# ----------------------------------------------------------------------------
# TF-Hub module of the pretrained encoder.


def check_hub_checkpoint(checkpoint_path):
  """Raises ValueError unless the checkpoint has the MLM head the module needs."""
  names = {name for name, _ in tf.train.list_variables(checkpoint_path)}
  if _MLM_VARIABLE not in names:
    raise ValueError(
        "%s has no %s: the TF-Hub module's mlm signature needs the pretraining "
        "heads. Export from a pretraining checkpoint (a released albert_zh "
        "model or run_pretraining.py output), not a fine-tuned one." %
        (checkpoint_path, _MLM_VARIABLE))


def _hub_module_fn(albert_config, vocab_file, do_lower_case, spm_model_file):
  """The module_fn for hub.create_module_spec."""
  # Imported here: only exports and hub fine-tuning need tensorflow_hub.
  import tensorflow_hub as hub  # pylint: disable=g-import-not-at-top

  def module_fn(is_training):
    input_ids, input_mask, segment_ids = _input_placeholders()
    mlm_positions = tf.placeholder(tf.int32, [None, None], name="mlm_positions")
    model = modeling.AlbertModel(
        config=albert_config, is_training=is_training, input_ids=input_ids,
        input_mask=input_mask, token_type_ids=segment_ids)
    mlm_logits = modeling.masked_lm_logits(albert_config, model, mlm_positions)
    inputs = dict(input_ids=input_ids, input_mask=input_mask,
                  segment_ids=segment_ids)
    outputs = dict(pooled_output=model.get_pooled_output(),
                   sequence_output=model.get_sequence_output())
    hub.add_signature("tokens", inputs=inputs, outputs=outputs)
    hub.add_signature("mlm", inputs=dict(inputs, mlm_positions=mlm_positions),
                      outputs=dict(outputs, mlm_logits=mlm_logits))
    asset_paths = {}
    for key, path in (("vocab_file", vocab_file),
                      ("spm_model_file", spm_model_file)):
      # Asset paths are rewritten to the module's copy when it is loaded.
      asset_paths[key] = tf.constant(path or "")
      if path:
        tf.add_to_collection(tf.GraphKeys.ASSET_FILEPATHS, asset_paths[key])
    hub.add_signature("tokenization_info", inputs={}, outputs=dict(
        asset_paths, do_lower_case=tf.constant(bool(do_lower_case))))

  return module_fn


def export_hub_module(albert_config, checkpoint_path, export_path, vocab_file,
                      do_lower_case, spm_model_file=None):
  """Writes the pretrained encoder at `checkpoint_path` (a checkpoint prefix
  or a directory, whose latest checkpoint is used) as a TF-Hub module."""
  import tensorflow_hub as hub  # pylint: disable=g-import-not-at-top
  if tf.io.gfile.isdir(checkpoint_path):
    checkpoint_path = tf.train.latest_checkpoint(checkpoint_path)
  check_hub_checkpoint(checkpoint_path)
  spec = hub.create_module_spec(
      _hub_module_fn(albert_config, vocab_file, do_lower_case, spm_model_file),
      tags_and_args=[({"train"}, dict(is_training=True)),
                     (set(), dict(is_training=False))])
  tmp_path = _fresh_dir(export_path + ".tmp")
  spec.export(tmp_path, checkpoint_path=checkpoint_path)
  _move_into_place(tmp_path, export_path)
  tf.logging.info("Exported the TF-Hub module to %s", export_path)
  return export_path


def hub_tokenization_info(hub_module_handle):
  """{"vocab_file", "spm_model_file" (None if unused), "do_lower_case"}."""
  import tensorflow_hub as hub  # pylint: disable=g-import-not-at-top
  with tf.Graph().as_default():
    module = hub.Module(hub_module_handle)
    info = module(signature="tokenization_info", as_dict=True)
    with tf.Session() as sess:
      values = sess.run(info)
  decode = lambda v: v.decode("utf-8") or None
  return dict(vocab_file=decode(values["vocab_file"]),
              spm_model_file=decode(values["spm_model_file"]),
              do_lower_case=bool(values["do_lower_case"]))
