"""The ALBERT model: config, encoder, pretraining heads and checkpoint mapping.

One graph builder serves both released checkpoint layouts:

* "brightmart" -- albert_zh's own releases (albert_tiny_zh ... albert_xxlarge_zh).
  Word vectors are projected E->H by `word_embeddings_2` before the position and
  token-type embeddings are added at width H; one block `layer_shared` is applied
  `num_hidden_layers` times, post-LN or pre-LN (`ln_type`).
* "google" -- google-research/albert and albert_zh's `*_google` releases.
  Embeddings are summed at width E and mapped to H by
  `embedding_hidden_mapping_in`; layers are spread over `num_hidden_groups`
  groups of `inner_group_num` post-LN blocks each.

Cross-layer sharing (the ALBERT paper's ablation) is a config choice, `sharing`:
"all" (the released models), "attention" (attention shared, feed-forward per
layer), "ffn" (feed-forward shared, attention per layer) or "none".

Variable names match the released checkpoints exactly, so they load by name.
"""

import collections
import contextlib
import copy
import json
import math
import re

import numpy as np
import six
import tensorflow.compat.v1 as tf

import fused_ops
import tokenization

LAYOUTS = ("brightmart", "google")
LN_TYPES = ("postln", "preln")
SHARING_MODES = ("all", "attention", "ffn", "none")
ACTIVATIONS = ("gelu", "relu", "tanh", "linear")

_REQUIRED_SIZES = ("vocab_size", "embedding_size", "hidden_size",
                   "num_hidden_layers", "num_attention_heads",
                   "intermediate_size")
# Keys that only google-research/albert configs carry. The last four describe
# experimental structures the released models never used; they are accepted and
# kept so a config round-trips, but have no effect.
_GOOGLE_KEYS = ("num_hidden_groups", "inner_group_num", "net_structure_type",
                "gap_size", "num_memory_blocks", "down_scale_factor")
_BRIGHTMART_KEYS = ("ln_type",)
# Type and range of every numeric key, checked by AlbertConfig.validate.
_POSITIVE_INT_KEYS = _REQUIRED_SIZES + (
    "max_position_embeddings", "type_vocab_size", "num_hidden_groups",
    "inner_group_num", "down_scale_factor")
_NON_NEGATIVE_INT_KEYS = ("net_structure_type", "gap_size", "num_memory_blocks")
_PROBABILITY_KEYS = ("hidden_dropout_prob", "attention_probs_dropout_prob")
# BERT-Chinese leftovers that albert_zh's published configs still carry; no
# code ever read them.
_IGNORED_KEYS = ("directionality", "pooler_fc_size", "pooler_num_attention_heads",
                 "pooler_num_fc_layers", "pooler_size_per_head", "pooler_type")
_OPTIMIZER_SLOT_SUFFIXES = ("/adam_m", "/adam_v", "/lamb_m", "/lamb_v")


class AlbertConfig(object):
  """Sizes and choices of an ALBERT model; reads albert_zh and google JSON."""

  def __init__(self,
               vocab_size,
               embedding_size,
               hidden_size,
               num_hidden_layers,
               num_attention_heads,
               intermediate_size,
               hidden_act="gelu",
               hidden_dropout_prob=0.0,
               attention_probs_dropout_prob=0.0,
               max_position_embeddings=512,
               type_vocab_size=2,
               initializer_range=0.02,
               layout="brightmart",
               ln_type="postln",
               sharing="all",
               num_hidden_groups=1,
               inner_group_num=1,
               net_structure_type=0,
               gap_size=0,
               num_memory_blocks=0,
               down_scale_factor=1):
    self.vocab_size = vocab_size
    self.embedding_size = embedding_size
    self.hidden_size = hidden_size
    self.num_hidden_layers = num_hidden_layers
    self.num_attention_heads = num_attention_heads
    self.intermediate_size = intermediate_size
    self.hidden_act = hidden_act
    self.hidden_dropout_prob = hidden_dropout_prob
    self.attention_probs_dropout_prob = attention_probs_dropout_prob
    self.max_position_embeddings = max_position_embeddings
    self.type_vocab_size = type_vocab_size
    self.initializer_range = initializer_range
    self.layout = layout
    self.ln_type = ln_type
    self.sharing = sharing
    self.num_hidden_groups = num_hidden_groups
    self.inner_group_num = inner_group_num
    self.net_structure_type = net_structure_type
    self.gap_size = gap_size
    self.num_memory_blocks = num_memory_blocks
    self.down_scale_factor = down_scale_factor
    self.validate()

  @classmethod
  def from_dict(cls, json_object, source="config"):
    """Builds a config from a dict as published; `source` names it in errors."""
    values = dict(json_object)
    missing = [key for key in _REQUIRED_SIZES if key not in values]
    if missing:
      raise ValueError(
          "%s is missing required key(s) %s; every ALBERT config must give %s."
          % (source, ", ".join(missing), ", ".join(_REQUIRED_SIZES)))
    if "layout" not in values:
      values["layout"] = _infer_layout(values, source)
    known = set(_config_arg_names())
    unknown = sorted(key for key in values
                     if key not in known and key not in _IGNORED_KEYS)
    if unknown:
      tf.logging.warning("%s: ignoring unknown key(s) %s", source,
                         ", ".join(unknown))
    try:
      return cls(**{k: v for k, v in values.items() if k in known})
    except ValueError as e:
      raise ValueError("%s: %s" % (source, e))

  @classmethod
  def from_json_file(cls, json_file):
    """Reads a config JSON file (albert_zh or google-research/albert)."""
    if not tf.gfile.Exists(json_file):
      raise ValueError("Config file %s does not exist; pass an existing "
                       "--bert_config_file (see albert_config/)." % json_file)
    with tf.gfile.GFile(json_file, "r") as reader:
      text = reader.read()
    try:
      values = json.loads(text)
    except ValueError as e:
      raise ValueError("Config file %s is not valid JSON: %s" % (json_file, e))
    if not isinstance(values, dict):
      raise ValueError("Config file %s must hold a JSON object." % json_file)
    return cls.from_dict(values, source=json_file)

  def validate(self):
    """Raises ValueError naming the first key with an impossible value.

    Every key is checked for type and range here, so a bad value never reaches
    TensorFlow (where a string dropout or a boolean layer count fails late, or
    not at all, and without the key's name).
    """
    for key in _POSITIVE_INT_KEYS:
      _check_int(key, getattr(self, key), minimum=1)
    for key in _NON_NEGATIVE_INT_KEYS:
      _check_int(key, getattr(self, key), minimum=0)
    for key in _PROBABILITY_KEYS:
      value = _check_number(key, getattr(self, key))
      if not 0 <= value < 1:
        raise ValueError("%s must be a probability in [0, 1) (1 would drop "
                         "everything), got %r" % (key, value))
    if _check_number("initializer_range", self.initializer_range) <= 0:
      raise ValueError("initializer_range must be a positive number (the "
                       "stddev of the initial weights), got %r" %
                       self.initializer_range)
    _check_choice("layout", self.layout, LAYOUTS)
    _check_choice("ln_type", self.ln_type, LN_TYPES)
    _check_choice("sharing", self.sharing, SHARING_MODES)
    _check_choice("hidden_act", self.hidden_act, ACTIVATIONS)
    if self.hidden_size % self.num_attention_heads:
      raise ValueError(
          "hidden_size (%d) must be a multiple of num_attention_heads (%d)" %
          (self.hidden_size, self.num_attention_heads))
    if self.layout == "google" and self.ln_type != "postln":
      raise ValueError("ln_type=%r: the google layout is post-LN only; use "
                       "layout \"brightmart\" for pre-LN" % self.ln_type)
    if self.num_hidden_groups > self.num_hidden_layers:
      raise ValueError("num_hidden_groups (%d) exceeds num_hidden_layers (%d)"
                       % (self.num_hidden_groups, self.num_hidden_layers))
    if self.layout == "brightmart" and (self.num_hidden_groups != 1 or
                                        self.inner_group_num != 1):
      raise ValueError("num_hidden_groups/inner_group_num need layout "
                       "\"google\"; the brightmart layout has one shared block")

  def to_dict(self):
    return copy.deepcopy(self.__dict__)

  def to_json_string(self):
    return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"


def _config_arg_names():
  code = AlbertConfig.__init__.__code__
  return code.co_varnames[1:code.co_argcount]


def _check_choice(key, value, choices):
  if not isinstance(value, str) or value not in choices:
    raise ValueError("unknown %s %r; expected one of %s" %
                     (key, value, ", ".join(choices)))


def _describe(value):
  """How a JSON value reads in an error: strings are called strings."""
  if isinstance(value, str):
    return "the string %r (write numbers without quotes)" % value
  return "%r (%s)" % (value, type(value).__name__)


def _check_int(key, value, minimum):
  # bool is an int subclass in Python: `true` would load as 1 layer.
  if isinstance(value, bool) or not isinstance(value, six.integer_types):
    raise ValueError("%s must be an integer, got %s" % (key, _describe(value)))
  if value < minimum:
    raise ValueError("%s must be a %s integer, got %r" % (
        key, "positive" if minimum == 1 else "non-negative", value))


def _check_number(key, value):
  """Returns value if it is a finite int or float (not bool, not a string)."""
  if (isinstance(value, bool) or
      not isinstance(value, six.integer_types + (float,)) or
      not math.isfinite(value)):
    raise ValueError("%s must be a number, got %s" % (key, _describe(value)))
  return value


def check_vocab_fits(vocab_size, vocab, source):
  """Raises ValueError if token ids from `vocab` can reach `vocab_size`.

  A config whose vocab_size is smaller than the vocabulary only fails at the
  first training step (`indices[5] = 1489 is not in [0, 1000)`), after a
  checkpoint was written; call this before building the graph.

  Args:
    vocab_size: the config's vocab_size.
    vocab: a vocab.txt path, or the number of ids the tokenizer can produce
      (e.g. len(tokenizer.vocab), which also covers SentencePiece models).
    source: the config file (or flag) that gave vocab_size, for the message.
  """
  if isinstance(vocab, str):
    num_ids = len(tokenization.load_vocab(vocab, required_tokens=()))
    what = "%s has %d tokens" % (vocab, num_ids)
  else:
    num_ids = int(vocab)
    what = "the tokenizer produces %d ids" % num_ids
  if num_ids > vocab_size:
    raise ValueError(
        "%s (0..%d) but vocab_size %d in %s is smaller: ids >= %d have no "
        "embedding row. Pass the config and vocab of one model (released "
        "models pair albert_config/*.json with vocab.txt of 21128 tokens)."
        % (what, num_ids - 1, vocab_size, source, vocab_size))


def _infer_layout(values, source):
  has_google = [key for key in _GOOGLE_KEYS if key in values]
  has_brightmart = [key for key in _BRIGHTMART_KEYS if key in values]
  if has_google and has_brightmart:
    raise ValueError(
        "%s mixes google keys (%s) with brightmart keys (%s); add "
        "\"layout\": \"google\" or \"brightmart\" to say which checkpoint "
        "layout it describes." % (source, ", ".join(has_google),
                                  ", ".join(has_brightmart)))
  return "google" if has_google else "brightmart"


# ----------------------------------------------------------------------------
# The model.


class AlbertModel(object):
  """ALBERT encoder; the constructor builds the graph, getters return tensors.

  Example:
    config = modeling.AlbertConfig.from_json_file("albert_config/albert_config_tiny.json")
    model = modeling.AlbertModel(config, is_training=False, input_ids=ids,
                                 input_mask=mask, token_type_ids=segments)
    pooled = model.get_pooled_output()
  """

  def __init__(self,
               config,
               is_training,
               input_ids,
               input_mask=None,
               token_type_ids=None,
               use_one_hot_embeddings=False,
               scope=None,
               output_positions=None,
               use_fused_kernels=False):
    """Builds the encoder.

    Args:
      config: AlbertConfig.
      is_training: False disables dropout.
      input_ids: [B, T] int Tensor.
      input_mask: [B, T], 1 for real tokens (default all ones).
      token_type_ids: [B, T] segment ids (default all zeros).
      use_one_hot_embeddings: look words up with a one-hot matmul (TPU).
      scope: variable scope (default "bert").
      output_positions: optional [B, P] int Tensor. When given, the last block
        is computed only where its output is used, at these positions and at
        the first token (for the pooler), and get_sequence_output() returns the
        [B, P, H] states at these positions, equal to the full model's.
        Pretraining passes the masked positions: the final states elsewhere
        feed nothing, and skipping them saves most of one layer's work.
      use_fused_kernels: compute the encoder's GELUs, LayerNorms and the
        gradients of its attention softmaxes, biases and matmuls with the
        fused CPU kernels of fused_ops.py (same values, faster on CPU). For
        graphs run on this process's CPU, not for GPU/TPU or export.
    """
    config = copy.deepcopy(config)
    if not is_training:
      config.hidden_dropout_prob = 0.0
      config.attention_probs_dropout_prob = 0.0
    batch_size, seq_length = get_shape_list(input_ids, expected_rank=2)
    if input_mask is None:
      input_mask = tf.ones([batch_size, seq_length], dtype=tf.int32)
    if token_type_ids is None:
      token_type_ids = tf.zeros([batch_size, seq_length], dtype=tf.int32)

    with tf.variable_scope(scope, default_name="bert"), \
        _fused_gradients(use_fused_kernels):
      with tf.variable_scope("embeddings"):
        self.embedding_output, self.word_embeddings, self.word_embeddings_2 = (
            _embeddings(config, input_ids, token_type_ids,
                        use_one_hot_embeddings, use_fused_kernels))
      self.output_positions = output_positions
      final_positions = None
      if output_positions is not None:
        first = tf.zeros_like(output_positions[:, :1])
        final_positions = tf.concat([first, output_positions], axis=1)
      with tf.variable_scope("encoder"):
        attention_bias = attention_bias_from_mask(input_mask)
        self.all_encoder_layers = _encoder(config, self.embedding_output,
                                           attention_bias, use_fused_kernels,
                                           final_positions)
      final_states = self.all_encoder_layers[-1]
      first_token = final_states[:, 0]
      if output_positions is not None:
        self.all_encoder_layers[-1] = final_states[:, 1:]
      self.sequence_output = self.all_encoder_layers[-1]
      with tf.variable_scope("pooler"):
        self.pooled_output = dense(first_token, config.hidden_size,
                                   activation=tf.tanh,
                                   initializer_range=config.initializer_range)

  def get_sequence_output(self):
    """Final hidden states, [B, T, H] ([B, P, H] with output_positions)."""
    return self.sequence_output

  def get_pooled_output(self):
    """tanh(dense(first token)), [batch_size, hidden_size]."""
    return self.pooled_output

  def get_all_encoder_layers(self):
    """Output of every block application (each inner block for google).

    With output_positions the last entry is the sequence output, [B, P, H].
    """
    return self.all_encoder_layers

  def get_embedding_output(self):
    """Embeddings after LayerNorm: width H (brightmart) or E (google)."""
    return self.embedding_output

  def get_embedding_table(self):
    """The word embedding table `word_embeddings`, [vocab_size, E]."""
    return self.word_embeddings

  def get_embedding_projection(self):
    """brightmart's `word_embeddings_2` [E, H]; None in the google layout."""
    return self.word_embeddings_2


def _embeddings(config, input_ids, token_type_ids, use_one_hot_embeddings,
                fused):
  """Returns (embedding_output, word_embeddings table, projection or None)."""
  batch_size, seq_length = get_shape_list(input_ids, expected_rank=2)
  if isinstance(seq_length, int) and seq_length > config.max_position_embeddings:
    raise ValueError("sequence length %d exceeds max_position_embeddings %d"
                     % (seq_length, config.max_position_embeddings))
  initializer = create_initializer(config.initializer_range)
  embedding_size = config.embedding_size
  word_table = tf.get_variable("word_embeddings",
                               [config.vocab_size, embedding_size],
                               initializer=initializer)
  flat_ids = tf.reshape(input_ids, [-1])
  word_vectors = _lookup(word_table, flat_ids, config.vocab_size,
                         use_one_hot_embeddings)
  projection = None
  if config.layout == "brightmart":
    # albert_zh projects only the word vectors; the other embeddings live at H.
    projection = tf.get_variable("word_embeddings_2",
                                 [embedding_size, config.hidden_size],
                                 initializer=initializer)
    word_vectors = tf.matmul(word_vectors, projection)
    width = config.hidden_size
  else:
    width = embedding_size
  output = tf.reshape(word_vectors, [batch_size, seq_length, width])

  type_table = tf.get_variable("token_type_embeddings",
                               [config.type_vocab_size, width],
                               initializer=initializer)
  flat_types = tf.reshape(token_type_ids, [-1])
  # A one-hot product is faster than a gather for a 2-row table on every device.
  type_vectors = tf.matmul(tf.one_hot(flat_types, config.type_vocab_size),
                           type_table)
  output += tf.reshape(type_vectors, [batch_size, seq_length, width])

  position_table = tf.get_variable("position_embeddings",
                                   [config.max_position_embeddings, width],
                                   initializer=initializer)
  output += tf.expand_dims(position_table[:seq_length], 0)
  output = layer_norm(output, fused=fused)
  output = dropout(output, config.hidden_dropout_prob)
  return output, word_table, projection


def _lookup(table, flat_ids, vocab_size, use_one_hot):
  if use_one_hot:  # TPUs prefer a matmul to a gather.
    return tf.matmul(tf.one_hot(flat_ids, depth=vocab_size), table)
  return tf.gather(table, flat_ids)


def _encoder(config, embedding_output, attention_bias, fused,
             final_positions=None):
  """Runs the shared blocks; returns every block's output as [B, T, H].

  With `final_positions` [B, P] the last block is computed at those positions
  only, and its output is [B, P, H].
  """
  batch_size, seq_length, width = get_shape_list(embedding_output,
                                                 expected_rank=3)
  hidden = tf.reshape(embedding_output, [batch_size * seq_length, width])
  if width != config.hidden_size:  # google layout: embeddings stay at E
    hidden = dense(hidden, config.hidden_size, "embedding_hidden_mapping_in",
                   initializer_range=config.initializer_range)

  blocks = [scopes for layer_index in range(config.num_hidden_layers)
            for scopes in _block_scopes(config, layer_index)]
  outputs = []
  for index, scopes in enumerate(blocks):
    rows = None
    if final_positions is not None and index == len(blocks) - 1:
      rows = _flat_rows(final_positions, batch_size, seq_length)
    hidden = _block(config, hidden, attention_bias, batch_size, seq_length,
                    scopes.attention, scopes.ffn, fused, rows)
    outputs.append(hidden)
  return [tf.reshape(h, [batch_size, -1, config.hidden_size])
          for h in outputs]


def _flat_rows(positions, batch_size, seq_length):
  """Row indices in a [B*T, W] matrix of `positions` [B, P] -> [B*P]."""
  offsets = tf.reshape(tf.range(0, batch_size, dtype=tf.int32) * seq_length,
                       [-1, 1])
  return tf.reshape(tf.cast(positions, tf.int32) + offsets, [-1])


BlockScopes = collections.namedtuple("BlockScopes", ["attention", "ffn"])


def _block_scopes(config, layer_index):
  """Variable-scope paths (under bert/encoder) of each block of one layer.

  Sharing is expressed through names: two layers whose scopes coincide use the
  same variables (they are created with AUTO_REUSE).
  """
  def shared_index(shares):
    if config.layout == "google":
      groups = config.num_hidden_groups if shares else config.num_hidden_layers
      return layer_index * groups // config.num_hidden_layers
    return None if shares else layer_index

  attention_shared = config.sharing in ("all", "attention")
  ffn_shared = config.sharing in ("all", "ffn")
  attention_index = shared_index(attention_shared)
  ffn_index = shared_index(ffn_shared)
  if config.layout == "brightmart":
    name = lambda i: "layer_shared" if i is None else "layer_%d" % i
    return [BlockScopes(name(attention_index), name(ffn_index))]
  return [BlockScopes("transformer/group_%d/inner_group_%d" % (attention_index,
                                                                inner),
                      "transformer/group_%d/inner_group_%d" % (ffn_index, inner))
          for inner in range(config.inner_group_num)]


def _block(config, hidden, attention_bias, batch_size, seq_length,
           attention_scope, ffn_scope, fused, rows=None):
  """One transformer block on [B*T, H] under the layout's variable names.

  With `rows` (indices into the B*T rows) only those rows are computed: every
  row still serves as a key and value, but only these ask queries. `fused`:
  GELU and LayerNorm by fused_ops' kernels.
  """
  names = _BLOCK_NAMES[config.layout]
  preln = config.ln_type == "preln"
  init_range = config.initializer_range

  def select(tensor):
    return tensor if rows is None else tf.gather(tensor, rows)

  with tf.variable_scope(attention_scope, reuse=tf.AUTO_REUSE):
    attention_input = (layer_norm(hidden, names.attention_ln, fused) if preln
                       else hidden)
    query_input = select(attention_input)
    # Post-LN attends from the block input itself: one gather serves both.
    hidden = select(hidden) if preln else query_input
    with tf.variable_scope(names.attention + "/self"):
      context = attention_layer(config, attention_input, attention_bias,
                                batch_size, query_input=query_input)
    with tf.variable_scope(names.attention + "/output"):
      attention_output = dense(context, config.hidden_size,
                               initializer_range=init_range)
      attention_output = dropout(attention_output, config.hidden_dropout_prob)
    if preln:
      hidden = attention_output + hidden
    else:
      hidden = layer_norm(attention_output + hidden, names.attention_ln, fused)

  with tf.variable_scope(ffn_scope, reuse=tf.AUTO_REUSE):
    ffn_input = layer_norm(hidden, names.ffn_ln, fused) if preln else hidden
    with tf.variable_scope(names.intermediate):
      intermediate = dense(ffn_input, config.intermediate_size,
                           activation=get_activation(config.hidden_act,
                                                     fused),
                           initializer_range=init_range)
    with tf.variable_scope(names.ffn_output):
      ffn_output = dense(intermediate, config.hidden_size,
                         initializer_range=init_range)
      ffn_output = dropout(ffn_output, config.hidden_dropout_prob)
    if preln:
      return ffn_output + hidden
    return layer_norm(ffn_output + hidden, names.ffn_ln, fused)


# Where each layout keeps the pieces of a block, relative to its block scope.
# Pre-LN (brightmart only) applies the same two LayerNorms to the block inputs.
_BlockNames = collections.namedtuple("_BlockNames", [
    "attention", "attention_ln", "intermediate", "ffn_output", "ffn_ln"])
_BLOCK_NAMES = {
    "brightmart": _BlockNames("attention", "attention/output/LayerNorm",
                              "intermediate", "output", "output/LayerNorm"),
    "google": _BlockNames("attention_1", "LayerNorm", "ffn_1/intermediate",
                          "ffn_1/intermediate/output", "LayerNorm_1"),
}


def attention_layer(config, hidden, attention_bias, batch_size,
                    query_input=None):
  """Multi-head self-attention on [B*T, H]; returns the context, [B*T, H].

  `query_input` [B*Q, H] (default: `hidden`) holds the rows that ask queries;
  the context then has B*Q rows.
  """
  num_heads = config.num_attention_heads
  head_size = config.hidden_size // num_heads

  def heads(name, inputs, scale=None):
    projected = dense(inputs, config.hidden_size, name,
                      initializer_range=config.initializer_range)
    if scale is not None:
      projected *= scale
    projected = tf.reshape(projected, [batch_size, -1, num_heads, head_size])
    return tf.transpose(projected, [0, 2, 1, 3])  # [B, N, T, D]

  # Scaling the queries rather than the [B, N, Q, T] scores is the same
  # product at a fraction of the work.
  query = heads("query", hidden if query_input is None else query_input,
                scale=1.0 / math.sqrt(float(head_size)))
  key, value = heads("key", hidden), heads("value", hidden)
  scores = tf.matmul(query, key, transpose_b=True)
  scores += attention_bias
  probs = tf.nn.softmax(scores)
  probs = dropout(probs, config.attention_probs_dropout_prob)
  context = tf.matmul(probs, value)  # [B, N, Q, D]
  context = tf.transpose(context, [0, 2, 1, 3])
  return tf.reshape(context, [-1, config.hidden_size])


@contextlib.contextmanager
def _fused_gradients(fused):
  """With `fused`, ops made inside get fused_ops' gradients where it has them.

  The forward ops stay TensorFlow's own (fast already); only their gradients
  change: softmax and bias_add become one-pass kernels, and matmul takes a
  wide kernel's input gradient through the batched matmul
  (fused_ops.matmul_gradients).
  """
  if not fused or fused_ops.library() is None:
    yield
    return
  with tf.get_default_graph().gradient_override_map(
      fused_ops.GRADIENT_OVERRIDES):
    yield


def attention_bias_from_mask(input_mask):
  """[B, T] 0/1 mask -> [B, 1, 1, T] additive bias: 0 kept, -10000 masked."""
  mask = tf.cast(input_mask, tf.float32)
  return (1.0 - mask[:, tf.newaxis, tf.newaxis, :]) * -10000.0


# ----------------------------------------------------------------------------
# Pretraining heads, shared by run_pretraining.py and the TF-Hub export.


def masked_lm_logits(config, model, positions=None):
  """MLM logits at `positions` [B, P] -> [B*P, vocab_size].

  The output embedding is tied to the input one: brightmart's head maps
  H -> H and then back through both factors (word_embeddings_2, word_embeddings);
  google's maps H -> E and uses word_embeddings alone.

  Pass positions=None for a model built with `output_positions`: its sequence
  output already holds exactly the positions to predict.
  """
  if (positions is None) == (model.output_positions is None):
    raise ValueError(
        "masked_lm_logits needs the positions to predict either as "
        "`positions` or as the model's `output_positions`, not both")
  if positions is None:
    hidden = tf.reshape(model.get_sequence_output(), [-1, config.hidden_size])
  else:
    hidden = gather_indexes(model.get_sequence_output(), positions)
  transform_width = (config.hidden_size if config.layout == "brightmart"
                     else config.embedding_size)
  with tf.variable_scope("cls/predictions"):
    with tf.variable_scope("transform"):
      hidden = dense(hidden, transform_width,
                     activation=get_activation(config.hidden_act),
                     initializer_range=config.initializer_range)
      hidden = layer_norm(hidden)
    output_bias = tf.get_variable("output_bias", shape=[config.vocab_size],
                                  initializer=tf.zeros_initializer())
  projection = model.get_embedding_projection()
  if projection is not None:
    hidden = tf.matmul(hidden, projection, transpose_b=True)
  logits = tf.matmul(hidden, model.get_embedding_table(), transpose_b=True)
  return tf.nn.bias_add(logits, output_bias)


def sentence_order_logits(config, pooled_output):
  """Sentence-order (or next-sentence) logits, [B, 2]; label 1 = swapped."""
  with tf.variable_scope("cls/seq_relationship"):
    output_weights = tf.get_variable(
        "output_weights", shape=[2, config.hidden_size],
        initializer=create_initializer(config.initializer_range))
    output_bias = tf.get_variable("output_bias", shape=[2],
                                  initializer=tf.zeros_initializer())
  logits = tf.matmul(pooled_output, output_weights, transpose_b=True)
  return tf.nn.bias_add(logits, output_bias)


def masked_lm_loss(logits, label_ids, label_weights, fused=False):
  """Returns (loss, per_example_loss): sum(w * CE) / (sum(w) + 1e-5).

  fused=True computes the cross-entropy with fused_ops' CPU kernel where it can
  be built.
  """
  label_ids = tf.reshape(label_ids, [-1])
  label_weights = tf.cast(tf.reshape(label_weights, [-1]), tf.float32)
  per_example_loss = softmax_cross_entropy(logits, tf.cast(label_ids, tf.int32),
                                           fused)
  loss = (tf.reduce_sum(label_weights * per_example_loss) /
          (tf.reduce_sum(label_weights) + 1e-5))
  return loss, per_example_loss


def softmax_cross_entropy(logits, labels, fused=False):
  """Per-row cross-entropy of [N, V] `logits` against int `labels` [N].

  The same values and gradients as tf.nn.sparse_softmax_cross_entropy_with_logits,
  computed from one (multi-threaded) softmax: over a 21128-word vocabulary the
  fused op took 2.4 times as long on a 2-core CPU. log p(label) is taken as
  log p_max + (logit_label - logit_max): p_max >= 1/V, so nothing underflows.
  The gradient is registered in this process only (tf.custom_gradient), so
  only training graphs use it, never the exported models. fused=True: one
  fused_ops kernel each way instead, where it can be built.
  """
  fused_kernels = fused_ops.library() if fused else None
  if fused_kernels is not None:
    return fused_kernels.albert_softmax_cross_entropy(
        logits, tf.cast(labels, tf.int32))[0]

  @tf.custom_gradient
  def cross_entropy(logits):
    probs = tf.nn.softmax(logits)
    label_logits = tf.gather(logits, labels, batch_dims=1)
    loss = ((tf.reduce_max(logits, -1) - label_logits) -
            tf.log(tf.reduce_max(probs, -1)))

    def grad(dloss):
      targets = tf.one_hot(labels, tf.shape(logits)[-1], dtype=probs.dtype)
      return (probs - targets) * dloss[:, None]
    return loss, grad
  return cross_entropy(logits)


def sentence_order_loss(logits, labels):
  """Returns (loss, per_example_loss): mean cross-entropy over the batch."""
  labels = tf.cast(tf.reshape(labels, [-1]), tf.int32)
  per_example_loss = tf.nn.sparse_softmax_cross_entropy_with_logits(
      labels=labels, logits=logits)
  return tf.reduce_mean(per_example_loss), per_example_loss


# ----------------------------------------------------------------------------
# Checkpoints.

_LAYOUT_MARKERS = (
    ("google", re.compile(r"(^|/)encoder/(transformer/|embedding_hidden_mapping_in)")),
    ("brightmart", re.compile(r"(^|/)(encoder/layer_|embeddings/word_embeddings_2)")),
)
_LAYOUT_ADVICE = {
    "google": "a google-layout config (one with num_hidden_groups and "
              "inner_group_num, e.g. albert_config/albert_config_tiny_google.json)",
    "brightmart": "a brightmart-layout config (one with ln_type, e.g. "
                  "albert_config/albert_config_tiny.json)",
}


def layout_of_names(names):
  """"google", "brightmart" or None, judged from variable names."""
  for layout, marker in _LAYOUT_MARKERS:
    if any(marker.search(name) for name in names):
      return layout
  return None


def checkpoint_layout(init_checkpoint):
  """The layout of a checkpoint's variables: "brightmart", "google" or None."""
  return layout_of_names([name for name, _ in _list_checkpoint(init_checkpoint)])


def _list_checkpoint(init_checkpoint):
  try:
    return tf.train.list_variables(init_checkpoint)
  except (tf.errors.NotFoundError, tf.errors.DataLossError, ValueError) as e:
    raise ValueError(
        "Cannot read checkpoint %s (%s). Pass the checkpoint prefix, e.g. "
        "/path/albert_tiny_zh/albert_model.ckpt, or a directory holding a "
        "'checkpoint' file." % (init_checkpoint, e.__class__.__name__))


def get_assignment_map_from_checkpoint(tvars, init_checkpoint):
  """Maps graph variables to checkpoint variables of the same name and shape.

  Optimizer slots and `global_step` in the checkpoint are skipped. Raises
  ValueError when the checkpoint and the graph use different layouts, or when a
  variable exists in both with different shapes (a config of the wrong size).

  Returns:
    (assignment_map, initialized_variable_names): an OrderedDict of checkpoint
    name -> graph name, and a dict of the names it covers (with ":0" twins).
  """
  graph_shapes = collections.OrderedDict()
  for var in tvars:
    name = re.sub(r":\d+$", "", var.name)
    graph_shapes[name] = var.shape.as_list()
  checkpoint_shapes = collections.OrderedDict(
      (name, shape) for name, shape in _list_checkpoint(init_checkpoint)
      if name != "global_step" and not name.endswith(_OPTIMIZER_SLOT_SUFFIXES))
  _check_same_layout(graph_shapes, checkpoint_shapes, init_checkpoint)

  assignment_map = collections.OrderedDict()
  initialized_variable_names = {}
  for name, shape in checkpoint_shapes.items():
    if name not in graph_shapes:
      continue
    if list(shape) != graph_shapes[name]:
      raise ValueError(
          "Variable %s is %s in the model but %s in %s: the config's sizes do "
          "not match the checkpoint; pass the config it was trained with."
          % (name, graph_shapes[name], list(shape), init_checkpoint))
    assignment_map[name] = name
    initialized_variable_names[name] = 1
    initialized_variable_names[name + ":0"] = 1
  return assignment_map, initialized_variable_names


def _check_same_layout(graph_shapes, checkpoint_shapes, init_checkpoint):
  graph_layout = layout_of_names(graph_shapes)
  checkpoint_layout_name = layout_of_names(checkpoint_shapes)
  if graph_layout and checkpoint_layout_name and (
      graph_layout != checkpoint_layout_name):
    example = next(name for name in checkpoint_shapes
                   if dict(_LAYOUT_MARKERS)[checkpoint_layout_name].search(name))
    raise ValueError(
        "init_checkpoint %s has %s-layout variables (e.g. %s) but the config is "
        "%s-layout: pass %s." % (init_checkpoint, checkpoint_layout_name,
                                 example, graph_layout,
                                 _LAYOUT_ADVICE[checkpoint_layout_name]))


# ----------------------------------------------------------------------------
# Small building blocks.


def gelu(x):
  """GELU, tanh approximation (as BERT and ALBERT were trained with)."""
  cdf = 0.5 * (1.0 + tf.tanh(
      math.sqrt(2.0 / math.pi) * (x + 0.044715 * tf.pow(x, 3))))
  return x * cdf


def get_activation(name, fused=False):
  """Maps a config's hidden_act string to a function (None for linear).

  fused=True maps "gelu" to fused_ops' CPU kernel where it can be built.
  """
  activations = {"gelu": gelu, "relu": tf.nn.relu, "tanh": tf.tanh,
                 "linear": None}
  key = name.lower() if isinstance(name, six.string_types) else name
  if key not in activations:
    raise ValueError("unknown hidden_act %r; expected one of %s" %
                     (name, ", ".join(ACTIVATIONS)))
  fused_kernels = fused_ops.library() if fused and key == "gelu" else None
  if fused_kernels is not None:
    return fused_kernels.albert_gelu
  return activations[key]


def layer_norm(input_tensor, name="LayerNorm", fused=False):
  """LayerNorm over the last axis, epsilon 1e-12, variables beta and gamma.

  fused=True computes it with fused_ops' CPU kernel where it can be built.
  """
  width = input_tensor.shape[-1]
  with tf.variable_scope(name):
    beta = tf.get_variable("beta", [width], initializer=tf.zeros_initializer())
    gamma = tf.get_variable("gamma", [width], initializer=tf.ones_initializer())
    fused_kernels = fused_ops.library() if fused else None
    if fused_kernels is not None:
      normalized, _, _ = fused_kernels.albert_layer_norm(
          input_tensor, gamma, beta, epsilon=1e-12)
      return normalized
    # Centring once and reusing it (tf.nn.moments centres twice, once behind a
    # stop_gradient) gives the same values and a shorter gradient graph.
    centered = input_tensor - tf.reduce_mean(input_tensor, -1, keepdims=True)
    variance = tf.reduce_mean(tf.square(centered), -1, keepdims=True)
    return centered * tf.rsqrt(variance + 1e-12) * gamma + beta


def dense(input_tensor, units, name="dense", activation=None,
          initializer_range=0.02):
  """x @ kernel + bias under scope `name` (variables `kernel` [in, out], `bias`)."""
  with tf.variable_scope(name):
    kernel = tf.get_variable("kernel", [input_tensor.shape[-1], units],
                             initializer=create_initializer(initializer_range))
    bias = tf.get_variable("bias", [units], initializer=tf.zeros_initializer())
    output = tf.nn.bias_add(tf.matmul(input_tensor, kernel), bias)
  return activation(output) if activation else output


def dropout(input_tensor, dropout_prob):
  if not dropout_prob:
    return input_tensor
  return tf.nn.dropout(input_tensor, rate=dropout_prob)


def create_initializer(initializer_range=0.02):
  return tf.truncated_normal_initializer(stddev=initializer_range)


def gather_indexes(sequence_tensor, positions):
  """Gathers the vectors at `positions` [B, P] of [B, T, W] -> [B*P, W]."""
  batch_size, seq_length, width = get_shape_list(sequence_tensor,
                                                 expected_rank=3)
  flat_sequence = tf.reshape(sequence_tensor, [batch_size * seq_length, width])
  return tf.gather(flat_sequence,
                   _flat_rows(positions, batch_size, seq_length))


def get_shape_list(tensor, expected_rank=None, name=None):
  """Static dimensions where known, dynamic scalars elsewhere.

  Raises ValueError when the tensor's rank is not `expected_rank` (an int or a
  list of ints).
  """
  if expected_rank is not None:
    assert_rank(tensor, expected_rank, name)
  shape = tensor.shape.as_list()
  dynamic = None
  for index, dim in enumerate(shape):
    if dim is None:
      dynamic = dynamic if dynamic is not None else tf.shape(tensor)
      shape[index] = dynamic[index]
  return shape


def assert_rank(tensor, expected_rank, name=None):
  expected = ({expected_rank} if isinstance(expected_rank, six.integer_types)
              else set(expected_rank))
  actual = tensor.shape.ndims
  if actual not in expected:
    raise ValueError("Tensor %s has rank %s, expected %s (shape %s)" %
                     (name or tensor.name, actual, sorted(expected),
                      tensor.shape))


def count_parameters(variables):
  """Total number of scalars in `variables` (a list of tf.Variable)."""
  return int(sum(np.prod(v.shape.as_list()) for v in variables))
