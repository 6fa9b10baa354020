"""Tests for fused_ops.py: the kernels' values and gradients, build, fallback."""

import os

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

import fused_ops
import modeling

tf.disable_eager_execution()

# Without any C++ compiler the kernels cannot exist (the model then keeps the
# composites, tested below); a compiler that fails is a test failure.
needs_compiler = pytest.mark.skipif(
    not fused_ops.compiler_found(),
    reason="no C++ compiler (%s) to build fused_ops.cc" %
    fused_ops.default_compiler())


def fused_kernels():
  kernels = fused_ops.library()
  assert kernels is not None, "fused_ops.cc did not build (see the log)"
  return kernels


def values_and_gradients(activation, x, upstream):
  with tf.Graph().as_default(), tf.Session() as session:
    inputs = tf.constant(x)
    outputs = activation(inputs)
    gradient = tf.gradients(outputs, inputs, grad_ys=tf.constant(upstream))[0]
    return session.run([outputs, gradient])


@needs_compiler
def test_fused_gelu_equals_the_composite_in_value_and_gradient():
  rng = np.random.RandomState(0)
  # Both tails (tanh saturated), the curved middle, and an odd size so the
  # vectorised loop's remainder is exercised.
  x = np.concatenate([np.linspace(-12, 12, 2001),
                      rng.normal(scale=2.0, size=30000)]).astype(np.float32)
  upstream = rng.normal(size=x.shape).astype(np.float32)
  fused, fused_grad = values_and_gradients(
      fused_kernels().albert_gelu, x, upstream)
  composite, composite_grad = values_and_gradients(modeling.gelu, x, upstream)
  np.testing.assert_allclose(fused, composite, rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(fused_grad, composite_grad, rtol=1e-5, atol=1e-5)
  assert fused[x < -6].max() <= 0 and np.all(fused[x > 6] == x[x > 6])


@needs_compiler
def test_fused_gelu_keeps_the_shape_of_its_input():
  with tf.Graph().as_default():
    inputs = tf.placeholder(tf.float32, [None, 3, 7])
    assert fused_kernels().albert_gelu(inputs).shape.as_list() == [None, 3, 7]


def layer_norm_and_gradients(x, upstream, gamma, beta, fused):
  with tf.Graph().as_default(), tf.Session() as session:
    inputs = tf.constant(x)
    with tf.variable_scope("LayerNorm"):
      tf.get_variable("gamma", initializer=gamma)
      tf.get_variable("beta", initializer=beta)
    with tf.variable_scope(tf.get_variable_scope(), reuse=True):
      outputs = modeling.layer_norm(inputs, fused=fused)
    wrt = [inputs] + tf.trainable_variables()
    gradients = tf.gradients(outputs, wrt, grad_ys=tf.constant(upstream))
    session.run(tf.global_variables_initializer())
    types = {op.type for op in session.graph.get_operations()}
    return session.run([outputs] + gradients), types


@needs_compiler
@pytest.mark.parametrize("shape,scale", [
    ((5, 3, 24), 1.0),     # rank 3: rows are all but the last axis
    ((300, 40), 1e-3),     # small variance: epsilon and centring matter
    ((70, 33), 50.0),      # large offset below
    ((1, 1), 1.0)])        # one element: zero variance
def test_fused_layer_norm_equals_the_composite(shape, scale):
  rng = np.random.RandomState(1)
  x = (rng.normal(size=shape) * scale + 3.0 * scale).astype(np.float32)
  upstream = rng.normal(size=shape).astype(np.float32)
  gamma = rng.normal(size=shape[-1:]).astype(np.float32)
  beta = rng.normal(size=shape[-1:]).astype(np.float32)
  fused, fused_types = layer_norm_and_gradients(x, upstream, gamma, beta, True)
  composite, composite_types = layer_norm_and_gradients(x, upstream, gamma,
                                                        beta, False)
  assert "AlbertLayerNormGrad" in fused_types
  assert "AlbertLayerNorm" not in composite_types
  for name, have, want in zip(["y", "dx", "dgamma", "dbeta"], fused,
                              composite):
    np.testing.assert_allclose(have, want, rtol=1e-4,
                               atol=2e-5 * max(1.0, np.abs(want).max()),
                               err_msg=name)


@needs_compiler
def test_fused_softmax_gradient_equals_the_composite():
  rng = np.random.RandomState(2)
  logits = rng.normal(scale=4.0, size=(2, 3, 5, 37)).astype(np.float32)
  logits[0, :, :, 30:] -= 10000.0  # masked keys, as the attention bias does
  upstream = rng.normal(size=logits.shape).astype(np.float32)
  results = []
  for fused in (True, False):
    with tf.Graph().as_default() as graph, tf.Session() as session:
      inputs = tf.constant(logits)
      with modeling._fused_gradients(fused):
        probs = tf.nn.softmax(inputs)
      gradient = tf.gradients(probs, inputs, grad_ys=tf.constant(upstream))[0]
      types = {op.type for op in graph.get_operations()}
      assert ("AlbertSoftmaxGrad" in types) == fused
      results.append(session.run(gradient))
  np.testing.assert_allclose(results[0], results[1], rtol=1e-5, atol=1e-6)


@needs_compiler
@pytest.mark.parametrize("shape", [(300, 7), (2, 65, 33), (1, 5), (0, 4)])
def test_fused_bias_gradient_equals_the_composite(shape):
  rng = np.random.RandomState(4)
  features = rng.normal(size=shape).astype(np.float32)
  bias = rng.normal(size=shape[-1:]).astype(np.float32)
  upstream = rng.normal(size=shape).astype(np.float32)
  results = []
  for fused in (True, False):
    with tf.Graph().as_default() as graph, tf.Session() as session:
      inputs, offsets = tf.constant(features), tf.constant(bias)
      with modeling._fused_gradients(fused):
        outputs = tf.nn.bias_add(inputs, offsets)
      gradients = tf.gradients(outputs, [inputs, offsets],
                               grad_ys=tf.constant(upstream))
      types = {op.type for op in graph.get_operations()}
      assert ("AlbertBiasAddGrad" in types) == fused
      results.append(session.run(gradients))
  np.testing.assert_array_equal(results[0][0], upstream)
  np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-5,
                             atol=1e-5)
  np.testing.assert_allclose(results[0][1], upstream.reshape(-1, shape[-1]).sum(0),
                             rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("transpose_a", [False, True])
@pytest.mark.parametrize("transpose_b", [False, True])
@pytest.mark.parametrize("k,n", [(6, 13), (13, 6), (7, 7)])
def test_matmul_gradients_equal_tensorflows(transpose_a, transpose_b, k, n):
  rng = np.random.RandomState(5)
  a = rng.normal(size=(k, 9) if transpose_a else (9, k)).astype(np.float32)
  b = rng.normal(size=(n, k) if transpose_b else (k, n)).astype(np.float32)
  upstream = rng.normal(size=(9, n)).astype(np.float32)
  with tf.Graph().as_default() as graph, tf.Session() as session:
    inputs = [tf.constant(a), tf.constant(b)]
    product = tf.matmul(*inputs, transpose_a=transpose_a,
                        transpose_b=transpose_b)
    expected = tf.gradients(product, inputs, grad_ys=tf.constant(upstream))
    got = fused_ops.matmul_gradients(*inputs, tf.constant(upstream),
                                     transpose_a, transpose_b)
    batched = [op for op in graph.get_operations()
               if op.type == "BatchMatMulV2"]
    expected, got = session.run([expected, got])
  # The batched product serves the input gradient of a wide kernel only.
  assert bool(batched) == (not transpose_a and not transpose_b and n >= 2 * k)
  for want, have in zip(expected, got):
    np.testing.assert_allclose(have, want, rtol=1e-5, atol=1e-5)


@needs_compiler
def test_cross_entropy_kernel_names_a_label_outside_the_vocabulary():
  with tf.Graph().as_default(), tf.Session() as session:
    loss = modeling.softmax_cross_entropy(tf.zeros([3, 5]),
                                          tf.constant([0, 5, 1]), fused=True)
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"label 5 of row 1 is outside \[0, 5\)"):
      session.run(loss)


@needs_compiler
def test_layer_norm_kernel_rejects_a_gamma_of_the_wrong_width():
  with tf.Graph().as_default(), tf.Session() as session:
    outputs = fused_kernels().albert_layer_norm(
        tf.ones([2, 4]), tf.ones([3]), tf.zeros([3]), epsilon=1e-12)[0]
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match="gamma has 3 entries for an input of width 4"):
      session.run(outputs)


@needs_compiler
def test_a_built_library_is_reused_without_compiling(monkeypatch):
  path = fused_ops.build_library(fused_ops.BUILD_DIR)  # built by now
  def no_compiler(*args, **kwargs):
    raise AssertionError("compiled again: %s" % (args,))
  monkeypatch.setattr(fused_ops.subprocess, "run", no_compiler)
  assert fused_ops.build_library(fused_ops.BUILD_DIR) == path


def test_missing_compiler_is_a_clear_error_and_leaves_nothing(tmp_path):
  with pytest.raises(fused_ops.BuildError, match="install g\\+\\+ or set CXX"):
    fused_ops.build_library(str(tmp_path), compiler="/nonexistent/c++")
  assert os.listdir(str(tmp_path)) == []


def test_failed_compilation_names_the_source_and_leaves_nothing(tmp_path):
  with pytest.raises(fused_ops.BuildError, match="fused_ops.cc"):
    fused_ops.build_library(str(tmp_path), compiler="false")
  assert os.listdir(str(tmp_path)) == []


def test_unbuildable_kernel_falls_back_to_the_composite(monkeypatch):
  def fail(build_dir):
    raise fused_ops.BuildError("no compiler here")
  monkeypatch.setattr(fused_ops, "build_library", fail)
  monkeypatch.setattr(fused_ops, "_state", {})
  assert modeling.get_activation("gelu", fused=True) is modeling.gelu
  assert modeling.get_activation("relu", fused=True) is tf.nn.relu
  with tf.Graph().as_default() as graph:
    modeling.layer_norm(tf.ones([2, 4]), fused=True)
    assert "Rsqrt" in {op.type for op in graph.get_operations()}
