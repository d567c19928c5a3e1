"""checkpointing.names: the one Keras/Slim name rule, checked on every variable
a training graph of each style creates (weights, batch norm, SE layers,
optimizer slots and moving averages)."""
import pytest

from checkpointing import checkpoints
from checkpointing import names
from runtime.tf_compat import tf, v1
from tests import se_testlib

SIZE = 32


def _training_variables(style):
  """Every global variable of a tiny SE-ResNet training graph in `style`:
  the network, Momentum slots and moving averages."""
  with tf.Graph().as_default():
    logits, _ = se_testlib.build(
        'se_resnet_v1_14', v1.placeholder(tf.float32, [2, SIZE, SIZE, 3]), 10,
        style=style, is_training=True, **se_testlib.TINY)
    loss = tf.reduce_mean(logits)
    v1.train.MomentumOptimizer(0.1, 0.9).minimize(loss)
    v1.train.ExponentialMovingAverage(0.9).apply(v1.trainable_variables())
    return {v.op.name: v.shape.as_list() for v in v1.global_variables()}


@pytest.fixture(scope='module')
def styles():
  return {style: _training_variables(style) for style in ('slim', 'keras')}


def test_keras_names_map_to_the_slim_styles_names_slots_included(styles):
  keras = styles['keras']
  mapped = {names.keras_to_slim_name(n): s for n, s in keras.items()}
  assert mapped == styles['slim']
  # Every kind of variable the keras style makes took part.
  for part in ('/conv1/kernel', '/conv1/BatchNorm/gamma',
               '/BatchNorm/moving_variance', '/se/fc1/kernel', '/se/fc2/bias',
               '/logits/bias', '/kernel/Momentum',
               '/bias/ExponentialMovingAverage'):
    assert any(part in n for n in keras), part


def test_the_inverse_rule_gives_the_keras_names_back(styles):
  for name in styles['keras']:
    assert names.slim_to_keras_name(names.keras_to_slim_name(name)) == name
  for name in styles['slim']:
    assert names.keras_to_slim_name(name) == name  # Slim names pass as is.


def test_the_rule_on_single_names():
  assert names.keras_to_slim_name('a/se/fc1/kernel:0') == 'a/se/fc1/weights'
  assert (names.keras_to_slim_name('a/fc/bias/Momentum') ==
          'a/fc/biases/Momentum')
  assert (names.keras_to_slim_name('a/conv1/BatchNorm/beta') ==
          'a/conv1/BatchNorm/beta')
  assert (names.slim_to_keras_name('a/logits/weights/ExponentialMovingAverage')
          == 'a/logits/kernel/ExponentialMovingAverage')
  assert checkpoints.keras_to_slim_name is names.keras_to_slim_name


def test_a_saver_map_refuses_two_variables_of_one_name():
  with tf.Graph().as_default():
    v1.get_variable('net/fc/kernel', [2])
    v1.get_variable('net/fc/weights', [2])
    with pytest.raises(ValueError, match='both map to checkpoint name '
                       'net/fc/weights'):
      names.slim_named_variables(v1.global_variables())


def test_steps_scopes_and_the_scope_map():
  assert names.checkpoint_step('/tmp/train/model.ckpt-120') == 120
  assert names.checkpoint_step('/tmp/model.ckpt') is None
  assert names.checkpoint_step(None) is None
  assert names.top_scopes(['b/x', 'a/y', 'global_step', 'a/z']) == ['a', 'b']
  assert names.map_scope('se_net/conv1/weights', 'se_net', 'net') == (
      'net/conv1/weights')
  assert names.map_scope('se_netx/conv1', 'se_net', 'net') == 'se_netx/conv1'
  assert names.map_scope('se_net/conv1', None, 'net') == 'se_net/conv1'
  assert names.in_scope('net/logits/weights:0', 'net/logits/')
  assert not names.in_scope('net/logits_aux/weights', 'net/logits')
  assert names.in_scopes('net/block1/unit_1/bottleneck_v1/se/fc1/weights',
                         ['x', 'net/*/se'])
