"""Inference batch norm folded into its conv: same values, fewer passes.

`nets.layers.batch_norm_folding.fold` rewrites conv -> inference batch norm
[-> activation] as conv(x, W * s) + b; `layers.conv2d` applies it in every
style unless `fold_batch_norm=False`. These tests pin the values against the
unfolded ops (forward and gradients), what is and is not folded, that the
networks' end points are the folded tensors, and the point of it all: that
TF's grappler then fuses the residual addition and ReLU into the conv.
"""
import numpy as np
import pytest

from diagnostics import model_summary
from nets import layers
from nets import nets_factory
from nets.layers import batch_norm_folding
from runtime.tf_compat import slim, tf, v1
from tests import se_testlib

BATCH_NORM_TYPES = ('FusedBatchNorm', 'FusedBatchNormV2', 'FusedBatchNormV3')


def _upstream_types(tensors):
  return [op.type for op in model_summary.upstream_ops(tensors)]


def _relative_difference(got, expected):
  return np.max(np.abs(got - expected)) / np.max(np.abs(expected))


def _conv_batch_norm(inputs, rng, kernel, stride, padding, rate, activation,
                     is_training=False, with_reference=False):
  """Conv2D -> FusedBatchNormV3 [-> activation] with random variables.

  With `with_reference`, also the same chain through `tf.nn.convolution`
  (for the expected values): (outputs, reference).
  """
  depth_in, depth = inputs.shape.as_list()[-1], 6
  weights = v1.get_variable('weights', initializer=rng.normal(
      0, 0.3, [kernel, kernel, depth_in, depth]).astype(np.float32))
  statistics = [v1.get_variable(name, initializer=rng.uniform(
      low, high, [depth]).astype(np.float32)) for name, low, high in (
          ('gamma', 0.5, 1.5), ('beta', -0.3, 0.3),
          ('moving_mean', -0.3, 0.3), ('moving_variance', 0.5, 1.5))]
  if padding == 'EXPLICIT':
    conv = tf.raw_ops.Conv2D(input=inputs, filter=weights,
                             strides=[1, stride, stride, 1], padding=padding,
                             explicit_paddings=[0, 0, 1, 2, 2, 1, 0, 0],
                             dilations=[1, rate, rate, 1])
  else:
    conv = tf.nn.conv2d(inputs, weights, stride, padding, dilations=rate)
  outputs = _batch_norm(conv, statistics, activation, is_training)
  if not with_reference:
    return outputs
  # The same chain as the layer styles build it: an atrous conv through
  # SpaceToBatchND, which runs where a raw dilated Conv2D does not (stock CPU
  # kernels, oneDNN off).
  reference = _batch_norm(
      tf.nn.convolution(inputs, weights, stride, padding, dilations=rate),
      statistics, activation, is_training)
  return outputs, reference


def _batch_norm(conv, statistics, activation, is_training):
  gamma, beta, mean, variance = statistics
  if is_training:
    outputs, _, _ = v1.nn.fused_batch_norm(conv, gamma, beta, epsilon=1e-3)
  else:
    outputs, _, _ = v1.nn.fused_batch_norm(conv, gamma, beta, mean, variance,
                                           epsilon=1e-3, is_training=False)
  return activation(outputs) if activation else outputs


@pytest.mark.parametrize('kernel,stride,padding,rate,activation', [
    (3, 1, 'SAME', 1, tf.nn.relu),
    (3, 2, 'VALID', 1, None),
    (1, 1, 'SAME', 1, tf.nn.relu6),
    (3, 1, 'SAME', 2, tf.nn.elu),
    (3, 2, 'EXPLICIT', 1, lambda x: tf.nn.leaky_relu(x, alpha=0.3)),
    (5, 1, 'VALID', 1, tf.sigmoid),
])
def test_folded_equals_conv_then_batch_norm(kernel, stride, padding, rate,
                                            activation):
  rng = np.random.RandomState(0)
  with tf.Graph().as_default():
    images = tf.constant(rng.uniform(-1, 1, [2, 13, 11, 5]).astype(np.float32))
    if padding == 'EXPLICIT':  # tf.nn.convolution has no explicit pads.
      outputs = reference = _conv_batch_norm(images, rng, kernel, stride,
                                             padding, rate, activation)
    else:
      outputs, reference = _conv_batch_norm(images, rng, kernel, stride,
                                            padding, rate, activation,
                                            with_reference=True)
    variables_before = v1.global_variables()
    folded = batch_norm_folding.fold(outputs)
    assert folded is not None
    assert v1.global_variables() == variables_before
    assert folded.shape.as_list() == outputs.shape.as_list()
    types = _upstream_types([folded])
    assert not set(types) & set(BATCH_NORM_TYPES)
    assert types.count('Conv2D') == 1 and 'BiasAdd' in types
    # An atrous conv folds into SpaceToBatchND -> Conv2D -> BatchToSpaceND,
    # as tf.nn.convolution builds it: it runs with oneDNN on and off.
    assert ('SpaceToBatchND' in types) == (rate > 1)
    assert not [op for op in model_summary.upstream_ops([folded])
                if op.type == 'Conv2D'
                and list(op.get_attr('dilations')) != [1, 1, 1, 1]]
    if activation is not None:
      assert outputs.op.type in types
    loss = tf.reduce_sum(tf.square(folded))
    unfolded_loss = tf.reduce_sum(tf.square(reference))
    # Frozen batch norm (fine-tuning with is_training=False) trains through
    # the folded ops: the same gradients for every variable.
    trainable = [v for v in v1.trainable_variables()
                 if v.op.name != 'moving_mean'
                 and v.op.name != 'moving_variance']
    grads = tf.gradients(loss, trainable)
    unfolded_grads = tf.gradients(unfolded_loss, trainable)
    with v1.Session() as session:
      session.run(v1.global_variables_initializer())
      got, expected, got_grads, expected_grads = session.run(
          [folded, reference, grads, unfolded_grads])
  assert _relative_difference(got, expected) < 1e-5
  for name, a, b in zip([v.op.name for v in trainable], got_grads,
                        expected_grads):
    assert _relative_difference(a, b) < 1e-4, name


def test_what_is_not_folded():
  rng = np.random.RandomState(1)
  with tf.Graph().as_default():
    images = tf.constant(rng.uniform(-1, 1, [2, 9, 9, 3]).astype(np.float32))
    with v1.variable_scope('training'):
      training = _conv_batch_norm(images, rng, 3, 1, 'SAME', 1, tf.nn.relu,
                                  is_training=True)
    with v1.variable_scope('two_activations'):
      doubled = tf.nn.relu(tf.nn.relu(
          _conv_batch_norm(images, rng, 3, 1, 'SAME', 1, None)))
    with v1.variable_scope('no_conv'):
      gamma = tf.ones([3])
      no_conv, _, _ = v1.nn.fused_batch_norm(
          images, gamma, tf.zeros([3]), tf.zeros([3]), tf.ones([3]),
          is_training=False)
    assert batch_norm_folding.fold(training) is None
    assert batch_norm_folding.fold(doubled) is None
    assert batch_norm_folding.fold(no_conv) is None
    assert batch_norm_folding.fold(images) is None
  assert batch_norm_folding.fold(tf.ones([1, 2, 2, 1])) is None  # Eager.


def _build(style, is_training, fold, images):
  network_fn = nets_factory.get_network_fn(
      'se_resnet_v1_14', 10, is_training=is_training, style=style,
      fold_batch_norm=fold, **se_testlib.TINY)
  # The network's own batch norms only: the SE squeeze of conv3's input
  # (layers.squeeze_before, tests/se_tail_test.py) runs conv3 once more.
  with slim.arg_scope([layers.squeeze_before], enabled=False):
    return network_fn(images)


def test_worth_folding_weighs_output_against_weights():
  rng = np.random.RandomState(2)

  def chain(batch, size, depth_in, activation=None):
    with v1.variable_scope(None, default_name='conv'):
      images = tf.constant(np.zeros([batch or 1, size, size, depth_in],
                                    np.float32))
      if batch is None:
        images = v1.placeholder_with_default(images,
                                             [None, size, size, depth_in])
      return _conv_batch_norm(images, rng, 1, 1, 'SAME', 1, activation)

  with tf.Graph().as_default():
    # 6 outputs per pixel from depth_in inputs: weights 6 * depth_in.
    assert batch_norm_folding.worth_folding(chain(1, 8, 12))  # 384 vs 72.
    assert not batch_norm_folding.worth_folding(chain(1, 8, 12, tf.nn.relu))
    assert not batch_norm_folding.worth_folding(chain(1, 2, 40))  # 24 vs 240.
    assert batch_norm_folding.worth_folding(chain(16, 2, 40))  # 384 vs 240.
    assert not batch_norm_folding.worth_folding(chain(None, 2, 40))
    assert not batch_norm_folding.worth_folding(tf.zeros([2, 3, 3, 4]))


@pytest.mark.slow
@pytest.mark.parametrize('batch,folded', [(32, 20), (1, 14), (None, 14)])
def test_resnet_v1_50_folds_the_linear_batch_norms_that_pay(batch, folded):
  """The 20 linear conv + BN of ResNet-50 (16 conv3, 4 shortcuts) feed the
  residual additions; at batch 32 all are folded, for one image (or an
  unknown batch) not those with 7x7 outputs (block4, block3's last unit,
  which strides) nor block3's shortcut (512x1024 weights for 14x14x1024
  outputs). Convs followed by ReLU never are."""
  with tf.Graph().as_default():
    images = v1.placeholder(tf.float32, [batch, 224, 224, 3])
    logits, _ = nets_factory.get_network_fn(
        'resnet_v1_50', 1000, is_training=False)(images)
    types = _upstream_types([logits])
  assert types.count('Rsqrt') == folded
  assert types.count('FusedBatchNormV3') == 53 - folded


@pytest.mark.parametrize('style', se_testlib.STYLES)
def test_networks_fold_in_every_style_with_the_same_values(style):
  # 64x64 keeps block4's map at 2x2: raw and keras run a 1x1 conv of a 1x1
  # map as a matmul (nets.layers.pointwise), which is not folded.
  inputs = se_testlib.images(2, 64, seed=4)
  results = {}
  for fold in (True, False):
    with tf.Graph().as_default():
      images = tf.constant(inputs)
      logits, end_points = _build(style, False, fold, images)
      types = _upstream_types([logits] + list(end_points.values()))
      with v1.Session() as session:
        se_testlib.randomize(session, v1.global_variables(), seed=5)
        results[fold] = session.run(logits), types
  (folded, folded_types), (unfolded, unfolded_types) = (results[True],
                                                        results[False])
  # 17 convs with batch norm: conv1, 4 shortcuts, 4 units x 3 convs; the
  # 8 linear ones (conv3, shortcuts) are folded where they pay: blocks 1-2
  # at this size (batch 2; blocks 3-4 have 2x2 maps).
  assert unfolded_types.count('FusedBatchNormV3') == 17
  assert 'Rsqrt' not in unfolded_types
  assert folded_types.count('Rsqrt') == 4
  assert folded_types.count('FusedBatchNormV3') == 17 - 4
  assert _relative_difference(folded, unfolded) < 1e-5


def test_training_graphs_are_not_folded():
  with tf.Graph().as_default():
    logits, _ = _build('slim', True, True, tf.zeros([2, 32, 32, 3]))
    types = _upstream_types([logits])
  assert types.count('FusedBatchNormV3') == 17 and 'Rsqrt' not in types


def _fused_ops_after_grappler(fold):
  """The fused_ops lists of the convs the session actually runs.

  The SE tails in TensorFlow's ops (`custom_ops=False`): the compiled tail
  takes the residual addition in itself.
  """
  with tf.Graph().as_default(), slim.arg_scope(
      [layers.squeeze_excitation], custom_ops=False):
    logits, _ = _build('slim', False, fold, tf.constant(
        se_testlib.images(2, 64, seed=6)))
    options = v1.RunOptions(output_partition_graphs=True)
    metadata = v1.RunMetadata()
    with v1.Session() as session:
      session.run(v1.global_variables_initializer())
      session.run(logits, options=options, run_metadata=metadata)
  fused = []
  for partition in metadata.partition_graphs:
    for node in partition.node:
      if 'FusedConv2D' in node.op:
        fused.append(tuple(node.attr['fused_ops'].list.s))
  return fused


@pytest.mark.skipif(not batch_norm_folding.onednn_enabled(),
                    reason='the fusion is a oneDNN one; oneDNN is off here')
def test_grappler_fuses_the_residual_add_and_relu_into_the_conv():
  """What folding is for: Conv2D + BiasAdd + AddV2 + Relu becomes one op.

  SE-ResNet's residual branches end in the SE multiply, so the fusion lands
  on the projection shortcuts there (one per block in ResNet-14, folded in
  blocks 1-2 at 64x64); without folding, no conv takes the addition in.
  """
  with_add = [ops for ops in _fused_ops_after_grappler(True) if b'Add' in ops]
  assert len(with_add) == 2, with_add
  assert not [ops for ops in _fused_ops_after_grappler(False)
              if b'Add' in ops]
