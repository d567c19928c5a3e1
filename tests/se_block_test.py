"""The squeeze-and-excitation block and its placements against NumPy.

gates = sigmoid(W2 . relu(W1 . mean_HW(x) + b1) + b2); output = x * gates,
checked on small tensors in every style, alone and inside a bottleneck unit
in each of the paper's four placements.
"""
import numpy as np
import pytest

from checkpointing import checkpoints
from nets import layers
from nets import resnet_v1
from runtime.tf_compat import slim, tf
from tests import se_testlib

v1 = tf.compat.v1
EPSILON = 1e-5  # Batch norm epsilon of layers.arg_scope (Slim's ResNets).


def _relu(x):
  return np.maximum(x, 0.0)


def _sigmoid(x):
  return 1.0 / (1.0 + np.exp(-x))


def np_se(x, p, prefix):
  """NumPy squeeze-and-excitation with the variables `<prefix>/fc{1,2}/*`."""
  squeezed = x.mean(axis=(1, 2))
  hidden = squeezed @ p[prefix + '/fc1/weights'] + p.get(
      prefix + '/fc1/biases', 0.0)
  gates = _sigmoid(_relu(hidden) @ p[prefix + '/fc2/weights'] +
                   p.get(prefix + '/fc2/biases', 0.0))
  return x * gates[:, None, None, :]


def np_conv(x, w, stride):
  """Conv with Slim's padding: (k-1)//2 before, the rest after, then VALID."""
  k = w.shape[0]
  before = (k - 1) // 2
  x = np.pad(x, [(0, 0), (before, k - 1 - before), (before, k - 1 - before),
                 (0, 0)])
  out_h = (x.shape[1] - k) // stride + 1
  out_w = (x.shape[2] - k) // stride + 1
  out = 0.0
  for i in range(k):
    for j in range(k):
      patch = x[:, i:i + stride * out_h:stride, j:j + stride * out_w:stride]
      out = out + patch @ w[i, j]
  return out


def np_conv_bn(x, p, prefix, stride=1, relu=True):
  y = np_conv(x, p[prefix + '/weights'], stride)
  y = ((y - p[prefix + '/BatchNorm/moving_mean']) /
       np.sqrt(p[prefix + '/BatchNorm/moving_variance'] + EPSILON) *
       p[prefix + '/BatchNorm/gamma'] + p[prefix + '/BatchNorm/beta'])
  return _relu(y) if relu else y


def np_bottleneck(x, p, prefix, depth, stride, placement):
  """The ResNet v1 bottleneck unit with SE at `placement`, in NumPy."""
  if x.shape[-1] == depth:
    shortcut = x[:, ::stride, ::stride]
  else:
    shortcut = np_conv_bn(x, p, prefix + '/shortcut', stride, relu=False)
  se = prefix + '/se'
  residual = np_se(x, p, se) if placement == 'pre' else x
  residual = np_conv_bn(residual, p, prefix + '/conv1')
  residual = np_conv_bn(residual, p, prefix + '/conv2', stride)
  residual = np_conv_bn(residual, p, prefix + '/conv3', relu=False)
  if placement == 'standard':
    residual = np_se(residual, p, se)
  if placement == 'identity':
    shortcut = np_se(shortcut, p, se)
  out = _relu(shortcut + residual)
  return np_se(out, p, se) if placement == 'post' else out


# (scope, channels, ratio, use_biases, fc2_bias_init, hidden width)
SE_CASES = (
    ('r4', 8, 4, True, 0.0, 2),
    ('r16_min_width', 8, 16, True, 3.0, 1),   # 8 // 16 = 0 -> 1 unit.
    ('no_biases', 12, 3, False, 0.0, 4),
)


@pytest.mark.parametrize('style', se_testlib.STYLES)
def test_se_block_matches_numpy(style):
  rng = np.random.RandomState(1)
  with tf.Graph().as_default():
    outputs, inputs = {}, {}
    with slim.arg_scope(layers.arg_scope(style, weight_decay=0.0)):
      for scope, channels, ratio, use_biases, bias_init, _ in SE_CASES:
        inputs[scope] = rng.normal(size=[2, 3, 4, channels]).astype(np.float32)
        with v1.variable_scope(scope):
          outputs[scope] = layers.squeeze_excitation(
              tf.constant(inputs[scope]), ratio=ratio, use_biases=use_biases,
              fc2_bias_init=bias_init)
    shapes = {checkpoints.slim_name(v): v.shape.as_list()
              for v in v1.global_variables()}
    with v1.Session() as session:
      session.run(v1.global_variables_initializer())
      initial = {checkpoints.slim_name(v): session.run(v)
                 for v in v1.global_variables()}
      params = se_testlib.randomize(session, v1.global_variables(), seed=2)
      got = session.run(outputs)

  for scope, channels, _, use_biases, bias_init, hidden in SE_CASES:
    expected_shapes = {scope + '/se/fc1/weights': [channels, hidden],
                       scope + '/se/fc2/weights': [hidden, channels]}
    if use_biases:
      expected_shapes.update({scope + '/se/fc1/biases': [hidden],
                              scope + '/se/fc2/biases': [channels]})
      np.testing.assert_array_equal(initial[scope + '/se/fc2/biases'],
                                    np.full([channels], bias_init))
    assert {k: s for k, s in shapes.items()
            if k.startswith(scope + '/')} == expected_shapes
    expected = np_se(inputs[scope].astype(np.float64), params, scope + '/se')
    np.testing.assert_allclose(got[scope], expected, rtol=1e-5, atol=1e-6)


# (scope, input channels, depth, bottleneck depth, stride): a projection
# shortcut at stride 1, and an identity (subsampled) shortcut at stride 2.
UNIT_CASES = (('projection', 8, 16, 4, 1), ('identity', 16, 16, 4, 2))


@pytest.mark.parametrize('style', se_testlib.STYLES)
def test_bottleneck_placements_match_numpy(style):
  rng = np.random.RandomState(3)
  unit_inputs = {case[0]: rng.normal(size=[2, 5, 5, case[1]]).astype(
      np.float32) for case in UNIT_CASES}
  outputs = {}
  with tf.Graph().as_default():
    with slim.arg_scope(layers.arg_scope(style, weight_decay=0.0)), \
         slim.arg_scope(layers.training_scope(False)):
      for placement in layers.SE_PLACEMENTS:
        for scope, _, depth, bottleneck_depth, stride in UNIT_CASES:
          name = '%s_%s' % (placement, scope)
          with v1.variable_scope(name):
            outputs[name] = resnet_v1.bottleneck(
                tf.constant(unit_inputs[scope]), depth, bottleneck_depth,
                stride, squeeze_excitation=resnet_v1.SqueezeExcitation(
                    ratio=4, placement=placement))
    with v1.Session() as session:
      params = se_testlib.randomize(session, v1.global_variables(), seed=4)
      got = session.run(outputs)

  results = {}
  for placement in layers.SE_PLACEMENTS:
    for scope, _, depth, _, stride in UNIT_CASES:
      name = '%s_%s' % (placement, scope)
      expected = np_bottleneck(unit_inputs[scope].astype(np.float64), params,
                               name + '/bottleneck_v1', depth, stride,
                               placement)
      np.testing.assert_allclose(got[name], expected, rtol=1e-4, atol=1e-5,
                                 err_msg=name)
      results[name] = expected
  # The placements are different functions (same shapes, other values).
  for scope, *_ in UNIT_CASES:
    values = [results['%s_%s' % (p, scope)] for p in layers.SE_PLACEMENTS]
    for i in range(len(values)):
      for j in range(i + 1, len(values)):
        assert np.max(np.abs(values[i] - values[j])) > 1e-3


def test_pre_placement_sizes_se_to_the_unit_input():
  with tf.Graph().as_default():
    with slim.arg_scope(layers.arg_scope('raw')), \
         slim.arg_scope(layers.training_scope(False)):
      resnet_v1.bottleneck(
          tf.zeros([1, 4, 4, 8]), 32, 8, 1,
          squeeze_excitation=resnet_v1.SqueezeExcitation(
              ratio=4, placement='pre'))
    shapes = {v.op.name: v.shape.as_list() for v in v1.global_variables()}
  assert shapes['bottleneck_v1/se/fc1/weights'] == [8, 2]
  assert shapes['bottleneck_v1/se/fc2/weights'] == [2, 8]


def test_squeeze_excitation_spec_errors():
  with pytest.raises(ValueError, match='standard, pre, post, identity'):
    resnet_v1.SqueezeExcitation(placement='after')
  with pytest.raises(ValueError, match='integer >= 1'):
    resnet_v1.SqueezeExcitation(ratio=0)
  with pytest.raises(ValueError, match='integer >= 1'):
    resnet_v1.SqueezeExcitation(ratio=2.5)
  with pytest.raises(ValueError, match='needs FC biases'):
    resnet_v1.SqueezeExcitation(use_biases=False, fc2_bias_init=5.0)
