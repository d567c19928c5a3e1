"""The Slim `resnet_v1` / `resnet_utils` API, in every layer style.

Sizes and counts of the full networks (graph construction only), and the
keyword arguments of the builders on a tiny network: output_stride (atrous
values equal the nominal network's, subsampled), include_root_block,
global_pool, unknown sizes, reuse, store_non_strided_activations,
num_classes=None, spatial_squeeze, and `conv2d_same`.
"""
import numpy as np
import pytest

from runtime.tf_compat import slim, tf
from nets import layers
from nets import resnet_utils
from nets import resnet_v1
from tests import resnet_testlib as lib

v1 = tf.compat.v1

STYLES = lib.STYLES


# --------------------------------------------------------------------------
# ResNet-50 at 224: variables, parameters, end points (Slim's naming).


def _expected_end_point_shapes(scope, batch, size, classes, units, widths):
  """End point shapes derived from Slim's rules (stride placement, widths)."""
  shapes = {scope + '/conv1': [batch, size // 2, size // 2, 64]}
  spatial = size // 4  # conv1 /2, pool1 /2.
  strides = resnet_v1.BLOCK_STRIDES
  for b, (num_units, width, stride) in enumerate(zip(units, widths, strides)):
    block = '%s/block%d' % (scope, b + 1)
    for u in range(num_units):
      unit = '%s/unit_%d/bottleneck_v1' % (block, u + 1)
      out = spatial // stride if u == num_units - 1 else spatial
      if u == 0:  # Depth changes: a projection shortcut, with the unit stride.
        shapes[unit + '/shortcut'] = [batch, out, out, 4 * width]
      shapes[unit + '/conv1'] = [batch, spatial, spatial, width]
      shapes[unit + '/conv2'] = [batch, out, out, width]
      shapes[unit + '/conv3'] = [batch, out, out, 4 * width]
      shapes[unit] = [batch, out, out, 4 * width]
    spatial //= stride
    shapes[block] = [batch, spatial, spatial, 4 * widths[b]]
  shapes['global_pool'] = [batch, 1, 1, 4 * widths[-1]]
  shapes[scope + '/logits'] = [batch, 1, 1, classes]
  shapes[scope + '/spatial_squeeze'] = [batch, classes]
  shapes['predictions'] = [batch, classes]
  return shapes


@pytest.fixture(scope='module')
def resnet50():
  graph = tf.Graph()
  with graph.as_default():
    images = v1.placeholder(tf.float32, [2, 224, 224, 3])
    logits, end_points = lib.build_in_style(
        'raw', resnet_v1.resnet_v1_50, images, 1000, is_training=True)
  return graph, logits, end_points


def test_resnet50_variables_and_parameters(resnet50):
  graph, logits, _ = resnet50
  with graph.as_default():
    variables = v1.global_variables()
    trainable = v1.trainable_variables()
    assert len(variables) == 267
    assert len(v1.model_variables()) == 267
    assert sum(np.prod(v.shape.as_list()) for v in trainable) == 25557032
    shapes = dict(lib.signature(variables))
  assert logits.shape.as_list() == [2, 1000]
  assert shapes['resnet_v1_50/conv1/weights'] == (7, 7, 3, 64)
  assert shapes['resnet_v1_50/logits/weights'] == (1, 1, 2048, 1000)
  assert shapes['resnet_v1_50/logits/biases'] == (1000,)
  unit = 'resnet_v1_50/block3/unit_6/bottleneck_v1/'
  assert shapes[unit + 'conv2/weights'] == (3, 3, 256, 256)
  assert shapes[unit + 'conv3/BatchNorm/gamma'] == (1024,)
  assert unit + 'shortcut/weights' not in shapes  # Pooled shortcut.
  # Every conv but the logits has batch norm and no bias.
  biases = [n for n in shapes if n.endswith('/biases')]
  assert biases == ['resnet_v1_50/logits/biases']


def test_resnet50_end_points_at_224(resnet50):
  _, _, end_points = resnet50
  expected = _expected_end_point_shapes(
      'resnet_v1_50', 2, 224, 1000, resnet_v1.UNITS_PER_BLOCK[50],
      resnet_v1.BASE_DEPTHS)
  assert len(end_points) == 77
  assert {k: v.shape.as_list() for k, v in end_points.items()} == expected
  assert expected['resnet_v1_50/block1'] == [2, 28, 28, 256]
  assert expected['resnet_v1_50/block4'] == [2, 7, 7, 2048]


def test_depth_table():
  assert resnet_v1.UNITS_PER_BLOCK[50] == (3, 4, 6, 3)
  assert resnet_v1.UNITS_PER_BLOCK[101] == (3, 4, 23, 3)
  assert resnet_v1.UNITS_PER_BLOCK[152] == (3, 8, 36, 3)
  assert resnet_v1.UNITS_PER_BLOCK[200] == (3, 24, 36, 3)
  blocks = resnet_v1.resnet_v1_blocks(101)
  assert [len(b.args) for b in blocks] == [3, 4, 23, 3]
  assert [b.args[-1]['stride'] for b in blocks] == [2, 2, 2, 1]
  assert all(a['stride'] == 1 for b in blocks for a in b.args[:-1])
  assert [b.args[0]['depth'] for b in blocks] == [256, 512, 1024, 2048]
  with pytest.raises(ValueError, match='valid depths: 14, 26, 50, 101'):
    resnet_v1.resnet_v1_blocks(34)


# --------------------------------------------------------------------------
# The builder's keywords, per style, on a tiny network. One graph per style
# holds the nominal network and reused variants of it (atrous, non-strided
# activations, unknown sizes), so each is built once.

SIZE = 81  # Slim's atrous test size: 81 = 32 * 2 + 17 keeps corners aligned.


@pytest.fixture(scope='module', params=STYLES)
def variants(request):
  style = request.param
  images = lib.ramp_images(2, SIZE, SIZE)
  out = {'style': style}
  with tf.Graph().as_default():
    inputs = tf.constant(images)

    def build(inputs, **kwargs):
      return lib.build_in_style(style, lib.tiny_resnet, inputs, 10,
                                global_pool=False, spatial_squeeze=False,
                                **kwargs)

    nominal, out['nominal_points'] = build(inputs)
    out['num_variables'] = len(v1.global_variables())
    fetch = {'nominal': nominal,
             'nominal_block4': out['nominal_points']['tiny/block4']}
    for output_stride in (8, 16):
      _, points = build(inputs, output_stride=output_stride, reuse=True)
      fetch['atrous%d' % output_stride] = points['tiny/block4']
    fetch['non_strided'], out['non_strided_points'] = build(
        inputs, store_non_strided_activations=True, reuse=True)
    out['unknown'] = v1.placeholder(tf.float32, [None, None, None, 3])
    out['unknown_logits'], _ = lib.build_in_style(
        style, lib.tiny_resnet, out['unknown'], 10, reuse=True)
    out['variables_after_reuse'] = len(v1.global_variables())
    for scope, reuse, message in (('tiny', None, 'already exists'),
                                  ('fresh', True, 'does not exist')):
      with pytest.raises(ValueError, match=message):
        build(inputs, scope=scope, reuse=reuse)
    session = v1.Session()
    session.run(v1.global_variables_initializer())
    lib.set_all_variables(session, v1.global_variables(), seed=2, scale=0.5)
    out.update(session.run(fetch))
    out['unknown_runs'] = {
        (batch, height, width): session.run(
            out['unknown_logits'],
            {out['unknown']: lib.ramp_images(batch, height, width)})
        for batch, height, width in ((2, SIZE, SIZE), (1, 33, 47))}
    session.close()
  return out


def test_nominal_fully_convolutional_shapes(variants):
  """global_pool=False keeps the grid: 81 -> 41 -> 21 -> 11 -> 6 -> 3."""
  points = variants['nominal_points']
  assert 'global_pool' not in points
  assert points['tiny/conv1'].shape.as_list() == [2, 41, 41, 64]
  blocks = [points['tiny/block%d' % b].shape.as_list() for b in (1, 2, 3, 4)]
  assert blocks == [[2, 11, 11, 8], [2, 6, 6, 16], [2, 3, 3, 32],
                    [2, 3, 3, 32]]
  assert variants['nominal'].shape == (2, 3, 3, 10)
  assert points['tiny/logits'].shape.as_list() == [2, 3, 3, 10]


@pytest.mark.parametrize('output_stride', [8, 16])
def test_atrous_values_equal_the_nominal_network_subsampled(variants,
                                                            output_stride):
  """Slim's testAtrousFullyConvolutionalValues: dense features at output
  stride 8 or 16, taken every 32/output_stride pixels, are the nominal ones."""
  nominal = variants['nominal_block4']
  dense = variants['atrous%d' % output_stride]
  factor = 32 // output_stride
  assert dense.shape == (2, (SIZE - 1) // output_stride + 1,
                         (SIZE - 1) // output_stride + 1, 32)
  assert lib.relative_difference(dense[:, ::factor, ::factor], nominal) <= 1e-4
  # The points in between are new values, not copies.
  between = dense[:, 1::factor, 1::factor][:, :2, :2]
  assert lib.relative_difference(between, nominal[:, :2, :2]) > 1e-2


def test_reuse_shares_variables(variants):
  assert variants['variables_after_reuse'] == variants['num_variables']
  assert variants['num_variables'] > 0


def test_store_non_strided_activations(variants):
  """Block end points before the block's subsampling; same final output."""
  shape = lambda points, b: points['tiny/block%d' % b].shape.as_list()[1:3]
  assert [shape(variants['nominal_points'], b) for b in (1, 2, 3, 4)] == [
      [11, 11], [6, 6], [3, 3], [3, 3]]
  assert [shape(variants['non_strided_points'], b) for b in (1, 2, 3, 4)] == [
      [21, 21], [11, 11], [6, 6], [3, 3]]
  assert lib.relative_difference(variants['non_strided'],
                                 variants['nominal']) <= 1e-5


def test_unknown_batch_and_spatial_size(variants):
  assert variants['unknown_logits'].shape.as_list() == [None, 10]
  runs = variants['unknown_runs']
  assert runs[(1, 33, 47)].shape == (1, 10)
  assert np.isfinite(runs[(1, 33, 47)]).all()
  # Global pooling commutes with the 1x1 logits: same as the nominal
  # fully convolutional logits averaged over the grid.
  expected = variants['nominal'].mean(axis=(1, 2))
  assert lib.relative_difference(runs[(2, SIZE, SIZE)], expected) <= 1e-5


def test_heads_and_root_block():
  """num_classes=None gives pooled features; spatial_squeeze=False keeps
  [N,1,1,C]; include_root_block=False starts at block1; bad output_stride.

  Style-free logic in `resnet_v1()`, so one style (the per-style layers are
  exercised by every other test here).
  """
  style = 'slim'
  with tf.Graph().as_default():
    inputs = v1.placeholder(tf.float32, [2, 64, 64, 3])

    def build(num_classes, **kwargs):
      return lib.build_in_style(style, lib.tiny_resnet, inputs, num_classes,
                                **kwargs)

    features, feature_points = build(None, scope='features')
    unsqueezed, unsqueezed_points = build(7, spatial_squeeze=False, scope='u')
    squeezed, squeezed_points = build(7, scope='s')
    _, rootless = build(None, global_pool=False, include_root_block=False,
                        scope='rootless')
    logits_names = [v.op.name for v in v1.global_variables()
                    if '/logits/' in v.op.name]
    with pytest.raises(ValueError, match='multiple of 4'):
      build(7, output_stride=6, scope='bad')
    with pytest.raises(ValueError, match='cannot be reached'):
      build(7, include_root_block=False, output_stride=3, scope='bad')
  assert features.shape.as_list() == [2, 1, 1, 32]
  assert features is feature_points['global_pool']
  assert not [k for k in feature_points
              if 'logits' in k or k == 'predictions']
  assert sorted(n.split('/')[0] for n in logits_names) == ['s', 's', 'u', 'u']
  assert unsqueezed.shape.as_list() == [2, 1, 1, 7]
  assert unsqueezed_points['predictions'].shape.as_list() == [2, 1, 1, 7]
  assert 'u/spatial_squeeze' not in unsqueezed_points
  assert squeezed.shape.as_list() == [2, 7]
  assert squeezed_points['predictions'].shape.as_list() == [2, 7]
  assert squeezed_points['s/logits'].shape.as_list() == [2, 1, 1, 7]
  assert squeezed_points['s/spatial_squeeze'] is squeezed
  assert not [k for k in rootless if k.startswith('rootless/conv1')]
  blocks = [rootless['rootless/block%d' % b].shape.as_list()
            for b in (1, 2, 3, 4)]
  assert blocks == [[2, 32, 32, 8], [2, 16, 16, 16], [2, 8, 8, 32],
                    [2, 8, 8, 32]]


def test_zero_classes_means_features():
  with tf.Graph().as_default():
    inputs = v1.placeholder(tf.float32, [2, 32, 32, 3])
    net, points = lib.build_in_style('raw', lib.tiny_resnet, inputs, 0)
    assert net.shape.as_list() == [2, 1, 1, 32]
    assert 'predictions' not in points
    assert not [v for v in v1.global_variables() if 'logits' in v.op.name]


# --------------------------------------------------------------------------
# resnet_utils.conv2d_same (Slim's testConv2DSameEven / Odd idea).


def _numpy_conv(x, w, stride):
  """VALID cross-correlation of [H,W] with [k,k], NumPy only."""
  k = w.shape[0]
  out = (x.shape[0] - k) // stride + 1, (x.shape[1] - k) // stride + 1
  y = np.zeros(out)
  for i in range(out[0]):
    for j in range(out[1]):
      y[i, j] = (x[i * stride:i * stride + k, j * stride:j * stride + k] *
                 w).sum()
  return y


@pytest.mark.parametrize('style', STYLES)
@pytest.mark.parametrize('size', [4, 5])
def test_conv2d_same(style, size):
  x = np.add.outer(np.arange(size), np.arange(size)).astype(np.float32)
  w = np.add.outer(np.arange(3), np.arange(3)).astype(np.float32)
  with tf.Graph().as_default():
    inputs = tf.constant(x[None, :, :, None])
    with slim.arg_scope(resnet_utils.resnet_arg_scope(style=style)), \
         slim.arg_scope([layers.conv2d], normalizer_fn=None,
                        activation_fn=None):
      same = resnet_utils.conv2d_same(inputs, 1, 3, stride=2, scope='Conv')
      with v1.variable_scope(v1.get_variable_scope(), reuse=True):
        dense = layers.conv2d(inputs, 1, [3, 3], stride=1, scope='Conv')
        strided_same = layers.conv2d(inputs, 1, [3, 3], stride=2,
                                     scope='Conv')
    variables = v1.global_variables()
    assert len(variables) == 2  # weights and biases, shared.
    kernel = [v for v in variables if len(v.shape) == 4][0]
    with v1.Session() as session:
      session.run(v1.global_variables_initializer())
      lib.load_values(session, {kernel: w.reshape(3, 3, 1, 1)})
      same_v, dense_v, strided_same_v = [
          t[0, :, :, 0] for t in session.run([same, dense, strided_same])]
  padded = np.pad(x, 1)  # (3-1)//2 = 1 before, 1 after.
  np.testing.assert_allclose(dense_v, _numpy_conv(padded, w, 1))
  np.testing.assert_allclose(same_v, _numpy_conv(padded, w, 2))
  np.testing.assert_allclose(same_v, dense_v[::2, ::2])
  if size % 2 == 0:  # What conv2d_same exists for: TF's SAME pads after only.
    assert not np.allclose(strided_same_v, same_v)
  else:
    np.testing.assert_allclose(strided_same_v, same_v)


def test_fixed_padding():
  with tf.Graph().as_default():
    x = tf.zeros([1, 10, 10, 1])
    shapes = [resnet_utils.fixed_padding(x, k, rate).shape.as_list()[1]
              for k, rate in ((7, 1), (3, 1), (3, 2), (1, 1), (4, 1))]
  assert shapes == [16, 12, 14, 10, 13]
