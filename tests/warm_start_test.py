"""Warm-starting SE-ResNet v1 from a plain ResNet v1 checkpoint.

A random `resnet_v1_14` checkpoint (depth multiplier 1/8) plays Slim's
`resnet_v1_50.ckpt`; the full-size mapping is exercised by the oracle test
in se_resnet_test.py.
"""
import numpy as np
import pytest

from checkpointing import checkpoints
from diagnostics import warm_start_distance
from runtime.tf_compat import tf
from tests import se_testlib

v1 = tf.compat.v1
TINY = se_testlib.TINY
NUM_CLASSES = 10


@pytest.fixture(scope='module')
def plain_checkpoint(tmp_path_factory):
  path, _ = se_testlib.write_random_checkpoint(
      str(tmp_path_factory.mktemp('plain') / 'resnet_v1_14.ckpt'),
      'resnet_v1_14', NUM_CLASSES, seed=11, **TINY)
  return path


def _se_graph(style='raw', num_classes=NUM_CLASSES, **options):
  images = v1.placeholder(tf.float32, [None, 32, 32, 3])
  se_testlib.build('se_resnet_v1_14', images, num_classes, style=style,
                   **dict(TINY, **options))
  return v1.global_variables()


@pytest.mark.parametrize('style', ['raw', 'keras'])
def test_non_se_restored_exactly_se_reported_fresh(plain_checkpoint, style):
  reader = tf.train.load_checkpoint(plain_checkpoint)
  with tf.Graph().as_default():
    variables = _se_graph(style, se_fc2_bias_init=4.0)
    init_fn, report = checkpoints.warm_start_from_resnet(plain_checkpoint,
                                                         variables)
    with v1.Session() as session:
      session.run(v1.global_variables_initializer())
      init_fn(session)
      values = {checkpoints.slim_name(v): session.run(v) for v in variables}

  se_names = sorted(n for n in values if '/se/' in n)
  assert len(se_names) == 16
  assert sorted(report.fresh) == se_names
  assert not report.unused and not report.mismatched and not report.excluded
  restored = 0
  for name, value in values.items():
    if '/se/' in name:
      continue
    key = name.replace('se_resnet_v1_14/', 'resnet_v1_14/', 1)
    np.testing.assert_array_equal(value, reader.get_tensor(key), err_msg=key)
    restored += 1
  assert restored == len(report.restored) == len(
      reader.get_variable_to_shape_map())
  for name in se_names:
    if name.endswith('fc2/biases'):
      np.testing.assert_array_equal(values[name], np.full_like(values[name],
                                                               4.0))
  summary = report.summary()
  assert 'initialised fresh (16)' in summary and '/se/fc1/weights' in summary


def test_new_logits_need_fresh_logits(plain_checkpoint):
  with tf.Graph().as_default():
    variables = _se_graph(num_classes=7)
    with pytest.raises(checkpoints.CheckpointMismatchError) as error:
      checkpoints.warm_start_from_resnet(plain_checkpoint, variables)
    message = str(error.value)
    assert 'resnet_v1_14/logits/weights' in message
    assert '[1, 1, 256, 10]' in message and '[1, 1, 256, 7]' in message
    _, report = checkpoints.warm_start_from_resnet(
        plain_checkpoint, variables, fresh_logits=True)
  assert sorted(report.excluded) == ['se_resnet_v1_14/logits/biases',
                                     'se_resnet_v1_14/logits/weights']
  assert sorted(report.unused) == ['resnet_v1_14/logits/biases',
                                   'resnet_v1_14/logits/weights']


def test_shape_mismatch_names_variable_and_both_shapes(plain_checkpoint):
  with tf.Graph().as_default():
    variables = _se_graph(depth_multiplier=0.25)  # Twice the widths.
    with pytest.raises(checkpoints.CheckpointMismatchError) as error:
      checkpoints.warm_start_from_resnet(plain_checkpoint, variables)
  message = str(error.value)
  assert ('shape mismatch for resnet_v1_14/block1/unit_1/bottleneck_v1/'
          'conv1/weights: checkpoint [1, 1, 64, 8], model [1, 1, 64, 16]'
          in message)


def test_unknown_scope_maps_fail_clearly(plain_checkpoint):
  with tf.Graph().as_default():
    variables = _se_graph()
    with pytest.raises(checkpoints.CheckpointMismatchError,
                       match=r"no variables under scope 'resnet_v1_50'.*"
                       'resnet_v1_14'):
      checkpoints.warm_start_from_resnet(
          plain_checkpoint, variables, checkpoint_model_scope='resnet_v1_50')
    with pytest.raises(checkpoints.CheckpointMismatchError,
                       match=r"model has no variables under scope "
                       r"'se_resnet_v1_50'.*se_resnet_v1_14"):
      checkpoints.warm_start_from_resnet(
          plain_checkpoint, variables, model_scope='se_resnet_v1_50')
  with tf.Graph().as_default():
    se_testlib.build('resnet_v1_14', v1.placeholder(tf.float32,
                                                    [None, 32, 32, 3]),
                     NUM_CLASSES, style='raw', **TINY)
    with pytest.raises(checkpoints.CheckpointMismatchError,
                       match='no variable is in an SE block.*resnet_v1_14'):
      checkpoints.warm_start_from_resnet(plain_checkpoint,
                                         v1.global_variables())


def test_logits_approach_the_plain_network_with_fc2_bias(tmp_path):
  """Step-0 distance of the warm-started network to the plain one."""
  images = se_testlib.images(4, 32, seed=3)
  path = warm_start_distance.synthetic_checkpoint(
      'resnet_v1_14', str(tmp_path / 'model.ckpt'), images,
      num_classes=NUM_CLASSES, **TINY)
  rows = warm_start_distance.logit_distances(
      path, 'se_resnet_v1_14', [0.0, 2.0, 5.0, 10.0, 20.0], images,
      num_classes=NUM_CLASSES, **TINY)
  relative = [row.relative for row in rows]
  assert relative == sorted(relative, reverse=True)
  assert relative[0] > 0.1          # Gates near 0.5 change the function.
  assert relative[3] < 1e-3         # sigmoid(10) = 0.99995.
  assert relative[4] == 0.0         # sigmoid(20) rounds to 1.0 in float32.
  assert rows[4].min_gate == 1.0 and rows[0].mean_gate < 0.6
