"""Inference batch norm folded into its conv while building: same values.

Each style's `conv2d`, told `fold_batch_norm` by `nets.layers.conv2d`, makes
its usual variables and emits conv(x, W * s) + b instead of conv -> batch
norm (`nets.layers.batch_norm_folding`). These tests pin the values against
the unfolded layers (forward and gradients), the variables and collections
(the same), what is and is not folded, that no op is left behind that
nothing runs, and the point of it all: that TF's grappler then fuses the
residual addition and ReLU into the conv.
"""
import numpy as np
import pytest

from diagnostics import model_summary
from nets import layers
from nets import nets_factory
from nets.layers import batch_norm_folding
from runtime.tf_compat import slim, tf, v1
from tests import resnet_testlib
from tests import se_testlib

BATCH_NORM_TYPES = ('FusedBatchNorm', 'FusedBatchNormV2', 'FusedBatchNormV3')
# Ops that compute (or fold) a layer; none may be left where nothing runs it.
COMPUTE_TYPES = ('Conv2D', 'MatMul', 'Rsqrt') + BATCH_NORM_TYPES


def _graph_types(graph):
  return [op.type for op in graph.get_operations()]


def _dead_compute_ops(graph, fetches):
  """Compute ops of `graph` that a run of `fetches` does not execute."""
  run = model_summary.upstream_ops(fetches)
  return [op.name for op in graph.get_operations()
          if op.type in COMPUTE_TYPES and op not in run]


def _relative_difference(got, expected):
  return np.max(np.abs(got - expected)) / np.max(np.abs(expected))


def _conv_layer(style, fold, inputs, kernel, stride, padding, rate,
                activation_fn=None, is_training=False):
  """One `layers.conv2d` with batch norm, in `style`, `fold` or not."""
  with slim.arg_scope(layers.arg_scope(style, weight_decay=1e-2,
                                       fold_batch_norm=fold)), \
       slim.arg_scope(layers.training_scope(is_training)):
    return layers.conv2d(inputs, 6, kernel, stride=stride, padding=padding,
                         rate=rate, activation_fn=activation_fn,
                         scope='conv')


@pytest.mark.parametrize('style', se_testlib.STYLES)
@pytest.mark.parametrize('kernel,stride,padding,rate', [
    (3, 1, 'SAME', 1),
    (3, 2, 'VALID', 1),
    (1, 1, 'SAME', 1),
    (3, 1, 'SAME', 2),
    (5, 2, 'SAME', 1),
])
def test_folded_conv_equals_conv_then_batch_norm(style, kernel, stride,
                                                 padding, rate):
  inputs = np.random.RandomState(0).uniform(
      -1, 1, [2, 13, 11, 5]).astype(np.float32)
  runs = {}
  for fold in (True, False):
    with tf.Graph().as_default() as graph:
      outputs = _conv_layer(style, fold, tf.constant(inputs), kernel, stride,
                            padding, rate)
      types = _graph_types(graph)
      summary = resnet_testlib.graph_summary(graph)
      # Frozen batch norm (fine-tuning with is_training=False) trains
      # through the folded ops: the same gradients for every variable.
      trainable = sorted(v1.trainable_variables(), key=lambda v: v.op.name)
      loss = tf.reduce_sum(tf.square(outputs)) + tf.add_n(
          v1.get_collection(v1.GraphKeys.REGULARIZATION_LOSSES))
      gradients = tf.gradients(loss, trainable)
      with v1.Session() as session:
        session.run(v1.global_variables_initializer())
        se_testlib.randomize(session, v1.global_variables(), seed=1)
        runs[fold] = (types, summary, outputs.shape.as_list(),
                      session.run([outputs, gradients]))
  (types, summary, shape, (got, got_grads)), (
      unfolded_types, unfolded_summary, unfolded_shape,
      (expected, expected_grads)) = runs[True], runs[False]
  assert summary == unfolded_summary  # Variables, collections, losses.
  assert shape == unfolded_shape
  assert unfolded_types.count('FusedBatchNormV3') == 1
  assert not set(types) & set(BATCH_NORM_TYPES)
  assert types.count('Conv2D') == 1 and 'BiasAdd' in types
  assert types.count('Rsqrt') == 1
  # An atrous conv folds into SpaceToBatchND -> Conv2D -> BatchToSpaceND,
  # as tf.nn.convolution builds it: it runs with oneDNN on and off.
  assert ('SpaceToBatchND' in types) == (rate > 1)
  assert _relative_difference(got, expected) < 1e-5
  for a, b in zip(got_grads, expected_grads):
    assert _relative_difference(a, b) < 1e-4


@pytest.mark.parametrize('style', se_testlib.STYLES)
def test_what_is_not_folded(style):
  cases = {
      'training': dict(is_training=True),
      'activation': dict(activation_fn=tf.nn.relu),  # oneDNN fuses it.
  }
  for name, kwargs in cases.items():
    with tf.Graph().as_default() as graph:
      _conv_layer(style, True, tf.zeros([2, 9, 9, 3]), 3, 1, 'SAME', 1,
                  **kwargs)
      types = _graph_types(graph)
    assert types.count('FusedBatchNormV3') == 1, name
    assert 'Rsqrt' not in types, name


def _folded_op_names(graph):
  return [op.name for op in graph.get_operations()
          if 'BatchNorm_folded' in op.name]


def test_slim_batch_norm_options_it_cannot_fold_keep_slim_batch_norm():
  """Batch renorm, or an is_training tensor: slim.batch_norm builds it."""
  for options in (dict(renorm=True),
                  dict(is_training=v1.placeholder_with_default(False, []))):
    with tf.Graph().as_default() as graph:
      with slim.arg_scope(layers.arg_scope('slim')), \
           slim.arg_scope(layers.training_scope(False)), \
           slim.arg_scope([slim.batch_norm], **options):
        layers.conv2d(tf.zeros([2, 9, 9, 3]), 6, 3, activation_fn=None)
      assert not _folded_op_names(graph), options
      assert [v for v in v1.global_variables()
              if v.op.name == 'Conv/BatchNorm/moving_mean'], options


def _build(style, is_training, fold, images):
  network_fn = nets_factory.get_network_fn(
      'se_resnet_v1_14', 10, is_training=is_training, style=style,
      fold_batch_norm=fold, **se_testlib.TINY)
  # The network's own batch norms only: the SE squeeze of conv3's input
  # (layers.squeeze_before, tests/se_tail_test.py) runs conv3 once more.
  with slim.arg_scope([layers.squeeze_before], enabled=False):
    return network_fn(images)


def test_worth_folding_weighs_output_against_weights():
  def worth(batch, size, depth_in, activation_fn=None, stride=1,
            padding='SAME'):
    # 6 outputs per pixel from depth_in inputs: weights 6 * depth_in.
    inputs = v1.placeholder(tf.float32, [batch, size, size, depth_in])
    return batch_norm_folding.worth_folding(
        inputs, [1, 1, depth_in, 6], stride=stride, padding=padding,
        activation_fn=activation_fn)

  with tf.Graph().as_default():
    assert worth(1, 8, 12)  # 384 vs 72.
    assert not worth(1, 8, 12, tf.nn.relu)
    assert not worth(1, 2, 40)  # 24 vs 240.
    assert worth(16, 2, 40)  # 384 vs 240.
    assert not worth(None, 2, 40)
    assert not worth(1, 8, 12, stride=4)  # 2x2 outputs: 24 vs 72.
    assert worth(1, None, 40)  # Unknown size counts as large.
    # 3x3 VALID on 4x4 with stride 1: 2x2 outputs, 24 vs 3 * 3 * 2 * 6.
    inputs = v1.placeholder(tf.float32, [1, 4, 4, 2])
    assert not batch_norm_folding.worth_folding(inputs, [3, 3, 2, 6],
                                                padding='VALID')
    assert batch_norm_folding.worth_folding(inputs, [3, 3, 2, 6],
                                            padding='SAME')  # 96 vs 108.


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
    logits, end_points = nets_factory.get_network_fn(
        'resnet_v1_50', 1000, is_training=False)(images)
    graph = tf.compat.v1.get_default_graph()
    types = _graph_types(graph)
    assert not _dead_compute_ops(graph, [logits] + list(end_points.values()))
  assert types.count('Rsqrt') == folded
  assert types.count('FusedBatchNormV3') == 53 - folded


@pytest.mark.parametrize('style', se_testlib.STYLES)
def test_networks_fold_in_every_style_with_the_same_values(style):
  # 64x64 keeps block4's map at 2x2, away from the 1x1 maps whose 1x1
  # convs run as matmuls (nets.layers.pointwise).
  inputs = se_testlib.images(2, 64, seed=4)
  results = {}
  for fold in (True, False):
    with tf.Graph().as_default() as graph:
      images = tf.constant(inputs)
      logits, end_points = _build(style, False, fold, images)
      types = _graph_types(graph)
      # Nothing built that nothing runs: the graph is what runs.
      assert not _dead_compute_ops(graph,
                                   [logits] + list(end_points.values()))
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
  with tf.Graph().as_default() as graph:
    _build('slim', True, True, tf.zeros([2, 32, 32, 3]))
    types = _graph_types(graph)
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
