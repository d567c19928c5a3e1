"""The compiled SE tail (`nets.layers.se_tail`) against TensorFlow's ops.

The op computes relu(x * gates + shortcut) and its gradient in one pass each;
the SE units of every style use it in the 'standard' and 'identity'
placements. These tests pin values and gradients to the composite ops (op by
op and through whole networks, training and inference), the squeeze from
conv3's input (`layers.squeeze_before`) to the squeeze of its output, the
fallback when the library cannot be built, and exported graphs to standard
ops only.
"""
import logging

import numpy as np
import pytest

from evaluation import export
from modeling import model_builder
from nets import layers
from nets.layers import se_tail
from runtime.tf_compat import slim, tf, v1
from tests import se_testlib

NUM_CLASSES = 10
SIZE = 32

needs_library = pytest.mark.skipif(
    se_tail.library() is None,
    reason='the SE tail library could not be built here (see the log)')


def _tensors(shape, dtype, seed):
  rng = np.random.RandomState(seed)
  x = rng.normal(0.0, 1.0, shape).astype(dtype)
  gates = rng.uniform(0.0, 1.0, (shape[0], shape[-1])).astype(dtype)
  shortcut = rng.normal(0.0, 1.0, shape).astype(dtype)
  return x, gates, shortcut


def _composite(x, gates, shortcut):
  return tf.nn.relu(x * gates[:, tf.newaxis, tf.newaxis, :] + shortcut)


@needs_library
@pytest.mark.parametrize('shape', [[2, 5, 3, 7], [1, 1, 1, 1], [3, 28, 28, 64]])
def test_tail_and_its_gradient_match_the_composite(shape):
  x, gates, shortcut = _tensors(shape, np.float32, seed=1)
  dy = np.random.RandomState(2).normal(0.0, 1.0, shape).astype(np.float32)
  with tf.Graph().as_default() as graph:
    inputs = [tf.constant(v) for v in (x, gates, shortcut)]
    fused = se_tail.scale_add_relu(*inputs)
    plain = _composite(*inputs)
    fused_grads = tf.gradients(fused, inputs, grad_ys=dy)
    plain_grads = tf.gradients(plain, inputs, grad_ys=dy)
    assert {op.type for op in graph.get_operations()} >= {
        'SlimSenetScaleAddRelu', 'SlimSenetScaleAddReluGrad',
        'SlimSenetChannelAffine'}
    with v1.Session() as session:
      got, want = session.run([[fused] + fused_grads,
                               [plain] + plain_grads])
  for name, a, b in zip(['y', 'd_x', 'd_gates', 'd_shortcut'], got, want):
    assert a.shape == b.shape, name
    # Same products and sums; d_gates sums H*W products in another order.
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5, err_msg=name)


@needs_library
def test_gradient_matches_finite_differences():
  x, gates, shortcut = _tensors([2, 3, 4, 5], np.float64, seed=3)
  # Keep x * gates + shortcut away from the ReLU's kink.
  shortcut += np.sign(x * gates[:, None, None, :] + shortcut) * 0.1
  with tf.Graph().as_default(), v1.Session():
    inputs = [tf.constant(v) for v in (x, gates, shortcut)]
    y = se_tail.scale_add_relu(*inputs)
    for tensor, value in zip(inputs, (x, gates, shortcut)):
      theoretical, numerical = v1.test.compute_gradient(
          tensor, value.shape, y, y.shape.as_list(), x_init_value=value,
          delta=1e-6)
      np.testing.assert_allclose(theoretical, numerical, atol=1e-6)


@needs_library
def test_channel_affine_and_bad_shapes():
  x, scale, shift = _tensors([2, 4, 4, 3], np.float32, seed=4)
  shift = shift[:, 0, 0, :]
  with tf.Graph().as_default(), v1.Session() as session:
    got = session.run(se_tail.channel_affine(x, scale, shift))
    np.testing.assert_allclose(
        got, x * scale[:, None, None, :] + shift[:, None, None, :],
        rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match='Dimensions must be equal'):
      se_tail.scale_add_relu(x, scale[:, :2], x)
    unknown = v1.placeholder(tf.float32, [None, None])
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r'gates must be \[N, C\] = \[2, 3\]'):
      session.run(se_tail.scale_add_relu(x, unknown, x),
                  {unknown: np.ones([2, 2], np.float32)})


def _network(style, placement, is_training, custom_ops, se_gradient,
             squeeze_early):
  """Logits and gradients (loss w.r.t. images and every variable)."""
  inputs = se_testlib.images(3, SIZE, seed=2)
  with tf.Graph().as_default() as graph, slim.arg_scope(
      [layers.squeeze_excitation], custom_ops=custom_ops,
      se_gradient=se_gradient), slim.arg_scope(
          [layers.squeeze_before], enabled=squeeze_early):
    images = tf.constant(inputs)
    logits, _ = se_testlib.build(
        'se_resnet_v1_14', images, NUM_CLASSES, style=style,
        is_training=is_training, se_placement=placement,
        se_fc2_bias_init=0.5, **se_testlib.TINY)
    op_types = {op.type for op in graph.get_operations()}
    loss = v1.losses.sparse_softmax_cross_entropy(tf.constant([0, 4, 9]),
                                                  logits)
    variables = sorted(v1.trainable_variables(), key=lambda v: v.op.name)
    grads = tf.gradients(loss, [images] + variables)
    with v1.Session() as session:
      session.run(v1.global_variables_initializer())
      se_testlib.randomize(session, v1.global_variables(), seed=3)
      values = session.run([logits] + grads)
  names = ['logits', 'images'] + [v.op.name for v in variables]
  return dict(zip(names, values)), op_types


def _assert_close(got, want):
  assert sorted(got) == sorted(want)
  assert np.max(np.abs(want['images'])) > 0
  for name, value in want.items():
    # (A ReLU may be dead for all three images: a zero gradient, also here.)
    scale = np.max(np.abs(value))
    np.testing.assert_allclose(got[name], value, rtol=0, atol=1e-5 * scale,
                               err_msg=name)


@needs_library
@pytest.mark.parametrize('style,placement,is_training', [
    ('slim', 'standard', True), ('keras', 'standard', True),
    ('raw', 'identity', True), ('raw', 'standard', False),
    ('keras', 'identity', False)])
def test_network_with_the_compiled_tail_matches_autodiff(style, placement,
                                                          is_training):
  reference, plain_types = _network(style, placement, is_training,
                                    custom_ops=False, se_gradient='autodiff',
                                    squeeze_early=False)
  assert not any(t.startswith('SlimSenet') for t in plain_types)
  for se_gradient in ('one_pass', 'autodiff'):
    got, op_types = _network(style, placement, is_training, custom_ops=True,
                             se_gradient=se_gradient, squeeze_early=True)
    assert 'SlimSenetScaleAddRelu' in op_types
    _assert_close(got, reference)


@pytest.mark.parametrize('style', se_testlib.STYLES)
def test_squeeze_before_conv3_is_the_mean_of_its_output(style):
  with tf.Graph().as_default() as graph:
    images = tf.constant(se_testlib.images(3, SIZE, seed=5))
    _, end_points = se_testlib.build('se_resnet_v1_14', images, NUM_CLASSES,
                                     style=style, is_training=False,
                                     **se_testlib.TINY)
    unit = 'se_resnet_v1_14/block1/unit_1/bottleneck_v1'
    fc1 = [op for op in graph.get_operations()
           if op.name.startswith(unit + '/se/fc1/') and op.type == 'MatMul']
    assert len(fc1) == 1
    squeezed = fc1[0].inputs[0]
    # The squeeze reads conv3's input (a quarter of its output's channels).
    assert any(op.name.startswith(unit + '/squeeze_input/')
               for op in graph.get_operations())
    mean = tf.reduce_mean(end_points[unit + '/conv3'], [1, 2])
    with v1.Session() as session:
      session.run(v1.global_variables_initializer())
      se_testlib.randomize(session, v1.global_variables(), seed=6)
      got, want = session.run([squeezed, mean])
  np.testing.assert_allclose(got, want, rtol=0,
                             atol=1e-6 * np.max(np.abs(want)))


def test_squeeze_before_only_where_exact_and_cheaper():
  with tf.Graph().as_default():
    def layer(pooled):
      return tf.tile(pooled, [1, 1, 1, 4])
    big = tf.zeros([2, 8, 8, 16])
    assert layers.squeeze_before(big, layer, 64, is_training=False) is not None
    # Batch statistics do not commute with the mean.
    assert layers.squeeze_before(big, layer, 64, is_training=True) is None
    assert layers.squeeze_before(big, layer, 64, is_training=None) is None
    assert layers.squeeze_before(big, layer, 64, is_training=False,
                                 enabled=False) is None
    # 3 * 1 * 2 * 2 <= 64: reading the layer's weights again costs more than
    # reading its output once.
    small = tf.zeros([1, 2, 2, 16])
    assert layers.squeeze_before(small, layer, 64, is_training=False) is None


def test_without_the_library_the_composite_ops_run(monkeypatch, tmp_path,
                                                   caplog):
  monkeypatch.setattr(se_tail, '_state', {})
  monkeypatch.setenv(se_tail.DIR_VARIABLE, str(tmp_path))
  monkeypatch.setenv('CXX', str(tmp_path / 'no-such-compiler'))
  with caplog.at_level(logging.WARNING):
    assert se_tail.library() is None
    assert se_tail.library() is None
  warnings = [r for r in caplog.records if 'SE tail op' in r.getMessage()]
  assert len(warnings) == 1
  x, gates, shortcut = _tensors([2, 3, 3, 4], np.float32, seed=7)
  with tf.Graph().as_default() as graph, v1.Session() as session:
    y = se_tail.scale_add_relu(x, gates, shortcut)
    assert not any(op.type.startswith('SlimSenet')
                   for op in graph.get_operations())
    np.testing.assert_allclose(
        session.run(y),
        np.maximum(x * gates[:, None, None, :] + shortcut, 0.0), rtol=1e-6)


def test_switched_off_by_the_environment(monkeypatch):
  monkeypatch.setattr(se_tail, '_state', {})
  monkeypatch.setenv(se_tail.DISABLE_VARIABLE, '0')
  assert se_tail.library() is None
  assert not se_tail.available()


@needs_library
def test_exported_graph_has_standard_ops_only():
  config = model_builder.ModelConfig(
      'se_resnet_v1_14', image_size=SIZE,
      model_options={'depth_multiplier': 0.125})
  built = export.build_inference_graph(config, NUM_CLASSES, batch_size=2)
  op_types = {op.type for op in built.graph.get_operations()}
  assert 'Sigmoid' in op_types
  assert not any(t.startswith('SlimSenet') for t in op_types)
