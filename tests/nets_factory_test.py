"""nets_factory: names, styles, options reaching the arg scope; a quiet import."""
import os
import subprocess
import sys

import numpy as np
import pytest

from runtime.tf_compat import tf
from nets import layers
from nets import nets_factory

v1 = tf.compat.v1

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESNET_NAMES = ['%sresnet_v1_%d' % (se, depth) for se in ('', 'se_')
                for depth in (50, 101, 152, 200)]


def test_network_names():
  names = nets_factory.network_names()
  assert names == sorted(names)
  assert set(RESNET_NAMES + ['simple_cnn']) <= set(names)
  for name in names:
    nets_factory.check_name(name)


def test_unknown_name_lists_the_names():
  with pytest.raises(ValueError) as error:
    nets_factory.get_network_fn('resnet_v1_51', 10)
  message = str(error.value)
  assert "'resnet_v1_51'" in message
  for name in nets_factory.network_names():
    assert name in message
  with pytest.raises(ValueError, match='simple_cnn'):
    nets_factory.check_name('')


def test_unknown_style_lists_the_styles():
  with pytest.raises(ValueError) as error:
    nets_factory.get_network_fn('resnet_v1_50', 10, style='tf1')
  message = str(error.value)
  assert "'tf1'" in message
  for style in layers.STYLES:
    assert style in message


def test_default_image_sizes():
  assert nets_factory.get_network_fn(
      'resnet_v1_50', 10).default_image_size == 224
  assert nets_factory.get_network_fn(
      'se_resnet_v1_101', 10).default_image_size == 224
  assert nets_factory.get_network_fn('simple_cnn', 10).default_image_size == 32
  network_fn = nets_factory.get_network_fn('resnet_v1_152', 10, style='raw')
  assert (network_fn.name, network_fn.style) == ('resnet_v1_152', 'raw')


def _fused_batch_norm_epsilons(graph):
  return {op.get_attr('epsilon') for op in graph.get_operations()
          if op.type.startswith('FusedBatchNorm')}


@pytest.mark.parametrize('style', layers.STYLES)
def test_options_reach_the_network(style):
  """weight_decay, is_training, depth_multiplier and the batch-norm options
  of the arg scope all take effect, in every style."""
  decay, epsilon, weight_decay = 0.9, 1e-3, 1e-3
  network_fn = nets_factory.get_network_fn(
      'resnet_v1_14', 6, weight_decay=weight_decay, is_training=True,
      style=style, depth_multiplier=0.125, batch_norm_decay=decay,
      batch_norm_epsilon=epsilon, batch_norm_scale=False)
  rng = np.random.RandomState(0)
  with tf.Graph().as_default() as graph:
    images = tf.constant(rng.uniform(-1, 1, [2, 32, 32, 3]), tf.float32)
    logits, end_points = network_fn(images)
    names = {v.name.split(':')[0].replace('/kernel', '/weights')
             for v in v1.global_variables()}
    weights = [v for v in v1.trainable_variables()
               if v.name.split(':')[0].endswith(('/weights', '/kernel'))]
    losses = v1.get_collection(v1.GraphKeys.REGULARIZATION_LOSSES)
    regularization = tf.add_n(losses)
    update_ops = v1.get_collection(v1.GraphKeys.UPDATE_OPS)
    moving_mean = [v for v in v1.global_variables()
                   if v.name.startswith('resnet_v1_14/conv1/BatchNorm/'
                                        'moving_mean')][0]
    with v1.Session() as session:
      session.run(v1.global_variables_initializer())
      weights_v, regularization_v = session.run([weights, regularization])
      session.run(update_ops)
      first = session.run(moving_mean)
      session.run(update_ops)
      second = session.run(moving_mean)
  assert logits.shape.as_list() == [2, 6]
  assert 'resnet_v1_14/block1' in end_points
  # depth_multiplier 0.125: block widths 8, 16, 32, 64.
  assert end_points['resnet_v1_14/block4'].shape.as_list()[-1] == 256
  # weight_decay: Slim's l2_regularizer, wd * sum(w**2) / 2 over weights.
  assert len(losses) == len(weights)
  expected = weight_decay * sum((w ** 2).sum() for w in weights_v) / 2
  assert regularization_v == pytest.approx(expected, rel=1e-5)
  # batch_norm_scale=False: no gammas.
  assert 'resnet_v1_14/conv1/BatchNorm/beta' in names
  assert not [n for n in names if n.endswith('/gamma')]
  # batch_norm_decay: from 0, m1 = (1-d) mu and m2 = d m1 + (1-d) mu.
  np.testing.assert_allclose(second, (1 + decay) * first, rtol=1e-4,
                             atol=1e-7)
  assert np.abs(first).max() > 1e-4
  # batch_norm_epsilon.
  epsilons = _fused_batch_norm_epsilons(graph)
  assert epsilons and all(e == pytest.approx(epsilon) for e in epsilons)


@pytest.mark.parametrize('style', layers.STYLES)
def test_use_batch_norm_false(style):
  network_fn = nets_factory.get_network_fn(
      'resnet_v1_14', 6, style=style, depth_multiplier=0.125,
      use_batch_norm=False)
  with tf.Graph().as_default():
    network_fn(v1.placeholder(tf.float32, [1, 32, 32, 3]))
    names = [v.name.split(':')[0] for v in v1.global_variables()]
  assert not [n for n in names if 'BatchNorm' in n]
  biases = [n for n in names if n.endswith(('/biases', '/bias'))]
  convs = [n for n in names if n.endswith(('/weights', '/kernel'))]
  assert len(biases) == len(convs) > 10


@pytest.mark.slow
def test_import_is_quiet_and_leaves_eager_mode_on():
  """Importing the factory prints nothing (no C++ start-up lines) and leaves
  eager mode on."""
  env = {k: v for k, v in os.environ.items()
         if not k.startswith(('TF_CPP_', 'TF_ENABLE_ONEDNN'))}
  env['PYTHONPATH'] = REPO
  code = ('import nets.nets_factory, sys\n'
          'import tensorflow as tf\n'
          'sys.stdout.write("eager=%s" % tf.executing_eagerly())\n')
  result = subprocess.run([sys.executable, '-c', code], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120,
                          check=False)
  assert result.returncode == 0, result.stderr
  assert result.stderr == ''
  assert result.stdout == 'eager=True'


def test_import_in_this_process_left_eager_mode_on():
  assert tf.executing_eagerly()
