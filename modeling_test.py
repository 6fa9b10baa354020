"""Tests for modeling.py: configs, variable layouts, golden outputs, checkpoints."""

import json
import os

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

import fused_ops
import modeling

tf.disable_eager_execution()

HERE = os.path.dirname(os.path.abspath(__file__))
CONFIG_DIR = os.path.join(HERE, "albert_config")
GOLDEN_DIR = os.path.join(HERE, "testdata", "golden")
GOLDEN_MODELS = ("brightmart_postln", "brightmart_preln", "google_g1",
                 "google_g2_relu", "google_inner2")

# albert_tiny_zh exactly as albert_zh published it (BERT leftovers included).
PUBLISHED_TINY = {
    "attention_probs_dropout_prob": 0.0, "directionality": "bidi",
    "hidden_act": "gelu", "hidden_dropout_prob": 0.0, "hidden_size": 312,
    "embedding_size": 128, "initializer_range": 0.02,
    "intermediate_size": 1248, "max_position_embeddings": 512,
    "num_attention_heads": 12, "num_hidden_layers": 4, "pooler_fc_size": 768,
    "pooler_num_attention_heads": 12, "pooler_num_fc_layers": 3,
    "pooler_size_per_head": 128, "pooler_type": "first_token_transform",
    "type_vocab_size": 2, "vocab_size": 21128, "ln_type": "postln"}
PUBLISHED_TINY_GOOGLE = {
    "attention_probs_dropout_prob": 0.0, "hidden_act": "gelu",
    "hidden_dropout_prob": 0.0, "embedding_size": 128, "hidden_size": 312,
    "initializer_range": 0.02, "intermediate_size": 1248,
    "max_position_embeddings": 512, "num_attention_heads": 12,
    "num_hidden_layers": 4, "num_hidden_groups": 1, "net_structure_type": 0,
    "gap_size": 0, "num_memory_blocks": 0, "inner_group_num": 1,
    "down_scale_factor": 1, "type_vocab_size": 2, "vocab_size": 21128}

SMALL = dict(vocab_size=50, embedding_size=8, hidden_size=16,
             num_hidden_layers=3, num_attention_heads=2, intermediate_size=24)

# Every variable of the two layouts, in the spec's order, with sizes named:
# V vocab, E embedding, H hidden, I intermediate, P max positions.
BRIGHTMART_VARIABLES = """
bert/embeddings/word_embeddings V,E
bert/embeddings/word_embeddings_2 E,H
bert/embeddings/token_type_embeddings 2,H
bert/embeddings/position_embeddings P,H
bert/embeddings/LayerNorm/beta H
bert/embeddings/LayerNorm/gamma H
bert/encoder/layer_shared/attention/self/query/kernel H,H
bert/encoder/layer_shared/attention/self/query/bias H
bert/encoder/layer_shared/attention/self/key/kernel H,H
bert/encoder/layer_shared/attention/self/key/bias H
bert/encoder/layer_shared/attention/self/value/kernel H,H
bert/encoder/layer_shared/attention/self/value/bias H
bert/encoder/layer_shared/attention/output/dense/kernel H,H
bert/encoder/layer_shared/attention/output/dense/bias H
bert/encoder/layer_shared/attention/output/LayerNorm/beta H
bert/encoder/layer_shared/attention/output/LayerNorm/gamma H
bert/encoder/layer_shared/intermediate/dense/kernel H,I
bert/encoder/layer_shared/intermediate/dense/bias I
bert/encoder/layer_shared/output/dense/kernel I,H
bert/encoder/layer_shared/output/dense/bias H
bert/encoder/layer_shared/output/LayerNorm/beta H
bert/encoder/layer_shared/output/LayerNorm/gamma H
bert/pooler/dense/kernel H,H
bert/pooler/dense/bias H
cls/predictions/transform/dense/kernel H,H
cls/predictions/transform/dense/bias H
cls/predictions/transform/LayerNorm/beta H
cls/predictions/transform/LayerNorm/gamma H
cls/predictions/output_bias V
cls/seq_relationship/output_weights 2,H
cls/seq_relationship/output_bias 2
"""
GOOGLE_VARIABLES = """
bert/embeddings/word_embeddings V,E
bert/embeddings/token_type_embeddings 2,E
bert/embeddings/position_embeddings P,E
bert/embeddings/LayerNorm/beta E
bert/embeddings/LayerNorm/gamma E
bert/encoder/embedding_hidden_mapping_in/kernel E,H
bert/encoder/embedding_hidden_mapping_in/bias H
bert/encoder/transformer/group_0/inner_group_0/attention_1/self/query/kernel H,H
bert/encoder/transformer/group_0/inner_group_0/attention_1/self/query/bias H
bert/encoder/transformer/group_0/inner_group_0/attention_1/self/key/kernel H,H
bert/encoder/transformer/group_0/inner_group_0/attention_1/self/key/bias H
bert/encoder/transformer/group_0/inner_group_0/attention_1/self/value/kernel H,H
bert/encoder/transformer/group_0/inner_group_0/attention_1/self/value/bias H
bert/encoder/transformer/group_0/inner_group_0/attention_1/output/dense/kernel H,H
bert/encoder/transformer/group_0/inner_group_0/attention_1/output/dense/bias H
bert/encoder/transformer/group_0/inner_group_0/LayerNorm/beta H
bert/encoder/transformer/group_0/inner_group_0/LayerNorm/gamma H
bert/encoder/transformer/group_0/inner_group_0/ffn_1/intermediate/dense/kernel H,I
bert/encoder/transformer/group_0/inner_group_0/ffn_1/intermediate/dense/bias I
bert/encoder/transformer/group_0/inner_group_0/ffn_1/intermediate/output/dense/kernel I,H
bert/encoder/transformer/group_0/inner_group_0/ffn_1/intermediate/output/dense/bias H
bert/encoder/transformer/group_0/inner_group_0/LayerNorm_1/beta H
bert/encoder/transformer/group_0/inner_group_0/LayerNorm_1/gamma H
bert/pooler/dense/kernel H,H
bert/pooler/dense/bias H
cls/predictions/transform/dense/kernel H,E
cls/predictions/transform/dense/bias E
cls/predictions/transform/LayerNorm/beta E
cls/predictions/transform/LayerNorm/gamma E
cls/predictions/output_bias V
cls/seq_relationship/output_weights 2,H
cls/seq_relationship/output_bias 2
"""


def expected_variables(template, config):
  sizes = {"V": config.vocab_size, "E": config.embedding_size,
           "H": config.hidden_size, "I": config.intermediate_size,
           "P": config.max_position_embeddings}
  expected = []
  for line in template.strip().splitlines():
    name, dims = line.split()
    expected.append((name, [sizes.get(d) or int(d) for d in dims.split(",")]))
  return expected


def load_config(name):
  return modeling.AlbertConfig.from_json_file(
      os.path.join(CONFIG_DIR, "albert_config_%s.json" % name))


def build_pretraining_graph(config, seq_length=16, num_predictions=4):
  """Builds encoder and both heads on placeholders in the default graph."""
  input_ids = tf.placeholder(tf.int32, [None, seq_length])
  model = modeling.AlbertModel(config, False, input_ids)
  positions = tf.placeholder(tf.int32, [None, num_predictions])
  mlm = modeling.masked_lm_logits(config, model, positions)
  sop = modeling.sentence_order_logits(config, model.get_pooled_output())
  return model, mlm, sop


def graph_variables(config):
  with tf.Graph().as_default():
    build_pretraining_graph(config)
    return [(v.op.name, v.shape.as_list()) for v in tf.trainable_variables()]


# ---------------------------------------------------------------- configs


@pytest.mark.parametrize("published,layout", [(PUBLISHED_TINY, "brightmart"),
                                              (PUBLISHED_TINY_GOOGLE, "google")])
def test_published_configs_load_with_inferred_layout(published, layout):
  config = modeling.AlbertConfig.from_dict(published)
  assert config.layout == layout
  assert config.hidden_size == 312 and config.embedding_size == 128
  assert config.sharing == "all"


def test_every_bundled_config_loads_with_its_layout():
  layouts = {}
  for name in sorted(os.listdir(CONFIG_DIR)):
    if name.endswith(".json"):
      config = modeling.AlbertConfig.from_json_file(
          os.path.join(CONFIG_DIR, name))
      layouts[name] = config.layout
      assert config.vocab_size == 21128
  assert layouts["albert_config_tiny.json"] == "brightmart"
  assert layouts["albert_config_xxlarge.json"] == "brightmart"
  assert load_config("xxlarge").ln_type == "preln"
  assert layouts["albert_config_small_google.json"] == "google"
  # The released models' eight, and the small-budget pretraining recipe's.
  assert layouts["albert_config_small_budget.json"] == "brightmart"
  assert len(layouts) == 9


def test_explicit_layout_key_wins():
  config = modeling.AlbertConfig.from_dict(dict(SMALL, layout="google"))
  assert config.layout == "google"


def test_config_json_round_trip():
  config = load_config("tiny_google")
  again = modeling.AlbertConfig.from_dict(json.loads(config.to_json_string()))
  assert again.to_dict() == config.to_dict()


def test_missing_size_names_key_and_file(tmp_path):
  path = tmp_path / "bad_config.json"
  path.write_text(json.dumps({k: v for k, v in PUBLISHED_TINY.items()
                              if k != "hidden_size"}))
  with pytest.raises(ValueError, match=r"bad_config\.json.*hidden_size"):
    modeling.AlbertConfig.from_json_file(str(path))


@pytest.mark.parametrize("key,value", [("ln_type", "midln"),
                                       ("layout", "huggingface"),
                                       ("hidden_act", "swish"),
                                       ("sharing", "some")])
def test_unknown_choice_names_key_and_file(tmp_path, key, value):
  path = tmp_path / "c.json"
  path.write_text(json.dumps(dict(PUBLISHED_TINY, **{key: value})))
  with pytest.raises(ValueError, match=r"c\.json.*%s" % key):
    modeling.AlbertConfig.from_json_file(str(path))


def test_mixed_layout_keys_ask_for_layout():
  with pytest.raises(ValueError, match="layout"):
    modeling.AlbertConfig.from_dict(dict(PUBLISHED_TINY, num_hidden_groups=1))


def test_missing_config_file_is_clear():
  with pytest.raises(ValueError, match="does not exist"):
    modeling.AlbertConfig.from_json_file("/no/such/albert_config.json")


def test_google_layout_rejects_preln():
  with pytest.raises(ValueError, match="post-LN"):
    modeling.AlbertConfig.from_dict(dict(SMALL, layout="google",
                                         ln_type="preln"))


# ------------------------------------------------------- variable layouts


@pytest.mark.parametrize("name,template", [
    ("tiny", BRIGHTMART_VARIABLES), ("base", BRIGHTMART_VARIABLES),
    ("tiny_google", GOOGLE_VARIABLES), ("base_google", GOOGLE_VARIABLES)])
def test_full_variable_list(name, template):
  config = load_config(name)
  assert graph_variables(config) == expected_variables(template, config)


def test_tiny_variables_match_spec_literally():
  # Spot-check the template against the spec's printed albert_tiny_zh list.
  variables = dict(graph_variables(load_config("tiny")))
  assert variables["bert/embeddings/word_embeddings_2"] == [128, 312]
  assert variables["bert/embeddings/position_embeddings"] == [512, 312]
  assert variables[
      "bert/encoder/layer_shared/intermediate/dense/kernel"] == [312, 1248]
  assert variables["cls/predictions/transform/dense/kernel"] == [312, 312]
  google = dict(graph_variables(load_config("tiny_google")))
  assert google["cls/predictions/transform/dense/kernel"] == [312, 128]
  assert google["bert/embeddings/token_type_embeddings"] == [2, 128]


@pytest.mark.parametrize("name,with_heads,encoder_and_embeddings", [
    ("tiny", 4295186, 4175152), ("base", 11492234, 10877440),
    ("large", 18084490, None), ("xlarge", 62803594, None),
    ("xxlarge", 240322186, None), ("tiny_google", 4142594, None),
    ("small_google", 4813706, None), ("base_google", 10669322, None)])
def test_parameter_totals_match_spec(name, with_heads, encoder_and_embeddings):
  variables = graph_variables(load_config(name))
  total = sum(int(np.prod(shape)) for _, shape in variables)
  assert total == with_heads
  if encoder_and_embeddings:
    without_heads = sum(int(np.prod(shape)) for n, shape in variables
                        if not n.startswith("cls/"))
    assert without_heads == encoder_and_embeddings


# ---------------------------------------------------------------- sharing


def encoder_names(**overrides):
  config = modeling.AlbertConfig.from_dict(dict(SMALL, **overrides))
  return sorted({name.split("/")[2] + "/" + name.split("/")[3]
                 for name, _ in graph_variables(config)
                 if name.startswith("bert/encoder/") and
                 "embedding_hidden_mapping_in" not in name})


def test_brightmart_sharing_modes_name_blocks_per_layer():
  assert encoder_names(sharing="all") == [
      "layer_shared/attention", "layer_shared/intermediate",
      "layer_shared/output"]
  assert encoder_names(sharing="attention") == [
      "layer_0/intermediate", "layer_0/output", "layer_1/intermediate",
      "layer_1/output", "layer_2/intermediate", "layer_2/output",
      "layer_shared/attention"]
  assert encoder_names(sharing="ffn") == [
      "layer_0/attention", "layer_1/attention", "layer_2/attention",
      "layer_shared/intermediate", "layer_shared/output"]
  assert encoder_names(sharing="none") == [
      "layer_%d/%s" % (i, part) for i in range(3)
      for part in ("attention", "intermediate", "output")]


def test_google_not_shared_equals_one_group_per_layer():
  none = encoder_names(layout="google", sharing="none")
  groups = encoder_names(layout="google", num_hidden_groups=3)
  assert none == groups == ["transformer/group_0", "transformer/group_1",
                            "transformer/group_2"]


def test_google_layers_map_to_groups_by_integer_division():
  config = modeling.AlbertConfig.from_dict(
      dict(SMALL, layout="google", num_hidden_layers=5, num_hidden_groups=2))
  groups = [modeling._block_scopes(config, layer)[0].attention
            for layer in range(5)]
  assert groups == ["transformer/group_%d/inner_group_0" % g
                    for g in (0, 0, 0, 1, 1)]


# ------------------------------------------------------------ golden values


@pytest.mark.parametrize("name", GOLDEN_MODELS)
def test_golden_checkpoint_reproduces_original_outputs(name):
  directory = os.path.join(GOLDEN_DIR, name)
  checkpoint = os.path.join(directory, "model.ckpt")
  config = modeling.AlbertConfig.from_json_file(
      os.path.join(directory, "config.json"))
  io = np.load(os.path.join(directory, "io.npz"))
  with tf.Graph().as_default():
    model = modeling.AlbertModel(
        config, is_training=False, input_ids=tf.constant(io["input_ids"]),
        input_mask=tf.constant(io["input_mask"]),
        token_type_ids=tf.constant(io["segment_ids"]))
    mlm = modeling.masked_lm_logits(config, model,
                                    tf.constant(io["masked_lm_positions"]))
    sop = modeling.sentence_order_logits(config, model.get_pooled_output())
    tvars = tf.trainable_variables()
    assignment_map, initialized = modeling.get_assignment_map_from_checkpoint(
        tvars, checkpoint)
    # Every variable comes from the checkpoint: loading is by name, no renames.
    assert sorted(assignment_map) == sorted(v.op.name for v in tvars)
    assert all(v.name in initialized for v in tvars)
    assert modeling.checkpoint_layout(checkpoint) == config.layout
    tf.train.init_from_checkpoint(checkpoint, assignment_map)
    with tf.Session() as session:
      session.run(tf.global_variables_initializer())
      outputs = session.run({
          "sequence_output": model.get_sequence_output(),
          "pooled_output": model.get_pooled_output(),
          "all_encoder_layers": model.get_all_encoder_layers(),
          "mlm_logits": mlm,
          "sop_logits": sop})
  for key, value in outputs.items():
    np.testing.assert_allclose(np.asarray(value), io[key], atol=1e-5,
                               err_msg="%s %s" % (name, key))


# --------------------------------------------------------------- behaviour


def run_model(config, is_training, use_one_hot=False, seed=3):
  rng = np.random.RandomState(seed)
  input_ids = rng.randint(0, config.vocab_size, size=(2, 7))
  input_mask = np.array([[1] * 7, [1] * 4 + [0] * 3])
  with tf.Graph().as_default():
    tf.set_random_seed(1)
    model = modeling.AlbertModel(config, is_training, tf.constant(input_ids),
                                 tf.constant(input_mask),
                                 use_one_hot_embeddings=use_one_hot)
    with tf.Session() as session:
      session.run(tf.global_variables_initializer())
      return session.run([model.get_sequence_output(),
                          model.get_embedding_output()])


def test_one_hot_embeddings_equal_gather():
  for layout in modeling.LAYOUTS:
    config = modeling.AlbertConfig.from_dict(dict(SMALL, layout=layout))
    gathered = run_model(config, False)
    one_hot = run_model(config, False, use_one_hot=True)
    np.testing.assert_allclose(gathered[0], one_hot[0], atol=1e-5)


def test_embedding_width_per_layout():
  bright = modeling.AlbertConfig.from_dict(SMALL)
  google = modeling.AlbertConfig.from_dict(dict(SMALL, layout="google"))
  assert run_model(bright, False)[1].shape == (2, 7, 16)
  assert run_model(google, False)[1].shape == (2, 7, 8)


def test_dropout_only_when_training():
  config = modeling.AlbertConfig.from_dict(dict(SMALL, hidden_dropout_prob=0.5))
  eval_a, eval_b = run_model(config, False), run_model(config, False)
  np.testing.assert_array_equal(eval_a[0], eval_b[0])
  train = run_model(config, True)
  assert not np.allclose(train[0], eval_a[0])


def test_padding_does_not_change_unpadded_positions():
  config = modeling.AlbertConfig.from_dict(SMALL)
  ids = np.array([[5, 6, 7, 0, 0]])
  with tf.Graph().as_default():
    input_ids = tf.placeholder(tf.int32, [1, None])
    input_mask = tf.placeholder(tf.int32, [1, None])
    model = modeling.AlbertModel(config, False, input_ids, input_mask)
    with tf.Session() as session:
      session.run(tf.global_variables_initializer())
      padded = session.run(model.get_sequence_output(),
                           {input_ids: ids, input_mask: [[1, 1, 1, 0, 0]]})
      short = session.run(model.get_sequence_output(),
                          {input_ids: ids[:, :3], input_mask: [[1, 1, 1]]})
  np.testing.assert_allclose(padded[:, :3], short, atol=1e-5)


def test_sequence_longer_than_positions_is_rejected():
  config = modeling.AlbertConfig.from_dict(dict(SMALL,
                                                max_position_embeddings=4))
  with tf.Graph().as_default():
    with pytest.raises(ValueError, match="max_position_embeddings"):
      modeling.AlbertModel(config, False, tf.zeros([1, 5], tf.int32))


def test_losses_follow_published_formulas():
  logits = np.array([[2.0, 0.5, -1.0], [0.1, 0.2, 0.3], [1.0, 1.0, 1.0]],
                    np.float32)
  labels = np.array([0, 2, 1])
  weights = np.array([1.0, 1.0, 0.0], np.float32)
  log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
  ce = -log_probs[np.arange(3), labels]
  with tf.Graph().as_default(), tf.Session() as session:
    mlm, _ = modeling.masked_lm_loss(tf.constant(logits), tf.constant(labels),
                                     tf.constant(weights))
    sop, _ = modeling.sentence_order_loss(tf.constant(logits[:, :2]),
                                          tf.constant([0, 1, 1]))
    mlm_value, sop_value = session.run([mlm, sop])
  assert mlm_value == pytest.approx((ce[0] + ce[1]) / (2 + 1e-5), rel=1e-5)
  sop_log_probs = logits[:, :2] - np.log(
      np.exp(logits[:, :2]).sum(-1, keepdims=True))
  assert sop_value == pytest.approx(
      -np.mean(sop_log_probs[np.arange(3), [0, 1, 1]]), rel=1e-5)


@pytest.mark.parametrize("fused", [
    False, pytest.param(True, marks=pytest.mark.skipif(
        not fused_ops.compiler_found(), reason="no C++ compiler"))])
def test_cross_entropy_matches_the_fused_op_even_for_extreme_logits(fused):
  rng = np.random.RandomState(0)
  logits = rng.normal(0, 3, (6, 40)).astype(np.float32)
  logits[0, :3] = [1000.0, 0.0, -1000.0]  # p(label) underflows to 0 here
  labels = np.array([2, 0, 5, 39, 7, 7])
  upstream = rng.uniform(0.5, 2.0, 6).astype(np.float32)
  with tf.Graph().as_default(), tf.Session() as session:
    logits_t = tf.constant(logits)
    ours = modeling.softmax_cross_entropy(logits_t, tf.constant(labels), fused)
    reference = tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=tf.constant(labels), logits=logits_t)
    grads = [tf.gradients(loss * upstream, logits_t)[0]
             for loss in (ours, reference)]
    ours_v, reference_v, ours_g, reference_g = session.run(
        [ours, reference] + grads)
    if fused:
      assert "AlbertSoftmaxCrossEntropyGrad" in {
          op.type for op in session.graph.get_operations()}
  assert ours_v[0] == pytest.approx(2000.0)
  np.testing.assert_allclose(ours_v, reference_v, rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(ours_g, reference_g, rtol=1e-5, atol=1e-6)


def test_layer_norm_matches_the_moments_formula_and_its_gradient():
  rng = np.random.RandomState(1)
  with tf.Graph().as_default() as graph, tf.Session(graph=graph) as session:
    inputs = tf.constant(rng.normal(2.0, 3.0, (3, 5, 7)).astype(np.float32))
    upstream = tf.constant(rng.normal(size=(3, 5, 7)).astype(np.float32))
    output = modeling.layer_norm(inputs)
    beta, gamma = tf.global_variables()  # created in that order
    mean, variance = tf.nn.moments(inputs, [-1], keepdims=True)
    reference = (inputs - mean) * tf.rsqrt(variance + 1e-12) * gamma + beta
    ours = tf.gradients(output * upstream, [inputs, gamma, beta])
    expected = tf.gradients(reference * upstream, [inputs, gamma, beta])
    session.run([gamma.assign(rng.normal(size=7)),
                 beta.assign(rng.normal(size=7))])
    ours_v, expected_v, out_v, ref_v = session.run(
        [ours, expected, output, reference])
  np.testing.assert_allclose(out_v, ref_v, atol=1e-5)
  for got, want in zip(ours_v, expected_v):
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


# Layouts, LayerNorm placements and sharing modes the last block can take.
PRUNING_CASES = [dict(SMALL), dict(SMALL, ln_type="preln"),
                 dict(SMALL, sharing="none"),
                 dict(SMALL, layout="google", num_hidden_groups=1,
                      inner_group_num=2)]


@pytest.mark.parametrize("overrides", PRUNING_CASES)
def test_output_positions_give_the_full_models_values_and_gradients(overrides):
  config = modeling.AlbertConfig.from_dict(overrides)
  rng = np.random.RandomState(4)
  ids = rng.randint(0, config.vocab_size, (3, 9))
  mask = np.ones((3, 9), np.int32)
  mask[1, 6:] = 0
  positions = np.array([[1, 4, 4], [0, 5, 2], [8, 3, 7]])
  with tf.Graph().as_default():
    tf.set_random_seed(5)
    ids_t = tf.placeholder(tf.int32, [None, 9])  # dynamic batch, as in eval
    mask_t = tf.placeholder(tf.int32, [None, 9])
    positions_t = tf.placeholder(tf.int32, [None, 3])
    with tf.variable_scope(tf.get_variable_scope(), reuse=tf.AUTO_REUSE):
      full = modeling.AlbertModel(config, False, ids_t, mask_t, scope="bert")
      pruned = modeling.AlbertModel(config, False, ids_t, mask_t, scope="bert",
                                    output_positions=positions_t)
    full_states = tf.reshape(
        modeling.gather_indexes(full.get_sequence_output(), positions_t),
        [-1, 3, config.hidden_size])
    weights = tf.constant(rng.normal(size=(3, 3, config.hidden_size)),
                          tf.float32)
    def objective(states, pooled):
      return tf.reduce_sum(states * weights) + tf.reduce_sum(pooled ** 2)
    variables = tf.trainable_variables()
    def gradients(states, pooled):
      return [tf.convert_to_tensor(g)  # the embedding's are IndexedSlices
              for g in tf.gradients(objective(states, pooled), variables)]
    full_grads = gradients(full_states, full.get_pooled_output())
    pruned_grads = gradients(pruned.get_sequence_output(),
                             pruned.get_pooled_output())
    with tf.Session() as session:
      session.run(tf.global_variables_initializer())
      got = session.run(
          [full_states, pruned.get_sequence_output(), full.get_pooled_output(),
           pruned.get_pooled_output(), full_grads, pruned_grads],
          {ids_t: ids, mask_t: mask, positions_t: positions})
  full_v, pruned_v, full_pooled, pruned_pooled, full_g, pruned_g = got
  assert pruned_v.shape == (3, 3, config.hidden_size)
  np.testing.assert_allclose(pruned_v, full_v, atol=1e-5)
  np.testing.assert_allclose(pruned_pooled, full_pooled, atol=1e-5)
  for variable, want, have in zip(variables, full_g, pruned_g):
    # Sums over every token, summed in another order: float32 rounding scales
    # with the largest entry.
    np.testing.assert_allclose(have, want,
                               atol=1e-5 * max(1.0, np.abs(want).max()),
                               err_msg=variable.name)


@pytest.mark.skipif(not fused_ops.compiler_found(),
                    reason="no C++ compiler to build fused_ops.cc")
@pytest.mark.parametrize("overrides", [dict(SMALL), dict(SMALL, ln_type="preln"),
                                       dict(SMALL, layout="google")])
def test_fused_kernels_model_equals_the_composite_model(overrides):
  config = modeling.AlbertConfig.from_dict(overrides)
  rng = np.random.RandomState(6)
  with tf.Graph().as_default() as graph:
    tf.set_random_seed(7)
    ids = tf.constant(rng.randint(0, config.vocab_size, (2, 7)), tf.int32)
    models = []
    with tf.variable_scope(tf.get_variable_scope(), reuse=tf.AUTO_REUSE):
      for fused in (False, True):
        models.append(modeling.AlbertModel(config, False, ids, scope="bert",
                                           use_fused_kernels=fused))
    variables = tf.trainable_variables()
    outputs = [[m.get_sequence_output(), m.get_pooled_output()] +
               [tf.convert_to_tensor(g) for g in tf.gradients(
                   tf.reduce_sum(m.get_sequence_output() ** 2) +
                   tf.reduce_sum(m.get_pooled_output() ** 2), variables)]
               for m in models]
    op_types = {op.type for op in graph.get_operations()}
    with tf.Session() as session:
      session.run(tf.global_variables_initializer())
      composite, fused = session.run(outputs)
  assert {"AlbertGelu", "AlbertGeluGrad", "AlbertLayerNorm",
          "AlbertLayerNormGrad", "AlbertSoftmaxGrad",
          "AlbertBiasAddGrad"} <= op_types
  for name, want, have in zip(["sequence", "pooled"] + variables, composite,
                              fused):
    # LayerNorm gradients scale rounding by 1/std, large at the embeddings.
    np.testing.assert_allclose(have, want, rtol=1e-4,
                               atol=5e-5 * max(1.0, np.abs(want).max()),
                               err_msg=str(name))


def test_masked_lm_logits_takes_positions_from_one_place_only():
  config = modeling.AlbertConfig.from_dict(SMALL)
  with tf.Graph().as_default():
    ids = tf.zeros([2, 6], tf.int32)
    positions = tf.constant([[1, 2], [3, 4]])
    pruned = modeling.AlbertModel(config, False, ids,
                                  output_positions=positions)
    assert modeling.masked_lm_logits(
        config, pruned).shape.as_list() == [4, config.vocab_size]
    with pytest.raises(ValueError, match="not both"):
      modeling.masked_lm_logits(config, pruned, positions)
    full = modeling.AlbertModel(config, False, ids)
    with pytest.raises(ValueError, match="positions to predict"):
      modeling.masked_lm_logits(config, full)


def test_get_shape_list_rejects_wrong_rank():
  with tf.Graph().as_default():
    with pytest.raises(ValueError, match="rank"):
      modeling.get_shape_list(tf.zeros([2, 3]), expected_rank=3)


# ------------------------------------------------------------- checkpoints


def save_checkpoint(directory, config, extra_variables=()):
  """Saves a freshly initialised model plus optimizer-like extras."""
  with tf.Graph().as_default():
    build_pretraining_graph(config)
    for name in extra_variables:
      tf.get_variable(name, [3], trainable=False)
    tf.train.get_or_create_global_step()
    with tf.Session() as session:
      session.run(tf.global_variables_initializer())
      return tf.train.Saver().save(session, os.path.join(directory, "m.ckpt"))


def test_assignment_map_skips_slots_and_global_step(tmp_path):
  config = modeling.AlbertConfig.from_dict(SMALL)
  checkpoint = save_checkpoint(str(tmp_path), config, extra_variables=[
      "bert/pooler/dense/kernel/adam_m", "bert/pooler/dense/kernel/lamb_v"])
  with tf.Graph().as_default():
    build_pretraining_graph(config)
    tvars = tf.trainable_variables()
    assignment_map, _ = modeling.get_assignment_map_from_checkpoint(
        tvars, checkpoint)
  assert sorted(assignment_map) == sorted(v.op.name for v in tvars)
  assert not any(k.endswith(("adam_m", "lamb_v")) or k == "global_step"
                 for k in assignment_map)


def test_encoder_only_graph_takes_what_it_has(tmp_path):
  config = modeling.AlbertConfig.from_dict(SMALL)
  checkpoint = save_checkpoint(str(tmp_path), config)
  with tf.Graph().as_default():
    modeling.AlbertModel(config, False, tf.zeros([1, 4], tf.int32))
    assignment_map, _ = modeling.get_assignment_map_from_checkpoint(
        tf.trainable_variables(), checkpoint)
  assert assignment_map and not any(k.startswith("cls/")
                                    for k in assignment_map)


@pytest.mark.parametrize("checkpoint_layout,graph_layout,advice", [
    ("google", "brightmart", "google-layout config"),
    ("brightmart", "google", "brightmart-layout config")])
def test_layout_mismatch_says_what_to_pass(tmp_path, checkpoint_layout,
                                           graph_layout, advice):
  checkpoint = save_checkpoint(str(tmp_path), modeling.AlbertConfig.from_dict(
      dict(SMALL, layout=checkpoint_layout)))
  assert modeling.checkpoint_layout(checkpoint) == checkpoint_layout
  with tf.Graph().as_default():
    build_pretraining_graph(modeling.AlbertConfig.from_dict(
        dict(SMALL, layout=graph_layout)))
    with pytest.raises(ValueError) as error:
      modeling.get_assignment_map_from_checkpoint(tf.trainable_variables(),
                                                  checkpoint)
  message = str(error.value)
  assert checkpoint_layout + "-layout variables" in message
  assert "config is %s-layout" % graph_layout in message
  assert advice in message


def test_size_mismatch_names_variable(tmp_path):
  checkpoint = save_checkpoint(str(tmp_path),
                               modeling.AlbertConfig.from_dict(SMALL))
  with tf.Graph().as_default():
    build_pretraining_graph(modeling.AlbertConfig.from_dict(
        dict(SMALL, intermediate_size=30)))
    with pytest.raises(ValueError, match=r"intermediate/dense/(kernel|bias) is"):
      modeling.get_assignment_map_from_checkpoint(tf.trainable_variables(),
                                                  checkpoint)


def test_unreadable_checkpoint_is_clear(tmp_path):
  with pytest.raises(ValueError, match="Cannot read checkpoint"):
    modeling.checkpoint_layout(str(tmp_path / "nothing.ckpt"))


# ------------------------------------------- config values (issue 14, item 6)


@pytest.mark.parametrize("key,value,message", [
    ("hidden_dropout_prob", "0.1", r"hidden_dropout_prob.*string '0\.1'"),
    ("hidden_dropout_prob", 1.5, r"hidden_dropout_prob.*\[0, 1\).*1\.5"),
    ("attention_probs_dropout_prob", -0.1, r"attention_probs_dropout_prob"),
    ("attention_probs_dropout_prob", None,
     r"attention_probs_dropout_prob.*None"),
    ("num_hidden_layers", True, r"num_hidden_layers.*integer.*True"),
    ("num_hidden_layers", 4.0, r"num_hidden_layers.*integer.*4\.0"),
    ("hidden_size", -312, r"hidden_size.*positive.*-312"),
    ("vocab_size", 0, r"vocab_size.*positive"),
    ("max_position_embeddings", "512", r"max_position_embeddings.*string"),
    ("initializer_range", 0, r"initializer_range.*positive"),
    ("initializer_range", float("nan"), r"initializer_range"),
    ("num_attention_heads", 7,
     r"hidden_size \(312\).*num_attention_heads \(7\)"),
    ("hidden_act", ["gelu"], r"hidden_act"),
    ("ln_type", None, r"ln_type"),
])
def test_bad_config_value_names_file_and_key(tmp_path, key, value, message):
  path = tmp_path / "my_config.json"
  path.write_text(json.dumps(dict(PUBLISHED_TINY, **{key: value})))
  with pytest.raises(ValueError, match=r"my_config\.json: .*" + message):
    modeling.AlbertConfig.from_json_file(str(path))


@pytest.mark.parametrize("key,value", [
    ("gap_size", -1), ("num_memory_blocks", "0"), ("down_scale_factor", 0),
    ("net_structure_type", True), ("num_hidden_groups", 0),
    ("inner_group_num", 1.0)])
def test_bad_google_key_names_key(key, value):
  with pytest.raises(ValueError, match=r"google\.json: .*%s" % key):
    modeling.AlbertConfig.from_dict(dict(PUBLISHED_TINY_GOOGLE, **{key: value}),
                                    source="google.json")


def test_integral_probabilities_and_ranges_are_accepted():
  # JSON writers drop ".0": 0 is a valid dropout probability.
  config = modeling.AlbertConfig.from_dict(
      dict(PUBLISHED_TINY, hidden_dropout_prob=0, initializer_range=1))
  assert config.hidden_dropout_prob == 0 and config.initializer_range == 1


def test_check_vocab_fits(tmp_path):
  vocab_file = tmp_path / "vocab.txt"
  vocab_file.write_text("\n".join(
      ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + list("甲乙丙")) + "\n",
                        encoding="utf-8")
  modeling.check_vocab_fits(8, str(vocab_file), "c.json")
  modeling.check_vocab_fits(9, str(vocab_file), "c.json")  # unused rows: fine
  modeling.check_vocab_fits(8, 8, "c.json")
  with pytest.raises(ValueError, match=(
      r"vocab\.txt has 8 tokens.*vocab_size 7 in c\.json")):
    modeling.check_vocab_fits(7, str(vocab_file), "c.json")
  with pytest.raises(ValueError, match=r"1000 ids.*vocab_size 999"):
    modeling.check_vocab_fits(999, 1000, "c.json")
