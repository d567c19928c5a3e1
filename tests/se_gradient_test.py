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
from runtime.tf_compat import tf, v1
from tests import se_testlib

NUM_CLASSES = 10
SIZE = 32


def _gradients(style, placement, fused, monkeypatch):
  """{slim name or 'images': gradient} of a training-mode loss."""
  monkeypatch.setattr(layers, 'FUSED_SE_GRADIENT', fused)
  inputs = se_testlib.images(3, SIZE, seed=2)
  with tf.Graph().as_default() as graph:
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
def test_one_pass_gradient_equals_autodiff(style, placement, monkeypatch):
  fused, fused_tiles = _gradients(style, placement, True, monkeypatch)
  plain, plain_tiles = _gradients(style, placement, False, monkeypatch)
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


@pytest.mark.parametrize('shape', [[2, 7, 5, 16], [3, 56, 56, 8]])
def test_pooled_squeeze_is_the_mean(shape):
  value = np.random.RandomState(6).normal(1.0, 1.0, shape).astype(np.float32)
  with tf.Graph().as_default():
    pooled = layers._squeeze(tf.constant(value), 'squeeze')  # pylint: disable=protected-access
    unknown = tf.compat.v1.placeholder(tf.float32, [None, None, None, 16])
    fallback = layers._squeeze(unknown, 'squeeze')  # pylint: disable=protected-access
    with v1.Session() as session:
      got = session.run(pooled)
      if shape[-1] == 16:
        np.testing.assert_array_equal(
            session.run(fallback, {unknown: value}),
            session.run(tf.reduce_mean(value, [1, 2])))
  assert got.shape == (shape[0], shape[-1])
  # A float32 sum over up to 3136 values: a few 1e-6 of rounding.
  np.testing.assert_allclose(got, value.astype(np.float64).mean((1, 2)),
                             rtol=1e-5)
