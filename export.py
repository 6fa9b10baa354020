# coding=utf-8
"""Exports for serving and reuse: task SavedModels and a TF-Hub module.

* `export_saved_model`: any fine-tuned head as a SavedModel (tag "serve") for
  TF Serving, written to `<export_base>/<global_step>/` (the versioned layout
  TF Serving scans). Its `serving_default` signature is whatever the task's
  build function returns (int32 `input_ids`, `input_mask`, `segment_ids`
  [batch, seq] in, the head's outputs out). `assets.extra/` holds what a
  client needs to build inputs: the vocab (or SentencePiece model) and an
  info JSON (labels, casing, lengths). `SavedModelRunner` loads one for
  serving (the task predictors build on it).
* `export_classifier`: run_classifier's SavedModel (probabilities and logits
  [batch, num_labels], `classifier_info.json`), read by similarity.py.
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

import numpy as np
import tensorflow.compat.v1 as tf

import classifier_model
import estimator_utils
import gfile_utils
import modeling
import tokenization

CLASSIFIER_INFO_FILE = "classifier_info.json"
MODEL_INFO_FILE = "model_info.json"
_SIGNATURE_INPUTS = ("input_ids", "input_mask", "segment_ids")
# Variables the mlm signature needs; a fine-tuned checkpoint lacks them.
_MLM_VARIABLE = "cls/predictions/output_bias"


def input_placeholders():
  """int32 input_ids, input_mask, segment_ids placeholders [batch, seq]."""
  return [tf.placeholder(tf.int32, [None, None], name=name)
          for name in _SIGNATURE_INPUTS]


def export_saved_model(build_fn, checkpoint_path, export_base, info,
                       vocab_files, info_file=MODEL_INFO_FILE):
  """Writes a fine-tuned model as a SavedModel for serving; returns its dir.

  Args:
    build_fn: build_fn() builds the serving graph (inference mode) and returns
      (inputs, outputs): dicts of tensors for the `serving_default` signature.
    checkpoint_path: the fine-tuned checkpoint whose variables are saved.
    export_base: the version directory `<global_step>/` (the layout TF Serving
      scans) is created below it.
    info: a JSON-able dict of what a client needs (labels, tokenization
      settings, lengths); written to assets.extra/<info_file> with the names of
      the vocab copies and the checkpoint.
    vocab_files: [vocab_file, spm_model_file] (either may be None), copied to
      assets.extra/.
  """
  step = estimator_utils.checkpoint_global_step(checkpoint_path)
  final_dir = os.path.join(export_base, str(step))
  tmp_dir = gfile_utils.temporary_dir(final_dir)
  gfile_utils.remove_tree(tmp_dir)
  with tf.Graph().as_default():
    inputs, outputs = build_fn()
    saver = tf.train.Saver(tf.global_variables())
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      saver.restore(sess, checkpoint_path)
      signature = tf.saved_model.signature_def_utils.predict_signature_def(
          inputs=inputs, outputs=outputs)
      builder = tf.saved_model.builder.SavedModelBuilder(tmp_dir)
      builder.add_meta_graph_and_variables(
          sess, [tf.saved_model.tag_constants.SERVING],
          signature_def_map={
              tf.saved_model.signature_constants
              .DEFAULT_SERVING_SIGNATURE_DEF_KEY: signature},
          strip_default_attrs=True)
      builder.save()
  _write_client_assets(tmp_dir, info, vocab_files, checkpoint_path, info_file)
  gfile_utils.replace_dir(tmp_dir, final_dir, last=("saved_model.pb",))
  tf.logging.info("Exported the SavedModel to %s", final_dir)
  return final_dir


def _write_client_assets(saved_model_dir, info, vocab_files, checkpoint_path,
                         info_file):
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
  info = dict(info, vocab_file=copied[0], spm_model_file=copied[1],
              checkpoint=checkpoint_path)
  gfile_utils.write_json(os.path.join(extra_dir, info_file), info, indent=2)


def export_classifier(albert_config, checkpoint_path, label_list, export_base,
                      vocab_files, do_lower_case, max_seq_length,
                      hub_module_handle=None, is_pair=None):
  """Writes the fine-tuned classifier as a SavedModel; returns its directory.

  Its signature maps input_ids, input_mask, segment_ids to probabilities and
  logits [batch, num_labels]; assets.extra/classifier_info.json has labels,
  do_lower_case, max_seq_length and is_pair (whether the model classifies text
  pairs; None when unknown), read by similarity.py.
  """

  def build():
    input_ids, input_mask, segment_ids = input_placeholders()
    _, _, logits, probabilities = classifier_model.create_model(
        albert_config, False, input_ids, input_mask, segment_ids, None,
        len(label_list), hub_module_handle=hub_module_handle)
    return (dict(input_ids=input_ids, input_mask=input_mask,
                 segment_ids=segment_ids),
            dict(probabilities=probabilities, logits=logits))

  info = dict(labels=list(label_list), do_lower_case=bool(do_lower_case),
              max_seq_length=int(max_seq_length), is_pair=is_pair)
  return export_saved_model(build, checkpoint_path, export_base, info,
                            vocab_files, info_file=CLASSIFIER_INFO_FILE)


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
                     "SavedModel versions (the scripts' --export_dir writes "
                     "<export_dir>/<model>/<step>/)." % path)
  return os.path.join(path, max(versions, key=lambda v: int(v.strip("/"))))


class SavedModelRunner(object):
  """One exported model, loaded once, run many times (serving predictors).

  Attributes:
    info: the dict export_saved_model wrote to assets.extra/.
    tokenizer: a FullTokenizer from the exported vocab and casing.
  """

  def __init__(self, saved_model, info_file=MODEL_INFO_FILE, num_threads=0):
    path = latest_saved_model(saved_model)
    extra_dir = os.path.join(path, "assets.extra")
    info_path = os.path.join(extra_dir, info_file)
    if not tf.io.gfile.exists(info_path):
      raise ValueError("%s lacks assets.extra/%s (labels and tokenization); "
                       "export it with the training script's --export_dir." %
                       (path, info_file))
    with tf.io.gfile.GFile(info_path) as f:
      self.info = json.load(f)
    in_extra = lambda name: os.path.join(extra_dir, name) if name else None
    self.tokenizer = tokenization.FullTokenizer(
        vocab_file=in_extra(self.info["vocab_file"]),
        do_lower_case=self.info["do_lower_case"],
        spm_model_file=in_extra(self.info["spm_model_file"]))
    self.path = path
    self._graph = tf.Graph()
    config = tf.ConfigProto(intra_op_parallelism_threads=num_threads,
                            inter_op_parallelism_threads=num_threads)
    self._session = tf.Session(graph=self._graph, config=config)
    meta_graph = tf.saved_model.loader.load(
        self._session, [tf.saved_model.tag_constants.SERVING], path)
    signature = meta_graph.signature_def[
        tf.saved_model.signature_constants.DEFAULT_SERVING_SIGNATURE_DEF_KEY]
    tensor = lambda info: self._graph.get_tensor_by_name(info.name)
    self._inputs = {name: tensor(value)
                    for name, value in signature.inputs.items()}
    self._outputs = {name: tensor(value)
                     for name, value in signature.outputs.items()}
    # Nothing may be added per request: a stray op would raise, not slow down.
    self._graph.finalize()
    tf.logging.info("Loaded %s", path)

  def run(self, feeds, output_names=None):
    """Runs the signature: feeds {input name: array} -> {output: array}."""
    names = output_names or sorted(self._outputs)
    fetched = self._session.run([self._outputs[n] for n in names], feed_dict={
        self._inputs[name]: value for name, value in feeds.items()})
    return dict(zip(names, fetched))

  def close(self):
    self._session.close()


def pad_batch(sequences_per_input, pad_value=0):
  """[n, longest] int32 arrays, one per input, from lists of id lists."""
  arrays = []
  for sequences in sequences_per_input:
    longest = max(len(s) for s in sequences)
    array = np.full([len(sequences), longest], pad_value, np.int32)
    for row, values in enumerate(sequences):
      array[row, :len(values)] = values
    arrays.append(array)
  return arrays


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
    input_ids, input_mask, segment_ids = input_placeholders()
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
  tmp_path = gfile_utils.temporary_dir(export_path)
  gfile_utils.remove_tree(tmp_path)
  spec.export(tmp_path, checkpoint_path=checkpoint_path)
  gfile_utils.replace_dir(tmp_path, export_path)
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
