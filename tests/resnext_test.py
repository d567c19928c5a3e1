"""ResNeXt / SE-ResNeXt v1 32x4d: grouped convs in every style, the
networks' variables and sizes, one checkpoint in every style.

Tiny depths (14, 26) at depth_multiplier 0.25 (planes 16..128, bottleneck
widths 32..256, 1..8 channels per group) and small images; the full-size
parameter counts build graphs only.
"""
import os
import subprocess
import sys

import numpy as np
import pytest

from checkpointing import checkpoints
from nets import keras_model
from nets import layers
from diagnostics import model_summary
from nets import nets_factory
from nets import resnet_utils
from nets import resnext
from nets.layers import batch_norm_folding
from runtime.tf_compat import slim, tf, tf_keras
from tests import se_testlib

v1 = tf.compat.v1
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SMALL = {'depth_multiplier': 0.25}
CLASSES = 5


# ---------------------------------------------------------------------------
# The grouped convolution against numpy.


def _numpy_grouped_conv(x, w, groups, stride, pad):
  """NHWC x, HWIO w with I = C / groups; `pad` pixels each side; VALID."""
  x = np.pad(x, [(0, 0), (pad, pad), (pad, pad), (0, 0)])
  kh, kw, per_in, out = w.shape
  per_out = out // groups
  height = (x.shape[1] - kh) // stride + 1
  width = (x.shape[2] - kw) // stride + 1
  y = np.zeros([x.shape[0], height, width, out], np.float64)
  for g in range(groups):
    xg = x[..., g * per_in:(g + 1) * per_in]
    wg = w[..., g * per_out:(g + 1) * per_out]
    for i in range(height):
      for j in range(width):
        patch = xg[:, i * stride:i * stride + kh, j * stride:j * stride + kw]
        y[:, i, j, g * per_out:(g + 1) * per_out] = np.einsum(
            'nhwc,hwco->no', patch, wg)
  return y


@pytest.mark.parametrize('style', layers.STYLES)
@pytest.mark.parametrize('stride,size', [(1, 6), (2, 7), (2, 8)])
def test_grouped_conv_against_numpy(style, stride, size):
  rng = np.random.RandomState(stride * size)
  x = rng.normal(size=[2, size, size, 8]).astype(np.float32)
  with tf.Graph().as_default():
    with slim.arg_scope(layers.arg_scope(style)), \
         slim.arg_scope(layers.training_scope(False)):
      y = resnet_utils.conv2d_same(tf.constant(x), 12, 3, stride,
                                   scope='conv', groups=4)
    weights = [v for v in v1.global_variables()
               if v.op.name.endswith('conv/weights')
               or v.op.name.endswith('conv/kernel')]
    assert [w.shape.as_list() for w in weights] == [[3, 3, 2, 12]]
    with v1.Session() as session:
      values = se_testlib.randomize(session, v1.global_variables(), seed=1)
      got = session.run(y)
  w = values['conv/weights']
  bn = {k.rsplit('/', 1)[-1]: v for k, v in values.items() if 'BatchNorm' in k}
  # conv2d_same: SAME (1 each side) at stride 1, fixed padding 1 at 2.
  conv = _numpy_grouped_conv(x, w, 4, stride, 1)
  expected = np.maximum(
      (conv - bn['moving_mean']) / np.sqrt(bn['moving_variance'] + 1e-5) *
      bn['gamma'] + bn['beta'], 0)
  assert got.shape == expected.shape
  np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


def test_grouped_conv_checks_the_depths():
  with tf.Graph().as_default():
    with pytest.raises(ValueError, match=r'divisible by groups=4'):
      layers.conv2d(tf.zeros([1, 4, 4, 6]), 8, 3, groups=4)


def _grouped_step(style):
  """Forward and gradients of a grouped conv + batch norm in training mode."""
  rng = np.random.RandomState(0)
  x = rng.normal(size=[2, 7, 7, 8]).astype(np.float32)
  with tf.Graph().as_default():
    images = tf.constant(x)
    with slim.arg_scope(layers.arg_scope(style)), \
         slim.arg_scope(layers.training_scope(True)):
      y = resnet_utils.conv2d_same(images, 16, 3, 2, scope='conv', groups=8)
    variables = sorted(v1.trainable_variables(), key=checkpoints.slim_name)
    gradients = tf.gradients(tf.reduce_sum(y * y), [images] + variables)
    with v1.Session() as session:
      se_testlib.randomize(session, v1.global_variables(), seed=2)
      return session.run([y] + gradients)


@pytest.mark.slow
def test_grouped_gradients_without_onednn():
  """TF's CPU kernels without oneDNN have no grouped conv gradients; the
  layers then split the conv per group (nets.layers.grouped): the same
  forward values and gradients, in every style."""
  code = ('import json, sys; import numpy as np; '
          'from tests import resnext_test as t; '
          'from nets.layers import grouped; '
          'r = {s: [a.tolist() for a in t._grouped_step(s)] '
          'for s in ("slim", "raw", "keras")}; '
          'r["native"] = grouped.native_gradients(); '
          'json.dump(r, sys.stdout)')
  import json  # pylint: disable=g-import-not-at-top
  results = {}
  for flag in ('0', '1'):
    env = dict(os.environ, TF_ENABLE_ONEDNN_OPTS=flag)
    out = subprocess.run([sys.executable, '-c', code], cwd=REPO, env=env,
                         capture_output=True, text=True, check=True).stdout
    results[flag] = json.loads(out)
  assert results['0']['native'] is False
  assert results['1']['native'] is True
  reference = [np.array(a) for a in results['1']['slim']]
  for flag in ('0', '1'):
    for style in layers.STYLES:
      for got, want in zip(results[flag][style], reference):
        assert se_testlib.relative_difference(np.array(got), want) <= 1e-4


def test_batch_norm_folds_into_a_grouped_conv():
  """The scale is per output channel, so W * s over the last axis folds a
  grouped kernel [kh, kw, C/g, K] too (one grouped Conv2D op, or per-group
  convs without oneDNN: nets.layers.grouped)."""
  rng = np.random.RandomState(3)
  x = rng.normal(size=[2, 9, 9, 16]).astype(np.float32)
  outputs = {}
  for fold in (False, True):
    with tf.Graph().as_default() as graph:
      with slim.arg_scope(layers.arg_scope('raw', fold_batch_norm=fold)), \
           slim.arg_scope(layers.training_scope(False)):
        y = layers.conv2d(tf.constant(x), 64, 3, activation_fn=None,
                          scope='conv', groups=8)
      types = [op.type for op in graph.get_operations()]
      with v1.Session() as session:
        se_testlib.randomize(session, v1.global_variables(), seed=4)
        outputs[fold] = session.run(y)
    assert any(t.startswith('FusedBatchNorm') for t in types) != fold
    assert ('Rsqrt' in types) == fold
  assert se_testlib.relative_difference(outputs[True], outputs[False]) <= 1e-5
  with tf.Graph().as_default():
    assert batch_norm_folding.worth_folding(tf.constant(x), [3, 3, 2, 16])


# ---------------------------------------------------------------------------
# The networks.


def test_names_are_registered():
  names = nets_factory.network_names()
  for name in resnext.BUILDERS:
    assert name in names
    assert nets_factory.get_network_fn(name, 10).default_image_size == 224
  assert set(resnext.BUILDERS) == {
      '%sresnext_%d_32x4d' % (se, depth) for se in ('', 'se_')
      for depth in (14, 26, 50, 101)}
  with pytest.raises(ValueError, match='se_resnext_50_32x4d'):
    nets_factory.check_name('se_resnext50_32x4d')
  with pytest.raises(ValueError, match='use se_resnext_50_32x4d'):
    nets_factory.get_network_fn('resnext_50_32x4d', 10, se_ratio=8)


def _variable_shapes(model_name, **options):
  with tf.Graph().as_default():
    se_testlib.build(model_name, v1.placeholder(tf.float32, [1, 64, 64, 3]),
                     1000, style='raw', **options)
    return {v.op.name: v.shape.as_list() for v in v1.global_variables()}


def test_variables_of_se_resnext_50():
  shapes = _variable_shapes('se_resnext_50_32x4d')
  unit = 'se_resnext_50_32x4d/block%d/unit_%d/bottleneck_v1/'
  assert shapes['se_resnext_50_32x4d/conv1/weights'] == [7, 7, 3, 64]
  assert shapes[unit % (1, 1) + 'conv1/weights'] == [1, 1, 64, 128]
  assert shapes[unit % (1, 1) + 'conv2/weights'] == [3, 3, 4, 128]
  assert shapes[unit % (1, 1) + 'conv2/BatchNorm/gamma'] == [128]
  assert shapes[unit % (1, 1) + 'conv3/weights'] == [1, 1, 128, 256]
  assert shapes[unit % (1, 1) + 'shortcut/weights'] == [1, 1, 64, 256]
  assert shapes[unit % (1, 1) + 'se/fc1/weights'] == [256, 16]
  assert shapes[unit % (1, 1) + 'se/fc2/biases'] == [256]
  assert shapes[unit % (4, 3) + 'conv2/weights'] == [3, 3, 32, 1024]
  assert shapes[unit % (4, 1) + 'shortcut/weights'] == [1, 1, 1024, 2048]
  assert unit % (4, 2) + 'shortcut/weights' not in shapes
  assert shapes['se_resnext_50_32x4d/logits/weights'] == [1, 1, 2048, 1000]


@pytest.mark.parametrize('name,params,gflops', [
    ('se_resnext_50_32x4d', 27559896, 4.23),
    ('resnext_50_32x4d', 25028904, 4.23),
    ('se_resnext_101_32x4d', 48955416, 7.97),
    ('resnext_101_32x4d', 44177704, 7.97),
])
def test_parameter_counts(name, params, gflops):
  """torchvision's / timm's / pretrainedmodels' counts at 1000 classes;
  a grouped 3x3 costs C/32 multiply-adds per output (torchvision quotes
  4.23 GFLOPs for ResNeXt-50 32x4d)."""
  summary = model_summary.count(name, style='raw')
  assert summary.params == params
  assert round(summary.gflops, 2) == gflops


def test_widths_too_small_for_the_groups():
  with tf.Graph().as_default():
    with pytest.raises(ValueError, match=r'block1: 8 planes give a '
                       r'bottleneck width of 0.*planes >= 16'):
      se_testlib.build('resnext_14_32x4d',
                       v1.placeholder(tf.float32, [1, 32, 32, 3]), 10,
                       depth_multiplier=0.125)


@pytest.mark.parametrize('name', ['torch', 'caffe_resnext'])
def test_styles_agree(tmp_path, name):
  size = 35
  inputs = se_testlib.images(2, size, seed=7)
  path, _ = se_testlib.write_random_checkpoint(
      str(tmp_path / 'model.ckpt'), 'se_resnext_14_32x4d', CLASSES, size,
      seed=8, topology=name, **SMALL)
  logits = {style: se_testlib.restored_logits(
      style, 'se_resnext_14_32x4d', path, inputs, CLASSES, topology=name,
      **SMALL) for style in layers.STYLES}
  for style in ('raw', 'keras'):
    assert se_testlib.relative_difference(logits[style],
                                          logits['slim']) <= 1e-5


@pytest.mark.slow
@pytest.mark.parametrize('name', ['torch', 'caffe_resnext'])
def test_keras_model_of_a_resnext(tmp_path, name):
  """The eager tf_keras.Model (stock `Conv2D(groups=...)`, the stem pool's
  padding as a Keras op layer) restores the graph styles' checkpoint, gives
  their logits, and trains."""
  size = 33
  inputs = se_testlib.images(2, size, seed=9)
  path, _ = se_testlib.write_random_checkpoint(
      str(tmp_path / 'model.ckpt'), 'resnext_26_32x4d', CLASSES, size,
      seed=10, topology=name, **SMALL)
  graph_logits = se_testlib.restored_logits('raw', 'resnext_26_32x4d', path,
                                            inputs, CLASSES, topology=name,
                                            **SMALL)
  model = nets_factory.get_keras_model('resnext_26_32x4d', CLASSES,
                                       input_shape=(size, size, 3),
                                       topology=name, **SMALL)
  report = keras_model.load_slim_checkpoint(model, path)
  assert len(report.restored) == len(model.weights)
  logits = model.predict(inputs, verbose=0)
  assert se_testlib.relative_difference(logits, graph_logits) <= 1e-5
  kernel = [w for w in model.trainable_weights
            if 'block1/unit_1/bottleneck_v1/conv2/kernel' in w.name][0]
  assert kernel.shape.as_list() == [3, 3, 1, 32]
  before = kernel.numpy()
  model.compile(tf_keras.optimizers.SGD(0.1), tf_keras.losses.
                SparseCategoricalCrossentropy(from_logits=True))
  history = model.fit(inputs, np.array([1, 3]), epochs=1, verbose=0)
  assert np.isfinite(history.history['loss'][0])
  assert np.abs(kernel.numpy() - before).max() > 0


@pytest.mark.slow
def test_model_summary_command_line():
  result = subprocess.run(
      [sys.executable, '-m', 'diagnostics.model_summary',
       '--model_name=se_resnext_50_32x4d', '--style=raw'],
      cwd=REPO, capture_output=True, text=True, check=True)
  assert 'Parameters: 27,559,896' in result.stdout
  assert 'topology=' not in result.stdout.splitlines()[0]


def _training_step(style, checkpoint, inputs, labels):
  """Loss, regularization, gradients and updated moving statistics of one
  SGD step from `checkpoint` (or random values saved there)."""
  with tf.Graph().as_default():
    logits, _ = se_testlib.build(
        'se_resnext_14_32x4d', tf.constant(inputs), CLASSES, style=style,
        is_training=True, weight_decay=1e-2, **SMALL)
    loss = v1.losses.sparse_softmax_cross_entropy(
        tf.constant(labels), logits, loss_collection=None)
    regularization = tf.add_n(
        v1.get_collection(v1.GraphKeys.REGULARIZATION_LOSSES))
    trainable = v1.trainable_variables()
    gradients = tf.gradients(loss + regularization, trainable)
    with tf.control_dependencies(v1.get_collection(v1.GraphKeys.UPDATE_OPS)):
      step = v1.train.GradientDescentOptimizer(0.1).apply_gradients(
          zip(gradients, trainable))
    variables = v1.global_variables()
    with v1.Session() as session:
      if os.path.exists(checkpoint + '.index'):
        report = checkpoints.restore(session, checkpoint)
        assert not report.fresh and not report.unused, report.summary()
      else:
        se_testlib.randomize(session, variables, seed=11)
        v1.train.Saver(checkpoints.slim_named_variables(variables)).save(
            session, checkpoint, write_meta_graph=False, write_state=False)
      values = session.run([loss, regularization] + gradients)
      session.run(step)
      after = session.run(variables)
  names = [checkpoints.slim_name(v) for v in trainable]
  return (values[0], values[1], dict(zip(names, values[2:])),
          {checkpoints.slim_name(v): x for v, x in zip(variables, after)})


def test_one_training_step_agrees_across_styles(tmp_path):
  """Grouped convs train alike in every style: loss, L2 term, gradients of
  every variable, and the batch norm statistics after the step."""
  inputs = se_testlib.images(2, 32, seed=12)
  labels = np.array([1, 4], np.int64)
  checkpoint = str(tmp_path / 'start')
  results = {style: _training_step(style, checkpoint, inputs, labels)
             for style in layers.STYLES}
  loss, regularization, gradients, after = results['slim']
  assert regularization > 0.01 * loss
  for style in ('raw', 'keras'):
    other = results[style]
    assert abs(other[0] - loss) <= 1e-5 * loss
    assert abs(other[1] - regularization) <= 1e-5 * regularization
    assert set(other[2]) == set(gradients)
    for name, gradient in gradients.items():
      assert se_testlib.relative_difference(other[2][name], gradient) <= 1e-4, (
          style, name)
    for name, value in after.items():
      assert se_testlib.relative_difference(other[3][name], value) <= 1e-5, (
          style, name)
