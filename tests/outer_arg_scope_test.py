"""An outer Slim arg_scope reaches every conv, as in Slim's own ResNets.

Code written for Slim's `nets.resnet_v1` sets conv hyper-parameters from
outside: `with slim.arg_scope([slim.conv2d], outputs_collections=...)` around
`resnet_utils.stack_blocks_dense(...)` (or a whole builder) collects every
conv of every unit, and `slim.utils.convert_collection_to_dict` then holds
each `.../bottleneck_v1/{shortcut,conv1,conv2,conv3}`. Our slim style does the
same, whichever way a conv is built (`slim.conv2d`, batch norm folded in, the
logits as a matmul); the raw and keras styles honour the same argument set on
`layers.conv2d`. The oracle is tf-slim's own ResNet v1, tiny.
"""
import functools

import pytest

from runtime.tf_compat import slim, tf  # The shim, before tf_slim.nets.
from nets import layers
from nets import resnet_utils
from nets import resnet_v1
from tests import resnet_testlib as lib
from tf_slim.nets import resnet_utils as oracle_resnet_utils  # Oracle only.
from tf_slim.nets import resnet_v1 as oracle_resnet_v1  # Oracle only.

v1 = tf.compat.v1

COLLECTION = 'outer_end_points'
# (scope, base depth, units, stride): two units, so both a projection and an
# identity shortcut appear, and strided units.
BLOCKS = (('block1', 8, 2, 2), ('block2', 16, 2, 1))
SIZE = 32


def _blocks(module):
  return [module.resnet_v1_block(scope, base_depth=depth, num_units=units,
                                 stride=stride)
          for scope, depth, units, stride in BLOCKS]


def _outer_scope(style):
  """What code written for Slim sets; `layers.conv2d` for the other styles."""
  function = slim.conv2d if style == 'slim' else layers.conv2d
  return slim.arg_scope([function], outputs_collections=COLLECTION)


def _collected(build, arg_scope, outer, is_training):
  with tf.Graph().as_default():
    images = tf.zeros([2, SIZE, SIZE, 3])
    with slim.arg_scope(arg_scope()), outer():
      end_points = build(images, is_training)
    collected = slim.utils.convert_collection_to_dict(COLLECTION)
    return set(collected), set(end_points or {})


def _stack_blocks(module, utils):
  def build(images, is_training):
    with slim.arg_scope([slim.batch_norm] + [
        layers.get(style).batch_norm for style in lib.STYLES],
                        is_training=is_training):
      with v1.variable_scope('net'):
        utils.stack_blocks_dense(images, _blocks(module))
  return build


@functools.lru_cache(maxsize=None)
def _oracle_stack_blocks(is_training):
  collected, _ = _collected(
      _stack_blocks(oracle_resnet_v1, oracle_resnet_utils),
      oracle_resnet_v1.resnet_arg_scope, lambda: _outer_scope('slim'),
      is_training)
  return collected


@pytest.mark.parametrize('is_training', [False, True])
@pytest.mark.parametrize('style', lib.STYLES)
def test_stack_blocks_dense_collects_every_conv(style, is_training):
  """Inference folds batch norms into some convs (the linear ones of block1
  at this size); they are collected like the others."""
  expected = _oracle_stack_blocks(is_training)
  assert 'net/block1/unit_1/bottleneck_v1/shortcut' in expected
  assert 'net/block2/unit_2/bottleneck_v1/conv3' in expected
  assert len(expected) == 4 * 3 + 2  # 4 units x 3 convs, 2 shortcuts.
  got, _ = _collected(
      _stack_blocks(resnet_v1, resnet_utils),
      lambda: resnet_v1.resnet_arg_scope(style=style),
      lambda: _outer_scope(style), is_training)
  assert got == expected


def _whole_network(module):
  def build(images, is_training):
    _, end_points = module.resnet_v1(images, _blocks(module), num_classes=5,
                                     is_training=is_training, scope='net')
    return end_points
  return build


@functools.lru_cache(maxsize=None)
def _oracle_whole_network():
  return _collected(
      _whole_network(oracle_resnet_v1), oracle_resnet_v1.resnet_arg_scope,
      lambda: _outer_scope('slim'), False)


@pytest.mark.parametrize('style', lib.STYLES)
def test_builder_under_an_outer_scope_collects_as_slim(style):
  """The builder's own arg_scope wins inside it, in Slim as in ours: the
  outer collection gets what Slim's gets, the end points are Slim's."""
  expected, expected_end_points = _oracle_whole_network()
  got, end_points = _collected(
      _whole_network(resnet_v1),
      lambda: resnet_v1.resnet_arg_scope(style=style),
      lambda: _outer_scope(style), False)
  assert got == expected
  # Ours adds global_pool and spatial_squeeze (Slim's later versions do too).
  assert expected_end_points <= end_points
  assert {'net/block1/unit_1/bottleneck_v1/conv2', 'net/logits'} <= (
      end_points)


def test_outer_regularizer_and_activation_reach_every_slim_conv():
  """Including the logits (a matmul) and the folded convs."""

  def build(module, arg_scope):
    with tf.Graph().as_default() as graph:
      with slim.arg_scope(arg_scope()), slim.arg_scope(
          [slim.conv2d], weights_regularizer=slim.l2_regularizer(0.5),
          activation_fn=tf.nn.relu6):
        module.resnet_v1(tf.zeros([2, SIZE, SIZE, 3]), _blocks(module),
                         num_classes=5, is_training=False, scope='net')
      losses = v1.get_collection(v1.GraphKeys.REGULARIZATION_LOSSES)
      relu6 = [op for op in graph.get_operations() if op.type == 'Relu6']
      return len(losses), len(relu6)

  expected = build(oracle_resnet_v1, oracle_resnet_v1.resnet_arg_scope)
  assert expected[0] > 10 and expected[1] > 0
  assert build(resnet_v1,
               lambda: resnet_v1.resnet_arg_scope(style='slim')) == expected
