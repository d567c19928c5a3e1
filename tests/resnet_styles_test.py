"""The three layer styles are one network: names, collections, values, training.

Raw and slim make the same variables (names, shapes,
collections) and end points, keras the same after `keras_to_slim_name`; one
Slim checkpoint restores into any style and gives the same logits; one
training step gives the same loss, gradients, regularization loss and moving
statistics. Tiny networks: the point is structure, not size.
"""
import ast
import itertools
import pathlib

import numpy as np
import pytest

from runtime.tf_compat import tf
from checkpointing import checkpoints
from nets import resnet_v1
from tests import resnet_testlib as lib

v1 = tf.compat.v1

BATCH, SIZE, CLASSES = 2, 64, 5
WEIGHT_DECAY = 1e-2  # Large, so the L2 term moves loss and gradients.
REPO = pathlib.Path(__file__).resolve().parents[1]


class _Graph:
  """One style's graph, its session, and the tensors a test fetches."""

  def __init__(self, style, build):
    self.style = style
    self.graph = tf.Graph()
    with self.graph.as_default():
      self.images = v1.placeholder(tf.float32, [BATCH, SIZE, SIZE, 3])
      self.logits, self.end_points = build(style, self.images)
      self.variables = v1.global_variables()
      self.session = v1.Session(graph=self.graph)

  def close(self):
    self.session.close()


def _resnet_14(style, images):
  return lib.build_in_style(style, resnet_v1.resnet_v1_14, images, CLASSES,
                            is_training=False, depth_multiplier=0.125)


@pytest.fixture(scope='module')
def inference(tmp_path_factory):
  """ResNet-14 (widths /8) per style, random weights, one checkpoint each."""
  images = lib.random_images([BATCH, SIZE, SIZE, 3], seed=1)
  graphs = {}
  for seed, style in enumerate(lib.STYLES):
    g = _Graph(style, _resnet_14)
    with g.graph.as_default():
      g.session.run(v1.global_variables_initializer())
      lib.set_all_variables(g.session, g.variables, seed=seed, scale=0.2)
      g.checkpoint = lib.save_slim_checkpoint(
          g.session, g.variables,
          str(tmp_path_factory.mktemp('roundtrip') / style))
      g.logits_value = g.session.run(g.logits, {g.images: images})
    graphs[style] = g
  yield graphs, images
  for g in graphs.values():
    g.close()


def test_checkpoints_of_different_styles_differ(inference):
  """Otherwise the round trip below would prove nothing."""
  graphs, _ = inference
  for a, b in itertools.combinations(lib.STYLES, 2):
    assert lib.relative_difference(graphs[a].logits_value,
                                   graphs[b].logits_value) > 1e-2


@pytest.mark.parametrize('source,target', [
    (s, t) for s in lib.STYLES for t in lib.STYLES if s != t])
def test_checkpoint_round_trip(inference, source, target):
  graphs, images = inference
  src, dst = graphs[source], graphs[target]
  with dst.graph.as_default():
    report = lib.restore_exactly(dst.session, src.checkpoint, dst.variables)
    logits = dst.session.run(dst.logits, {dst.images: images})
  assert len(report.restored) == len(dst.variables)
  assert lib.relative_difference(logits, src.logits_value) <= 1e-5


# --------------------------------------------------------------------------
# One training step.


def _tiny_training(style, images):
  return lib.build_in_style(style, lib.tiny_resnet, images, CLASSES,
                            is_training=True, weight_decay=WEIGHT_DECAY)


@pytest.fixture(scope='module')
def training(tmp_path_factory):
  """Each style after one SGD step from the same checkpoint and batch."""
  rng = np.random.RandomState(3)
  images = rng.uniform(-1, 1, [BATCH, SIZE, SIZE, 3]).astype(np.float32)
  labels = np.array([1, 3], np.int64)
  checkpoint = None
  results = {}
  for style in lib.STYLES:
    g = _Graph(style, _tiny_training)
    with g.graph.as_default():
      labels_t = tf.constant(labels)
      cross_entropy = v1.losses.sparse_softmax_cross_entropy(
          labels_t, g.logits, loss_collection=None)
      regularization = tf.add_n(
          v1.get_collection(v1.GraphKeys.REGULARIZATION_LOSSES))
      loss = cross_entropy + regularization
      trainable = v1.trainable_variables()
      gradients = tf.gradients(loss, trainable)
      optimizer = v1.train.GradientDescentOptimizer(0.1)
      with tf.control_dependencies(v1.get_collection(v1.GraphKeys.UPDATE_OPS)):
        train_op = optimizer.apply_gradients(zip(gradients, trainable))
      if checkpoint is None:  # The first style writes the shared start.
        g.session.run(v1.global_variables_initializer())
        lib.set_all_variables(g.session, g.variables, seed=7, scale=0.3)
        checkpoint = lib.save_slim_checkpoint(
            g.session, g.variables,
            str(tmp_path_factory.mktemp('train') / 'start'))
      else:
        lib.restore_exactly(g.session, checkpoint, g.variables)
      before = g.session.run(g.variables)
      feed = {g.images: images}
      loss_v, reg_v, grads_v = g.session.run(
          [loss, regularization, gradients], feed)
      g.session.run(train_op, feed)
      after = g.session.run(g.variables)
    g.summary = lib.graph_summary(g.graph)
    g.results = {
        'loss': loss_v, 'regularization': reg_v,
        'gradients': lib.by_slim_name(trainable, grads_v),
        'before': lib.by_slim_name(g.variables, before),
        'after': lib.by_slim_name(g.variables, after),
    }
    results[style] = g
  yield results
  for g in results.values():
    g.close()


@pytest.mark.parametrize('style', ['raw', 'keras'])
def test_same_loss_and_regularization(training, style):
  ref, other = training['slim'].results, training[style].results
  assert ref['regularization'] > 0.01 * ref['loss']  # It counts.
  assert other['loss'] == pytest.approx(ref['loss'], rel=1e-5)
  assert other['regularization'] == pytest.approx(ref['regularization'],
                                                  rel=1e-5)


@pytest.mark.parametrize('style', ['raw', 'keras'])
def test_same_gradients(training, style):
  ref, other = training['slim'].results, training[style].results
  assert set(other['gradients']) == set(ref['gradients'])
  worst = {}
  for name, grad in ref['gradients'].items():
    assert np.abs(grad).max() > 0, name
    difference = lib.relative_difference(other['gradients'][name], grad)
    if difference > 1e-4:
      worst[name] = difference
  assert not worst, worst


@pytest.mark.parametrize('style', ['raw', 'keras'])
def test_update_ops_move_the_statistics_the_same_way(training, style):
  ref, other = training['slim'].results, training[style].results
  moving = [n for n in ref['after'] if n.endswith(('/moving_mean',
                                                   '/moving_variance'))]
  assert len(moving) == 2 * sum(
      n.endswith('/BatchNorm/beta') for n in ref['after'])
  for name in moving:
    # The step moved them (so UPDATE_OPS ran) ...
    assert np.abs(ref['after'][name] - ref['before'][name]).max() > 1e-6, name
    # ... to the same place in every style.
    assert other['before'][name] == pytest.approx(ref['before'][name])
    assert lib.relative_difference(other['after'][name],
                                   ref['after'][name]) <= 1e-5, name


@pytest.mark.parametrize('style', ['raw', 'keras'])
def test_same_weights_after_the_step(training, style):
  ref, other = training['slim'].results, training[style].results
  for name, value in ref['after'].items():
    assert lib.relative_difference(other['after'][name], value) <= 1e-5, name


# --------------------------------------------------------------------------
# Names, shapes, collections, end points.


def test_raw_and_slim_make_the_same_variables_and_collections(training):
  slim_g, raw_g = training['slim'], training['raw']
  # Raw names directly, no map.
  assert (sorted(v.op.name for v in raw_g.variables) ==
          sorted(v.op.name for v in slim_g.variables))
  assert raw_g.summary == slim_g.summary
  assert set(raw_g.end_points) == set(slim_g.end_points)


def test_keras_makes_the_same_after_the_name_map(training):
  slim_g, keras_g = training['slim'], training['keras']
  keras_names = [v.op.name for v in keras_g.variables]
  assert any(n.endswith('/kernel') for n in keras_names)
  assert (sorted(map(checkpoints.keras_to_slim_name, keras_names)) ==
          sorted(v.op.name for v in slim_g.variables))
  assert keras_g.summary == slim_g.summary
  assert set(keras_g.end_points) == set(slim_g.end_points)


def test_collections_hold_what_training_needs(training):
  summary = training['slim'].summary
  weights = [n for n, _ in summary['trainable'] if n.endswith('/weights')]
  batch_norms = [n for n, _ in summary['model'] if n.endswith('/moving_mean')]
  assert summary['regularization_losses'] == len(weights) > 0
  assert summary['update_ops'] == 2 * len(batch_norms) > 0
  assert len(summary['model']) == len(summary['global'])
  assert len(summary['trainable']) == len(summary['model']) - 2 * len(
      batch_norms)


def test_end_point_shapes_agree_across_styles(training):
  shapes = {
      style: {k: v.shape.as_list() for k, v in g.end_points.items()}
      for style, g in training.items()}
  assert shapes['raw'] == shapes['slim'] == shapes['keras']


# --------------------------------------------------------------------------
# The architecture files never name a style.

NETWORK_FILES = ('nets/resnet_v1.py', 'nets/resnet_utils.py',
                 'nets/resnext.py', 'nets/simple_cnn.py')
STYLE_MODULES = ('slim_style', 'raw_style', 'keras_style')


def _style_mentions(source):
  """Places in code (docstrings aside) that name or test a layer style."""
  tree = ast.parse(source)
  docstrings = set()
  for node in ast.walk(tree):
    if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef)):
      body = node.body
      if (body and isinstance(body[0], ast.Expr) and
          isinstance(body[0].value, ast.Constant)):
        docstrings.add(id(body[0].value))

  def names_style(node):
    return ((isinstance(node, ast.Name) and node.id == 'style') or
            (isinstance(node, ast.Attribute) and node.attr == 'style'))

  found = []
  for node in ast.walk(tree):
    line = getattr(node, 'lineno', '?')
    if (isinstance(node, ast.Constant) and isinstance(node.value, str) and
        id(node) not in docstrings and
        (node.value in lib.STYLES or
         any(m in node.value for m in STYLE_MODULES))):
      found.append('line %s: string %r' % (line, node.value))
    elif isinstance(node, (ast.Name, ast.Attribute)):
      name = node.id if isinstance(node, ast.Name) else node.attr
      if name in STYLE_MODULES or name == 'tf_keras':
        found.append('line %s: uses %s' % (line, name))
      elif (name == 'get' and isinstance(node.value, ast.Name) and
            node.value.id == 'layers'):
        found.append('line %s: picks a style module' % line)
    elif isinstance(node, (ast.Import, ast.ImportFrom)):
      modules = [a.name for a in node.names] + [getattr(node, 'module', '')]
      if any(m and (m.endswith(STYLE_MODULES) or 'keras' in m)
             for m in modules):
        found.append('line %s: imports %s' % (line, modules))
    elif isinstance(node, ast.Compare):
      if any(names_style(n) for n in [node.left] + node.comparators):
        found.append('line %s: compares the style' % line)
    elif isinstance(node, (ast.If, ast.IfExp, ast.While)):
      if any(names_style(n) for n in ast.walk(node.test)):
        found.append('line %s: branches on the style' % line)
  return found


@pytest.mark.parametrize('path', NETWORK_FILES)
def test_network_files_never_branch_on_the_style(path):
  found = _style_mentions((REPO / path).read_text())
  assert not found, '%s names a style: %s' % (path, found)


def test_the_style_check_catches_a_branch():
  """The check above is not vacuous."""
  assert _style_mentions('def f(style):\n  if style == 1:\n    pass\n')
  assert _style_mentions("x = 'keras'\n")
  assert _style_mentions('from nets.layers import raw_style\n')
  assert _style_mentions('y = layers.get(s).conv2d\n')
  assert not _style_mentions('"""Uses style=\'raw\' as in the docs."""\n'
                             'def f(style=DEFAULT):\n  return g(style=style)\n')
