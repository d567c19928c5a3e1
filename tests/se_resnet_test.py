"""SE-ResNet v1: the three styles agree, the options work, and the oracle.

Structure tests use `se_resnet_v1_14` at depth multiplier 1/8 on small
images; the oracle test is full size (se_resnet_v1_50 at 224) because the
point there is the real network.
"""
import numpy as np
import pytest

from checkpointing import checkpoints
from nets import nets_factory
from nets import resnet_v1
from runtime.tf_compat import slim, tf
from tests import se_testlib

v1 = tf.compat.v1
TINY = se_testlib.TINY
NUM_CLASSES = 10
SIZE = 64


@pytest.fixture(scope='module')
def se_checkpoint(tmp_path_factory):
  path, _ = se_testlib.write_random_checkpoint(
      str(tmp_path_factory.mktemp('se14') / 'model.ckpt'), 'se_resnet_v1_14',
      NUM_CLASSES, SIZE, seed=5, **TINY)
  return path


def test_three_styles_same_logits_from_one_checkpoint(se_checkpoint):
  inputs = se_testlib.images(2, SIZE)
  logits = {style: se_testlib.restored_logits(
      style, 'se_resnet_v1_14', se_checkpoint, inputs, NUM_CLASSES, **TINY)
            for style in se_testlib.STYLES}
  assert np.max(np.abs(logits['slim'])) > 0.1
  for style in ('raw', 'keras'):
    assert se_testlib.relative_difference(logits[style],
                                          logits['slim']) <= 1e-5, style


def _training_step(style, checkpoint, inputs, labels):
  """Graph facts, loss, {slim name: gradient} and moving means of one step."""
  with tf.Graph().as_default():
    logits, end_points = se_testlib.build(
        'se_resnet_v1_14', tf.constant(inputs), NUM_CLASSES, style=style,
        is_training=True, weight_decay=1e-4, **TINY)
    keys = v1.GraphKeys
    facts = {
        'names': {v.op.name: v.shape.as_list()
                  for v in v1.global_variables()},
        'slim_names': {checkpoints.slim_name(v): v.shape.as_list()
                       for v in v1.global_variables()},
        'counts': {key: len(v1.get_collection(key)) for key in (
            keys.MODEL_VARIABLES, keys.TRAINABLE_VARIABLES, keys.UPDATE_OPS,
            keys.REGULARIZATION_LOSSES)},
        'end_points': sorted(end_points),
    }
    v1.losses.sparse_softmax_cross_entropy(labels, logits)
    loss = v1.losses.get_total_loss()
    variables = v1.trainable_variables()
    gradients = tf.gradients(loss, variables)
    moving = [v for v in v1.global_variables()
              if v.op.name.endswith('moving_mean')]
    with v1.Session() as session:
      checkpoints.restore(session, checkpoint)
      loss_value, grads = session.run([loss, gradients])
      session.run(v1.get_collection(v1.GraphKeys.UPDATE_OPS))
      moving_values = session.run(moving)
  return (facts, loss_value,
          {checkpoints.slim_name(v): g for v, g in zip(variables, grads)},
          {checkpoints.slim_name(v): m for v, m in zip(moving, moving_values)})


def test_three_styles_same_variables_and_training_step(se_checkpoint):
  inputs = se_testlib.images(4, SIZE, seed=1)
  labels = np.array([0, 3, 7, 9])
  steps = {style: _training_step(style, se_checkpoint, inputs, labels)
           for style in se_testlib.STYLES}
  facts = {style: step[0] for style, step in steps.items()}
  assert facts['raw']['names'] == facts['slim']['names']
  assert facts['keras']['slim_names'] == facts['slim']['names']
  for style in ('raw', 'keras'):
    assert facts[style]['counts'] == facts['slim']['counts'], style
    assert facts[style]['end_points'] == facts['slim']['end_points'], style
  names = facts['slim']['names']
  unit = 'se_resnet_v1_14/block4/unit_1/bottleneck_v1/se/'
  assert names[unit + 'fc1/weights'] == [256, 16]
  assert names[unit + 'fc1/biases'] == [16]
  assert names[unit + 'fc2/weights'] == [16, 256]
  assert names[unit + 'fc2/biases'] == [256]
  assert len([n for n in names if '/se/' in n]) == 4 * 4
  # SE weights are regularised like every other weight: 18 convs (conv1,
  # 4 units x (shortcut, conv1-3), logits) + 8 SE FCs.
  assert facts['slim']['counts'][v1.GraphKeys.REGULARIZATION_LOSSES] == 26

  _, loss, grads, moving = steps['slim']
  se_grads = [n for n in grads if '/se/' in n]
  assert len(se_grads) == 16 and all(np.any(grads[n]) for n in se_grads)
  for style in ('raw', 'keras'):
    _, other_loss, other_grads, other_moving = steps[style]
    assert abs(other_loss - loss) <= 1e-5 * abs(loss), style
    assert set(other_grads) == set(grads)
    for name, grad in grads.items():
      scale = max(np.max(np.abs(grad)), 1e-8)
      assert np.max(np.abs(other_grads[name] - grad)) <= 1e-4 * scale, (
          style, name)
    for name, value in moving.items():
      np.testing.assert_allclose(other_moving[name], value, rtol=1e-5,
                                 atol=1e-6, err_msg='%s %s' % (style, name))


def test_se_blocks_empty_is_the_plain_network(tmp_path):
  """The SE switch is the only difference: without SE blocks, se_resnet_v1
  is resnet_v1 under another scope (same variables, same logits)."""
  path, _ = se_testlib.write_random_checkpoint(
      str(tmp_path / 'plain.ckpt'), 'resnet_v1_14', NUM_CLASSES, 32, **TINY)
  inputs = se_testlib.images(2, 32)
  plain = se_testlib.restored_logits('raw', 'resnet_v1_14', path, inputs,
                                     NUM_CLASSES, **TINY)
  with tf.Graph().as_default():
    logits, _ = se_testlib.build('se_resnet_v1_14', tf.constant(inputs),
                                 NUM_CLASSES, style='raw', se_blocks=[],
                                 **TINY)
    with v1.Session() as session:
      report = checkpoints.restore(
          session, path, checkpoint_model_scope='resnet_v1_14',
          model_scope='se_resnet_v1_14')
      se = session.run(logits)
  assert not report.fresh and not report.unused
  np.testing.assert_array_equal(se, plain)


def _variables(model_name, style='raw', **options):
  with tf.Graph().as_default():
    se_testlib.build(model_name, v1.placeholder(tf.float32, [1, 32, 32, 3]),
                     NUM_CLASSES, style=style, **options)
    with v1.Session() as session:
      session.run(v1.global_variables_initializer())
      return {v.op.name: session.run(v) for v in v1.global_variables()
              if '/se/' in v.op.name}


def test_se_options_through_the_factory():
  unit = 'se_resnet_v1_14/block%d/unit_1/bottleneck_v1/se/'
  default = _variables('se_resnet_v1_14', **TINY)
  assert default[unit % 1 + 'fc1/weights'].shape == (32, 2)  # 32 // 16
  assert not np.any(default[unit % 1 + 'fc2/biases'])

  options = _variables('se_resnet_v1_14', se_ratio=8, se_use_biases=True,
                       se_fc2_bias_init=5.0, se_blocks=[3, 'block4'], **TINY)
  assert sorted({n.split('/')[1] for n in options}) == ['block3', 'block4']
  assert options[unit % 4 + 'fc1/weights'].shape == (256, 32)   # 256 // 8
  np.testing.assert_array_equal(options[unit % 4 + 'fc2/biases'],
                                np.full([256], 5.0, np.float32))

  no_biases = _variables('se_resnet_v1_14', se_use_biases=False,
                         se_ratio=64, **TINY)
  assert not [n for n in no_biases if n.endswith('biases')]
  assert no_biases[unit % 1 + 'fc1/weights'].shape == (32, 1)  # Width >= 1.

  identity = _variables('se_resnet_v1_14', se_placement='identity',
                        style='keras', **TINY)
  assert identity[unit % 2 + 'fc1/kernel'].shape == (64, 4)


def test_se_networks_registered():
  names = nets_factory.network_names()
  for depth in (50, 101, 152, 200):
    assert 'se_resnet_v1_%d' % depth in names
    fn = nets_factory.get_network_fn('se_resnet_v1_%d' % depth, 1000,
                                     se_ratio=8)
    assert fn.default_image_size == 224


def test_option_errors_are_clear():
  with tf.Graph().as_default():
    images = v1.placeholder(tf.float32, [1, 32, 32, 3])
    with pytest.raises(ValueError, match='se_resnet_v1_50'):
      nets_factory.get_network_fn('resnet_v1_50', 10, se_ratio=8)
    with pytest.raises(TypeError, match='se_ratio, se_use_biases'):
      nets_factory.get_network_fn('se_resnet_v1_14', 10,
                                  se_ration=8)(images)
    with pytest.raises(ValueError, match='valid blocks'):
      nets_factory.get_network_fn('se_resnet_v1_14', 10,
                                  se_blocks=[5])(images)
    with pytest.raises(ValueError, match='valid placements'):
      nets_factory.get_network_fn('se_resnet_v1_14', 10,
                                  se_placement='middle')(images)
    with pytest.raises(ValueError, match="needs style='keras'"):
      nets_factory.get_network_fn('se_resnet_v1_14', 10, is_training=None,
                                  style='raw')


@pytest.mark.slow
def test_oracle_full_size_se_resnet_v1_50(tmp_path):
  """se_resnet_v1_50 computes tf_slim's resnet_v1_50 when its SE gates are 1.

  How the SE blocks are made the identity: fc2's weights are set to zero and
  its biases to 30, so every gate is sigmoid(0 + 30). exp(-30) = 9.4e-14 is
  far below half a float32 ulp of 1 (6e-8), so sigmoid rounds to exactly 1.0
  (TF's float sigmoid also clamps its input above ~15.7 to give 1.0), and
  x * 1.0 == x bit for bit. Unlike `se_blocks=[]` this runs every SE op
  (squeeze, both FCs with a random fc1, the gates and the multiply), so it
  checks that the SE blocks sit where they do not disturb the rest of the
  network. The test asserts the gates are exactly 1.0 and the pooled features
  bit-identical; for that it builds ours with `fold_batch_norm=False`, the
  oracle's Conv2D -> FusedBatchNorm op for op (folding changes the rounding).

  The variables come from a random tf_slim resnet_v1_50 checkpoint with
  random batch norm statistics, restored into the SE network through the
  warm start (scope map resnet_v1_50 -> se_resnet_v1_50, SE left fresh).
  """
  from tf_slim.nets import resnet_v1 as oracle  # pylint: disable=g-import-not-at-top
  inputs = se_testlib.images(2, 224, seed=7)
  with tf.Graph().as_default():
    with slim.arg_scope(oracle.resnet_arg_scope()):
      oracle_logits, _ = oracle.resnet_v1_50(
          tf.constant(inputs), 1000, is_training=False)
    saver = v1.train.Saver()
    with v1.Session() as session:
      se_testlib.randomize(session, v1.global_variables(), seed=8)
      expected, expected_features = session.run(
          [tf.squeeze(oracle_logits, [1, 2]),
           v1.get_default_graph().get_tensor_by_name('resnet_v1_50/pool5:0')])
      path = saver.save(session, str(tmp_path / 'resnet_v1_50.ckpt'),
                        write_meta_graph=False)

  with tf.Graph().as_default():
    logits, end_points = se_testlib.build(
        'se_resnet_v1_50', tf.constant(inputs), 1000, style='raw',
        se_fc2_bias_init=30.0, fold_batch_norm=False)
    gates = [op.outputs[0] for op in v1.get_default_graph().get_operations()
             if op.type == 'Sigmoid' and '/se/fc2/' in op.name]
    se_variables = [v for v in v1.global_variables() if '/se/' in v.op.name]
    fc2_weights = [v for v in se_variables
                   if v.op.name.endswith('/se/fc2/weights')]
    init_fn, report = checkpoints.warm_start_from_resnet(
        path, v1.global_variables())
    with v1.Session() as session:
      session.run(v1.variables_initializer(se_variables))
      init_fn(session)
      for variable in fc2_weights:
        variable.load(np.zeros(variable.shape.as_list()), session)
      got, features, gate_values = session.run(
          [logits, end_points['global_pool'], gates])

  assert len(report.restored) == 267 and len(report.fresh) == 16 * 4
  assert not report.unused and not report.mismatched
  assert len(gate_values) == 16
  assert all(np.all(g == 1.0) for g in gate_values)
  # The network up to the logits, SE blocks included: bit-identical.
  np.testing.assert_array_equal(features, expected_features)
  # The logits: ours run the 1x1 conv of the pooled features as the matmul
  # it is (nets.layers.pointwise, several times faster than oneDNN's conv
  # of that shape), the same sums in another order.
  assert se_testlib.relative_difference(got, expected) <= 1e-5
