"""The SE block's one-pass gradient equals plain autodiff, in every style.

`nets.layers.squeeze_excitation` computes the gradient reaching the block's
input as `dy * gates + d_squeezed / (H*W)` in one broadcast pass instead of
autodiff's Mul + Tile + Mul + AddN (a speed change measured by
benchmarks/bench_models.py). These tests pin that the numbers do not move:
gradients of every variable and of the images, and the training step's loss,
with the one-pass gradient on and off.
"""
import numpy as np
import pytest

from nets import layers
from nets.tf_compat import tf, v1
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
    tiles = [op.name for op in graph.get_operations()
             if op.type == 'Tile' and '/se/' in op.name]
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
  assert fused['loss'] == plain['loss']
  for name, value in plain.items():
    scale = np.max(np.abs(value))
    assert scale > 0, name
    np.testing.assert_allclose(fused[name], value, rtol=0, atol=1e-5 * scale,
                               err_msg=name)
  # Autodiff tiles d_squeezed to full size in every SE block; the one-pass
  # gradient never does.
  assert len(plain_tiles) == 4 and not fused_tiles


def test_inference_graph_has_the_same_values(monkeypatch):
  inputs = se_testlib.images(2, SIZE, seed=4)
  outputs = {}
  for fused in (True, False):
    monkeypatch.setattr(layers, 'FUSED_SE_GRADIENT', fused)
    with tf.Graph().as_default():
      logits, _ = se_testlib.build('se_resnet_v1_14', tf.constant(inputs),
                                   NUM_CLASSES, style='raw',
                                   **se_testlib.TINY)
      with v1.Session() as session:
        session.run(v1.global_variables_initializer())
        se_testlib.randomize(session, v1.global_variables(), seed=5)
        outputs[fused] = session.run(logits)
  np.testing.assert_array_equal(outputs[True], outputs[False])
