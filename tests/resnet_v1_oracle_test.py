"""Our ResNet v1 against tf-slim's own, the test oracle, in every style.

`tf_slim.nets.resnet_v1` (the version shipped with tf-slim 1.1.0: no
`spatial_squeeze`, no `global_pool` end point, logits [N,1,1,C]) is imported
here and nowhere in the library. For ResNet-50 and ResNet-101 at 224x224,
batch 2, 1000 classes, a checkpoint saved from the oracle (with non-trivial
batch-norm statistics, betas and gammas) must restore into each of our three
styles with nothing missing or unused, and give the oracle's logits, pooled
features and end points.

Run with `-s` to see the relative logit differences.
"""
import dataclasses
import time
from typing import Dict

import numpy as np
import pytest

from runtime.tf_compat import slim, tf  # The shim, before tf_slim.nets.
from checkpointing import checkpoints
from nets import resnet_v1
from tests import resnet_testlib as lib
from tf_slim.nets import resnet_v1 as oracle_resnet_v1  # Test oracle only.

pytestmark = pytest.mark.slow  # full-size networks against tf_slim

v1 = tf.compat.v1

DEPTHS = (50, 101)
BATCH, SIZE, CLASSES = 2, 224, 1000
TOLERANCE = 1e-5  # max|ours - oracle| <= TOLERANCE * max|oracle|
# End points only we have (the oracle's tf-slim predates them).
OUR_EXTRA_END_POINTS = ('global_pool', '{scope}/spatial_squeeze')
NUM_VARIABLES = {50: 267, 101: 522}


@dataclasses.dataclass
class OracleRun:
  depth: int
  scope: str
  checkpoint: str
  signature: list
  end_points: Dict[str, np.ndarray]
  pool5: np.ndarray
  images: np.ndarray
  style_runs: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class StyleRun:
  raw_names: list            # variable names as the style makes them
  signature: list            # [(slim name, shape)]
  report: checkpoints.RestoreReport
  end_point_keys: set
  shapes: Dict[str, tuple]
  differences: Dict[str, float]  # end point -> relative difference
  logits: float
  global_pool: float
  seconds: float


def _builders(depth):
  name = 'resnet_v1_%d' % depth
  return name, getattr(oracle_resnet_v1, name), resnet_v1.BUILDERS[name]


@pytest.fixture(scope='module', params=DEPTHS, ids=lambda d: 'resnet%d' % d)
def oracle(request, tmp_path_factory):
  """Builds the oracle once per depth, saves its checkpoint, runs it."""
  depth = request.param
  scope, oracle_fn, _ = _builders(depth)
  images = lib.random_images([BATCH, SIZE, SIZE, 3], seed=depth)
  graph = tf.Graph()
  with graph.as_default():
    inputs = v1.placeholder(tf.float32, [BATCH, SIZE, SIZE, 3])
    with slim.arg_scope(oracle_resnet_v1.resnet_arg_scope()):
      _, end_points = oracle_fn(inputs, CLASSES, is_training=False)
    pool5 = graph.get_tensor_by_name(scope + '/pool5:0')
    variables = v1.global_variables()
    with v1.Session(graph=graph) as session:
      session.run(v1.global_variables_initializer())
      lib.set_batch_norm_statistics(session, variables, seed=depth)
      path = str(tmp_path_factory.mktemp('oracle%d' % depth) / 'model.ckpt')
      checkpoint = v1.train.Saver(variables).save(
          session, path, write_meta_graph=False, write_state=False)
      values, pool_value = session.run([end_points, pool5], {inputs: images})
  return OracleRun(depth, scope, checkpoint, lib.signature(variables),
                   values, pool_value, images)


def _run_style(run, style):
  """Builds our network in `style`, restores the oracle's checkpoint, and
  compares every end point with the oracle's (kept as numbers only)."""
  if style in run.style_runs:
    return run.style_runs[style]
  start = time.time()
  scope, _, builder = _builders(run.depth)
  graph = tf.Graph()
  with graph.as_default():
    inputs = v1.placeholder(tf.float32, [BATCH, SIZE, SIZE, 3])
    logits, end_points = lib.build_in_style(style, builder, inputs, CLASSES,
                                            is_training=False)
    variables = v1.global_variables()
    with v1.Session(graph=graph) as session:
      # No initializer: the checkpoint must provide every variable.
      report = lib.restore_exactly(session, run.checkpoint, variables)
      logits_value, values = session.run([logits, end_points],
                                         {inputs: run.images})
  differences = {}
  for key, reference in run.end_points.items():
    if key not in values:
      continue
    value = values[key]
    if key == 'predictions':  # The oracle's softmax is over [N,1,1,C].
      reference = reference.reshape(value.shape)
    differences[key] = lib.relative_difference(value, reference)
  result = StyleRun(
      raw_names=sorted(v.op.name for v in variables),
      signature=lib.signature(variables),
      report=report,
      end_point_keys=set(values),
      shapes={k: v.shape for k, v in values.items()},
      differences=differences,
      logits=lib.relative_difference(
          logits_value, run.end_points[scope + '/logits'][:, 0, 0, :]),
      global_pool=lib.relative_difference(values['global_pool'], run.pool5),
      seconds=time.time() - start)
  run.style_runs[style] = result
  print('\nresnet_v1_%d %s style: max relative logit difference vs the '
        'oracle %.3g (global_pool %.3g, worst end point %.3g); built, '
        'restored and ran in %.1f s' % (
            run.depth, style, result.logits, result.global_pool,
            max(differences.values()), result.seconds))
  return result


def test_oracle_is_the_known_network(oracle):
  assert len(oracle.signature) == NUM_VARIABLES[oracle.depth]
  logits = oracle.end_points[oracle.scope + '/logits']
  assert logits.shape == (BATCH, 1, 1, CLASSES)
  # Sane magnitudes: the comparison below is relative to these.
  for key, value in oracle.end_points.items():
    assert np.isfinite(value).all(), key
    if key != 'predictions':
      assert 1e-2 < np.abs(value).max() < 1e2, (key, np.abs(value).max())


@pytest.mark.parametrize('style', ['slim', 'raw'])
def test_variables_equal_the_oracles(oracle, style):
  run = _run_style(oracle, style)
  assert run.raw_names == [name for name, _ in oracle.signature]
  assert run.signature == oracle.signature


def test_keras_variables_equal_the_oracles_after_the_name_map(oracle):
  run = _run_style(oracle, 'keras')
  # Keras names its weights kernel/bias; the documented map makes them Slim's.
  assert any(name.endswith('/kernel') for name in run.raw_names)
  assert sorted(checkpoints.keras_to_slim_name(n) for n in run.raw_names) == [
      name for name, _ in oracle.signature]
  assert run.signature == oracle.signature


@pytest.mark.parametrize('style', lib.STYLES)
def test_oracle_checkpoint_restores_everything(oracle, style):
  run = _run_style(oracle, style)
  assert len(run.report.restored) == NUM_VARIABLES[oracle.depth]
  assert sorted(run.report.restored) == [n for n, _ in oracle.signature]
  assert not run.report.unused and not run.report.fresh
  assert not run.report.mismatched and not run.report.excluded


@pytest.mark.parametrize('style', lib.STYLES)
def test_end_point_keys_are_the_oracles_plus_ours(oracle, style):
  run = _run_style(oracle, style)
  extra = {k.format(scope=oracle.scope) for k in OUR_EXTRA_END_POINTS}
  assert run.end_point_keys == set(oracle.end_points) | extra
  for key, value in oracle.end_points.items():
    if key != 'predictions':
      assert run.shapes[key] == value.shape, key
  assert run.shapes['predictions'] == (BATCH, CLASSES)
  assert run.shapes[oracle.scope + '/spatial_squeeze'] == (BATCH, CLASSES)
  assert run.shapes['global_pool'] == oracle.pool5.shape


@pytest.mark.parametrize('style', lib.STYLES)
def test_values_match_the_oracle(oracle, style):
  run = _run_style(oracle, style)
  assert run.logits <= TOLERANCE
  assert run.global_pool <= TOLERANCE
  assert set(run.differences) == set(oracle.end_points)
  worst = {k: d for k, d in run.differences.items() if d > TOLERANCE}
  assert not worst, worst
