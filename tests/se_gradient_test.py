"""The graph-mode SE block computes what the plain formulation computes.

In a graph, `nets.layers.squeeze_excitation` squeezes with one full-window
average pool and computes the gradient reaching the block's input as
`dy * gates + d_squeezed / (H*W)` in one broadcast pass instead of autodiff's
Mul + Tile + Mul + AddN, and the gates' gradient sums over H, W with the same
average pool (speed changes measured by
benchmarks/bench_models.py). These tests pin the numbers: the one-pass
gradient gives autodiff's gradients of every variable and of the images, and
the pooled squeeze is the mean up to float rounding.
"""
import numpy as np
import pytest

from nets import layers
from runtime.tf_compat import slim, tf, v1
from tests import se_testlib

NUM_CLASSES = 10
SIZE = 32


def _gradients(style, placement, fused):
  """{slim name or 'images': gradient} of a training-mode loss.

  Standard TensorFlow ops only (`custom_ops=False`; tests/se_tail_test.py
  covers the compiled tail).
  """
  inputs = se_testlib.images(3, SIZE, seed=2)
  se_gradient = 'one_pass' if fused else 'autodiff'
  with tf.Graph().as_default() as graph, slim.arg_scope(
      [layers.squeeze_excitation], se_gradient=se_gradient,
      custom_ops=False):
    images = tf.constant(inputs)
    logits, _ = se_testlib.build(
        'se_resnet_v1_14', images, NUM_CLASSES, style=style, is_training=True,
        weight_decay=1e-4, se_placement=placement, se_fc2_bias_init=0.5,
        **se_testlib.TINY)
    v1.losses.sparse_softmax_cross_entropy(tf.constant([0, 4, 9]), logits)
    loss = v1.losses.get_total_loss()
    variables = sorted(v1.trainable_variables(), key=lambda v: v.op.name)
    grads = tf.gradients(loss, [images] + variables)
    # Full-size gradients of the squeeze, as autodiff writes them.
    tiles = [op.name for op in graph.get_operations()
             if op.type in ('Tile', 'AvgPoolGrad') and '/se/' in op.name]
    with v1.Session() as session:
      session.run(v1.global_variables_initializer())
      se_testlib.randomize(session, variables + [
          v for v in v1.global_variables() if 'moving_' in v.op.name], seed=3)
      values = session.run([loss] + grads)
  names = ['loss', 'images'] + [v.op.name for v in variables]
  return dict(zip(names, values)), tiles


@pytest.mark.parametrize('style,placement', [
    ('slim', 'standard'), ('raw', 'standard'), ('keras', 'standard'),
    ('slim', 'identity')])
def test_one_pass_gradient_equals_autodiff(style, placement):
  fused, fused_tiles = _gradients(style, placement, True)
  plain, plain_tiles = _gradients(style, placement, False)
  assert sorted(fused) == sorted(plain)
  assert fused['loss'] == plain['loss']  # Same forward ops.
  for name, value in plain.items():
    scale = np.max(np.abs(value))
    assert scale > 0, name
    # d_gates sums over H, W as an average pool times H*W (faster than Sum),
    # so the last bits differ: measured <= 3e-6 of the largest entry.
    np.testing.assert_allclose(fused[name], value, rtol=0, atol=5e-6 * scale,
                               err_msg=name)
  # Autodiff spreads d_squeezed to full size in every SE block; the one-pass
  # gradient never does.
  assert len(plain_tiles) == 4 and not fused_tiles


@pytest.mark.parametrize('se_gradient,tiles', [('one_pass', 0),
                                               ('autodiff', 1)])
def test_layers_arg_scope_sets_the_se_gradient(se_gradient, tiles):
  with tf.Graph().as_default() as graph:
    inputs = tf.constant(se_testlib.images(2, 8, seed=1))
    with slim.arg_scope(layers.arg_scope('raw', se_gradient=se_gradient)):
      outputs = layers.squeeze_excitation(inputs, ratio=2)
    tf.gradients(outputs, inputs, grad_ys=inputs)
    found = [op for op in graph.get_operations()
             if op.type in ('Tile', 'AvgPoolGrad')]
  assert len(found) == tiles


def test_unknown_se_gradient_is_an_error():
  with pytest.raises(ValueError, match='Unknown se_gradient .*one_pass'):
    layers.arg_scope('raw', se_gradient='fused')
