"""Topologies (nets.topology): stem pools, stride placement, one network per
topology in every style, and the papers' multiply-adds.

Tiny networks (`resnet_v1_14` / `se_resnet_v1_14` at depth_multiplier 0.125,
small images); the full-size figures build graphs only.
"""
import numpy as np
import pytest

from nets import layers
from diagnostics import model_summary
from nets import nets_factory
from nets import resnet_utils
from nets import resnet_v1
from nets import topology
from runtime.tf_compat import slim, tf
from tests import se_testlib

v1 = tf.compat.v1
TINY = se_testlib.TINY
CLASSES = 5


# ---------------------------------------------------------------------------
# Stem pools against numpy.


def _numpy_max_pool(x, before, after):
  """3x3/2 max pool of NHWC `x` padded with -inf (before, after) per axis."""
  padded = np.pad(x, [(0, 0), (before[0], after[0]), (before[1], after[1]),
                      (0, 0)], constant_values=-np.inf)
  height = (padded.shape[1] - 3) // 2 + 1
  width = (padded.shape[2] - 3) // 2 + 1
  out = np.full([x.shape[0], height, width, x.shape[3]], -np.inf, x.dtype)
  for i in range(height):
    for j in range(width):
      window = padded[:, 2 * i:2 * i + 3, 2 * j:2 * j + 3, :]
      out[:, i, j, :] = window.max(axis=(1, 2))
  return out


def _reference_padding(kind, size):
  """(before, after) of one axis, from each framework's documented rule."""
  if kind == 'same':  # TF: out = ceil(H / 2), padding split low-first.
    total = max((-(-size // 2) - 1) * 2 + 3 - size, 0)
    return total // 2, total - total // 2
  if kind == 'ceil':  # Caffe / torch ceil_mode: out = ceil((H - 3) / 2) + 1.
    out = -(-(size - 3) // 2) + 1
    return 0, (out - 1) * 2 + 3 - size
  return 1, 1  # torch padding=1: out = floor((H + 2 - 3) / 2) + 1.


@pytest.mark.parametrize('style', layers.STYLES)
@pytest.mark.parametrize('kind', topology.STEM_POOLS)
@pytest.mark.parametrize('height,width', [(8, 8), (9, 9), (10, 7)])
def test_stem_pool_against_numpy(style, kind, height, width):
  # Negative values everywhere: a padded zero would win a border window.
  x = -np.random.RandomState(height * width).uniform(
      0.5, 2.0, [2, height, width, 3]).astype(np.float32)
  (hb, ha), (wb, wa) = (_reference_padding(kind, height),
                        _reference_padding(kind, width))
  expected = _numpy_max_pool(x, (hb, wb), (ha, wa))
  with tf.Graph().as_default():
    with slim.arg_scope(layers.arg_scope(style)):
      static = resnet_utils.stem_pool(tf.constant(x), kind)
      placeholder = v1.placeholder(tf.float32, [None, None, None, 3])
      dynamic = resnet_utils.stem_pool(placeholder, kind, scope='dynamic')
    with v1.Session() as session:
      got, got_dynamic = session.run([static, dynamic], {placeholder: x})
  assert got.shape == expected.shape
  np.testing.assert_array_equal(got, expected)
  np.testing.assert_array_equal(got_dynamic, expected)


def test_stem_pool_output_sizes():
  """The three pools agree on even sizes but for pad1's extra row; odd sizes
  separate same and ceil."""
  sizes = {}
  for kind in topology.STEM_POOLS:
    with tf.Graph().as_default():
      pooled = [resnet_utils.stem_pool(tf.zeros([1, n, n, 1]), kind,
                                   scope='p%d' % n) for n in (112, 113)]
    sizes[kind] = [p.shape.as_list()[1] for p in pooled]
  assert sizes == {'same': [56, 57], 'ceil': [56, 56], 'pad1': [56, 57]}


def test_pad1_pools_from_minus_one():
  """torch's padding=1: window 0 covers rows -1..1, so row 0's max is
  the max of rows 0 and 1 only; Slim's SAME window 0 covers rows 0..2."""
  x = np.zeros([1, 6, 1, 1], np.float32)
  x[0, 2, 0, 0] = 5.0  # Row 2 lies in SAME's window 0, not in pad1's.
  x = np.tile(x, [1, 1, 6, 1])
  with tf.Graph().as_default():
    same = resnet_utils.stem_pool(tf.constant(x), 'same', scope='a')
    pad1 = resnet_utils.stem_pool(tf.constant(x), 'pad1', scope='b')
    with v1.Session() as session:
      same, pad1 = session.run([same, pad1])
  assert same[0, 0, 0, 0] == 5.0 and pad1[0, 0, 0, 0] == 0.0
  assert pad1[0, 1, 0, 0] == 5.0


def test_presets_are_data():
  assert topology.NAMES == ('slim', 'caffe', 'caffe_resnext', 'torch')
  assert topology.get('slim').block_strides == resnet_v1.BLOCK_STRIDES
  assert topology.get('torch').block_strides == (1, 2, 2, 2)
  caffe = topology.get('caffe')
  assert (caffe.stride_unit, caffe.stride_conv, caffe.stem_pool) == (
      'first', 'conv1', 'ceil')
  assert topology.get(caffe) is caffe
  with pytest.raises(ValueError, match=r"'pytorch'.*slim, caffe, "
                     r'caffe_resnext, torch'):
    topology.get('pytorch')
  # A custom arrangement is data too, checked field by field.
  custom = topology.Topology('mine', 'first', 'conv2', 'ceil', 'subsample')
  assert custom.block_strides == (1, 2, 2, 2)
  with pytest.raises(ValueError, match="stem_pool 'floor'; valid: same, "
                     'ceil, pad1'):
    topology.Topology('mine', 'first', 'conv2', 'floor', 'subsample')


# ---------------------------------------------------------------------------
# Stride placement, seen in the end points.


def _end_point_shapes(model_name, size, **options):
  with tf.Graph().as_default():
    images = v1.placeholder(tf.float32, [1, size, size, 3])
    _, end_points = se_testlib.build(model_name, images, CLASSES, style='raw',
                                     **dict(TINY, **options))
  prefix = model_name + '/'
  return {k[len(prefix):]: tuple(v.shape.as_list()[1:3])
          for k, v in end_points.items() if k.startswith(prefix)}


def test_stride_placement_in_end_points():
  unit = 'block%d/unit_1/bottleneck_v1/'
  slim_shapes = _end_point_shapes('resnet_v1_26', 64)
  # Slim: the LAST unit of blocks 1-3 strides, on its 3x3.
  assert [slim_shapes['block%d' % b] for b in (1, 2, 3, 4)] == [
      (8, 8), (4, 4), (2, 2), (2, 2)]
  assert slim_shapes['block1/unit_1/bottleneck_v1'] == (16, 16)
  assert slim_shapes['block1/unit_2/bottleneck_v1/conv2'] == (8, 8)
  for name in ('caffe', 'caffe_resnext', 'torch'):
    shapes = _end_point_shapes('resnet_v1_26', 64, topology=name)
    # The FIRST unit of blocks 2-4 strides.
    assert [shapes['block%d' % b] for b in (1, 2, 3, 4)] == [
        (16, 16), (8, 8), (4, 4), (2, 2)], name
    assert shapes[unit % 2 + 'shortcut'] == (8, 8)
    first_strided = (8, 8) if name == 'caffe' else (16, 16)
    assert shapes[unit % 2 + 'conv1'] == first_strided, name  # Caffe: 1x1.
    assert shapes[unit % 2 + 'conv2'] == (8, 8)


def test_stem_pool_on_an_odd_image():
  """65 -> conv1 33 -> pool: SAME 17, ceil 16, pad1 17."""
  pools = {name: _end_point_shapes('resnet_v1_14', 65,
                                   topology=name)['block1']
           for name in topology.NAMES}
  assert pools == {'slim': (9, 9), 'caffe': (16, 16),
                   'caffe_resnext': (16, 16), 'torch': (17, 17)}


def test_strided_unit_of_unchanged_depth_projects():
  """depth_multiplier 0.015: planes 8 everywhere, so block2's first unit keeps
  its depth; torch's `downsample` (and ours) is then still a strided 1x1
  conv, where Slim subsamples."""
  def shortcut_variables(name):
    with tf.Graph().as_default():
      se_testlib.build('resnet_v1_14', v1.placeholder(tf.float32,
                                                      [1, 32, 32, 3]),
                       CLASSES, style='raw', depth_multiplier=0.015,
                       topology=name)
      return sorted(v.op.name.split('/')[1] for v in v1.global_variables()
                    if '/shortcut/weights' in v.op.name)
  assert shortcut_variables('slim') == ['block1']
  assert shortcut_variables('torch') == ['block1', 'block2', 'block3',
                                         'block4']


def test_slim_topology_is_the_default_graph():
  def ops(**options):
    with tf.Graph().as_default() as graph:
      se_testlib.build('se_resnet_v1_14', v1.placeholder(
          tf.float32, [2, 32, 32, 3]), CLASSES, style='slim',
                       **dict(TINY, **options))
      return [(op.name, op.type) for op in graph.get_operations()]
  assert ops() == ops(topology='slim')
  assert ops() != ops(topology='caffe')


# ---------------------------------------------------------------------------
# One checkpoint, every style, every topology.


@pytest.mark.parametrize('name', topology.NAMES)
def test_styles_agree_in_every_topology(tmp_path, name):
  size = 33  # Odd: the pools and paddings differ most.
  inputs = se_testlib.images(2, size, seed=3)
  path, _ = se_testlib.write_random_checkpoint(
      str(tmp_path / 'model.ckpt'), 'se_resnet_v1_14', CLASSES, size,
      seed=5, topology=name, **TINY)
  logits = {style: se_testlib.restored_logits(
      style, 'se_resnet_v1_14', path, inputs, CLASSES, topology=name, **TINY)
            for style in layers.STYLES}
  for style in ('raw', 'keras'):
    assert se_testlib.relative_difference(logits[style],
                                          logits['slim']) <= 1e-5
  if name != 'slim':  # The same checkpoint, another arrangement.
    other = se_testlib.restored_logits('raw', 'se_resnet_v1_14', path,
                                       inputs, CLASSES, **TINY)
    assert se_testlib.relative_difference(other, logits['slim']) > 1e-2


@pytest.mark.parametrize('name', ['caffe', 'torch'])
def test_dense_output_stride_matches_nominal(name):
  """Atrous (output_stride=8) features, subsampled, equal the nominal ones,
  also when the first 1x1 conv strides (the 3x3 after it gets the rate)."""
  size = 33
  inputs = se_testlib.images(1, size, seed=4)
  with tf.Graph().as_default():
    images = tf.constant(inputs)
    nominal, _ = se_testlib.build('resnet_v1_26', images, None, style='raw',
                                  global_pool=False, topology=name, **TINY)
    dense, _ = se_testlib.build('resnet_v1_26', images, None, style='raw',
                                global_pool=False, topology=name,
                                output_stride=8, reuse=True, **TINY)
    # Nominal stride 32: every 4th pixel of the stride-8 map.
    dense = dense[:, ::4, ::4, :]
    with v1.Session() as session:
      se_testlib.randomize(session, v1.global_variables(), seed=6)
      nominal, dense = session.run([nominal, dense])
  assert nominal.shape == dense.shape
  assert se_testlib.relative_difference(dense, nominal) <= 1e-5


# ---------------------------------------------------------------------------
# The factory and the papers' figure.


def test_factory_checks_the_topology():
  with pytest.raises(ValueError, match=r"'cafe'.*caffe_resnext"):
    nets_factory.get_network_fn('resnet_v1_50', 10, topology='cafe')
  with pytest.raises(ValueError, match='simple_cnn has no topology'):
    nets_factory.get_network_fn('simple_cnn', 10, topology='torch')
  # None means the network's default.
  nets_factory.get_network_fn('simple_cnn', 10, topology=None)
  assert nets_factory.default_topology('resnet_v1_50') == 'slim'
  assert nets_factory.default_topology('se_resnext_50_32x4d') == 'torch'
  assert nets_factory.default_topology('simple_cnn') is None


def test_caffe_se_resnet_50_has_the_papers_multiply_adds():
  """The papers count the Caffe arrangement: 3.86 GFLOPs (multiply-adds)
  for ResNet-50, and SE's fully connected layers add 0.0025 G. Slim's
  arrangement of the same variables costs 3.48."""
  summary = model_summary.count('se_resnet_v1_50', style='raw',
                                topology='caffe')
  assert summary.params == 28088024
  assert summary.multiply_adds - summary.se_multiply_adds == 3857973248
  assert round(summary.gflops, 2) == 3.86
  slim_summary = model_summary.count('se_resnet_v1_50', style='raw')
  assert round(slim_summary.gflops, 2) == 3.48
