"""benchmarks/bench_models.py run as a real subprocess on a tiny configuration.

Nothing here is timed: the checks are that the script runs end to end, that
its JSON has the documented structure, and that every reported ratio and
ceiling fraction is computed from the per-round times it measured.
"""
import json
import os
import statistics
import subprocess
import sys

import pytest

from benchmarks import flops
from nets.layers import se_tail
from runtime.tf_compat import tf, v1

pytestmark = pytest.mark.slow  # runs the benchmark in subprocesses

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROUNDS = 2
MATMUL = 128
TINY_FLAGS = [
    '--models=resnet_v1_14,se_resnet_v1_14', '--styles=slim,raw',
    '--peers=tf_slim,keras_applications', '--batch_sizes=2',
    '--image_size=32', '--extra_shapes=', '--repetitions=%d' % ROUNDS,
    '--min_round_seconds=0', '--warmup_steps=1', '--num_classes=10',
    '--matmul_size=%d' % MATMUL,
]
# One memory probe is run directly below; the full run skips them (each is a
# fresh process importing TensorFlow).
OURS = ['resnet_v1_14/slim', 'resnet_v1_14/raw', 'se_resnet_v1_14/slim',
        'se_resnet_v1_14/raw']
PEER = 'tf_slim.nets/resnet_v1_14'
# The SE-path control (default --se_controls=tf_ops): the SE model in the first
# style with TensorFlow's ops for its SE units.
SE_CONTROL = 'se_resnet_v1_14/slim@se=tf_ops'
CEILINGS = ['matmul/%d' % MATMUL, 'numpy_matmul/%d' % MATMUL]


def _run_script(*args, timeout=900):
  env = dict(os.environ, PYTHONPATH=ROOT)
  return subprocess.run(
      [sys.executable, '-m', 'benchmarks.bench_models'] + list(args),
      cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout,
      check=False)


@pytest.fixture(scope='module')
def run(tmp_path_factory):
  json_out = str(tmp_path_factory.mktemp('bench') / 'bench.json')
  proc = _run_script(*(TINY_FLAGS + ['--nomemory', '--json_out=' + json_out]))
  assert proc.returncode == 0, proc.stderr[-4000:]
  with open(json_out) as f:
    return json.load(f), proc.stdout


def test_phases_hold_every_variant_with_per_round_times(run):
  results, _ = run
  assert [(p['batch_size'], p['image_size'], p['mode'])
          for p in results['phases']] == [(2, 32, 'forward'), (2, 32, 'train')]
  assert results['skipped'] == ['keras_applications has no resnet_v1_14']
  assert results['settings']['threads']['inter_op'] == 1
  # The script re-executes itself with oneDNN on unless the environment
  # already decides.
  assert results['settings']['onednn'] is (
      os.environ.get('TF_ENABLE_ONEDNN_OPTS', '1') == '1')
  assert results['settings']['threads']['intra_op'] >= 1
  for phase in results['phases']:
    assert list(phase['variants']) == OURS + [
        OURS[0] + '#2', OURS[0] + '@unfolded', SE_CONTROL, PEER] + CEILINGS
    for record in phase['variants'].values():
      assert len(record['seconds_per_step']) == ROUNDS
      assert all(s > 0 for s in record['seconds_per_step'])
      assert record['steps_per_round'] >= 1
      stats = record['seconds_per_step_stats']
      assert stats['median'] == statistics.median(record['seconds_per_step'])


def test_multiply_adds_match_between_ours_and_tf_slim(run):
  results, _ = run
  forward, train = [p['variants'] for p in results['phases']]
  plain = forward['resnet_v1_14/slim']['multiply_adds_per_image']
  # Same architecture, counted from two independently built graphs.
  assert forward[PEER]['multiply_adds_per_image'] == plain
  assert forward['resnet_v1_14/raw']['multiply_adds_per_image'] == plain
  # SE adds fc1 [C, C/16] and fc2 [C/16, C] to the one unit of each block.
  se_fcs = sum(2 * c * (c // 16) for c in (256, 512, 1024, 2048))
  assert forward['se_resnet_v1_14/slim'][
      'multiply_adds_per_image'] == plain + se_fcs
  # Training: forward + input and filter gradient of every conv. Even conv1's
  # input gradient runs: the optimizer's default GATE_OP groups each op's
  # gradients, so the unused one becomes a control dependency.
  assert train['resnet_v1_14/slim']['multiply_adds_per_image'] == 3 * plain
  for name in CEILINGS:
    assert forward[name]['multiply_adds_per_image'] == MATMUL**3


def test_training_steps_run_every_batch_norm_update(run):
  results, _ = run
  forward, train = [p['variants'] for p in results['phases']]
  # resnet_v1_14: conv1 + 4 units x (3 convs) + 4 projection shortcuts = 17
  # batch norms, each with a moving mean and a moving variance update.
  for name in OURS + [PEER]:
    assert train[name]['update_ops_run'] == 2 * 17, name
    assert forward[name]['update_ops_run'] == 0, name


def _ceiling_gflops(variants):
  """Per round, the faster matmul's GFLOP/s, from the measured times."""
  per_name = [[2.0 * MATMUL**3 / t / 1e9
               for t in variants[name]['seconds_per_step']]
              for name in CEILINGS]
  return [max(values) for values in zip(*per_name)]


def _check_comparison(comparison, variants):
  numerator = variants[comparison['numerator']]['seconds_per_step']
  if comparison['kind'] == 'ceiling_fraction':
    assert comparison['denominator'] == 'ceiling'
    work = variants[comparison['numerator']]['multiply_adds_per_image'] * 2
    expected = [2 * work / t / 1e9 / c  # Batch 2.
                for t, c in zip(numerator, _ceiling_gflops(variants))]
  else:
    denominator = variants[comparison['denominator']]['seconds_per_step']
    expected = [n / d for n, d in zip(numerator, denominator)]
    assert comparison['best_round_ratio'] == pytest.approx(
        min(numerator) / min(denominator), rel=1e-12)
  assert comparison['values'] == pytest.approx(expected, rel=1e-12)
  assert comparison['median'] == pytest.approx(statistics.median(expected))
  assert comparison['min'] == pytest.approx(min(expected))
  assert comparison['max'] == pytest.approx(max(expected))


def _check_ops_against_tf_slim(differences, mode):
  """Our slim style builds tf_slim's computation op for op but for two things.

  The logits, a 1x1 conv of the pooled 1x1 map, run as a matmul
  (nets.layers.pointwise), forward and backward. In forward mode (inference
  batch norm) the batch norms worth folding are folded into their convs
  (nets.layers.batch_norm_folding): Conv2D + BiasAdd instead of Conv2D +
  FusedBatchNormV3, plus the folding's per-channel arithmetic.
  """
  allowed = {'Conv2D', 'Conv2DBackpropInput', 'Conv2DBackpropFilter',
             'MatMul', 'Reshape', 'BiasAdd', 'BiasAddGrad', 'ShapeN'}
  if mode == 'forward':
    allowed |= {'FusedBatchNormV3', 'Mul', 'Rsqrt', 'AddV2', 'Sub'}
  assert set(differences) <= allowed, differences
  ours, theirs = differences['Conv2D']
  assert (ours, differences['MatMul'][1]) == (theirs - 1, 0)
  if mode == 'forward':
    _check_folded(differences)


def _check_folded(differences):
  """Some of the 17 batch norms of ResNet-14 folded: one Rsqrt for each."""
  ours, theirs = differences['FusedBatchNormV3']
  assert theirs == 17 and 1 <= theirs - ours < 17
  assert differences['Rsqrt'] == [theirs - ours, 0]


def test_ratios_are_computed_from_the_measured_times(run):
  results, _ = run
  for phase in results['phases']:
    assert phase['ceiling_gflops'] == pytest.approx(
        _ceiling_gflops(phase['variants']), rel=1e-12)
    assert set(phase['ceiling_variants']) <= set(CEILINGS)
    comparisons = phase['comparisons']
    pairs = {(c['kind'], c['numerator'], c['denominator'])
             for c in comparisons}
    assert pairs >= {
        ('aa_control', 'resnet_v1_14/slim#2', 'resnet_v1_14/slim'),
        ('folding', 'resnet_v1_14/slim', 'resnet_v1_14/slim@unfolded'),
        ('vs_tf_slim', 'resnet_v1_14/slim', PEER),
        ('vs_slim_style', 'resnet_v1_14/raw', 'resnet_v1_14/slim'),
        ('vs_slim_style', 'se_resnet_v1_14/raw', 'se_resnet_v1_14/slim'),
        ('se_overhead', 'se_resnet_v1_14/slim', 'resnet_v1_14/slim'),
        ('se_overhead', 'se_resnet_v1_14/raw', 'resnet_v1_14/raw'),
        ('se_path', 'se_resnet_v1_14/slim', SE_CONTROL),
    }
    assert {c['numerator'] for c in comparisons
            if c['kind'] == 'ceiling_fraction'} == set(
                OURS + [OURS[0] + '@unfolded', SE_CONTROL])
    for comparison in comparisons:
      _check_comparison(comparison, phase['variants'])
      if comparison['kind'] == 'aa_control':
        assert comparison['op_type_differences'] == {}
      if comparison['kind'] == 'folding':
        # Forward: the batch norms worth folding become BiasAdds plus the
        # folding's arithmetic; train: nothing is folded.
        differences = comparison['op_type_differences']
        if phase['mode'] == 'forward':
          _check_folded(differences)
        else:
          assert differences == {}
      if comparison['kind'] == 'vs_tf_slim':
        _check_ops_against_tf_slim(comparison['op_type_differences'],
                                   phase['mode'])
      if comparison['kind'] == 'se_overhead':
        assert comparison['op_type_differences']
      if comparison['kind'] == 'se_path' and se_tail.available():
        # The compiled tail (or TensorFlow's Mul, AddV2, Relu) in each unit.
        differences = comparison['op_type_differences']
        units = differences['SlimSenetScaleAddRelu'][0]
        assert units >= 4 and differences['SlimSenetScaleAddRelu'][1] == 0
      # Targets apply at 224 only; the tiny run reports them as not applying.
      assert comparison['target_applies'] is False
  assert results['targets'] == []


def test_memory_probe_measures_one_variant_in_a_fresh_process():
  proc = _run_script('--probe_variant=%s' % PEER, '--probe_batch_size=2',
                     '--probe_image_size=32', '--num_classes=10',
                     timeout=300)
  assert proc.returncode == 0, proc.stderr[-4000:]
  m = json.loads(proc.stdout.strip().splitlines()[-1])
  assert (m['variant'], m['batch_size'], m['image_size']) == (PEER, 2, 32)
  # A fresh process that imported TF holds more than 100 MB; building and
  # stepping a network can only raise the high-water mark.
  assert 100 < m['baseline_mb'] <= m['forward_peak_mb'] <= m['train_peak_mb']


def test_full_run_skipped_memory_when_asked(run):
  results, stdout = run
  assert results['memory'] == []
  assert results['settings']['memory'] is False
  assert 'Peak resident memory' not in stdout


def test_report_tables_name_every_variant(run):
  _, stdout = run
  assert '### batch 2, 32x32, forward' in stdout
  assert '### batch 2, 32x32, train' in stdout
  for name in OURS + [PEER]:
    assert '| %s |' % name in stdout
  for name in CEILINGS:
    assert '| %s (ceiling) |' % name in stdout


def test_bad_flags_give_a_clear_error():
  proc = _run_script('--styles=slim,fancy', '--nomemory', timeout=300)
  assert proc.returncode != 0
  assert "Unknown style 'fancy'; valid styles: slim, raw, keras" in proc.stderr


def test_multiply_adds_counter_on_a_small_graph():
  with tf.Graph().as_default() as graph:
    images = tf.zeros([2, 8, 8, 3])
    weights = v1.get_variable('w', [3, 3, 3, 4])
    net = tf.nn.conv2d(images, weights, [1, 2, 2, 1], 'SAME')  # -> 2x4x4x4
    dense = v1.get_variable('d', [64, 5])
    logits = tf.matmul(tf.reshape(net, [2, 64]), dense)
    loss = tf.reduce_sum(logits)
    forward = flops.count_multiply_adds(graph, flops.upstream_ops([logits]))
    conv = 2 * 4 * 4 * 4 * 3 * 3 * 3
    assert forward.by_op_type == {'Conv2D': conv, 'MatMul': 2 * 64 * 5}
    grads = tf.gradients(loss, [weights, dense])
    backward = flops.count_multiply_adds(
        graph, flops.upstream_ops(grads + [logits]))
    # No gradient for the images: no Conv2DBackpropInput.
    assert backward.by_op_type == {'Conv2D': conv, 'Conv2DBackpropFilter': conv,
                                   'MatMul': 3 * 2 * 64 * 5}


def test_counts_agree_with_nets_model_summary(run):
  """The benchmark's graph counter and diagnostics.model_summary's, one convention."""
  from diagnostics import model_summary  # pylint: disable=g-import-not-at-top
  results, _ = run
  forward = results['phases'][0]['variants']
  for name in ('resnet_v1_14', 'se_resnet_v1_14'):
    summary = model_summary.count(name, image_size=32, num_classes=10)
    assert forward[name + '/slim'][
        'multiply_adds_per_image'] == summary.multiply_adds


def test_settings_reject_a_negative_memory_job_count():
  from benchmarks import model_bench  # pylint: disable=g-import-not-at-top
  with pytest.raises(ValueError, match='memory_jobs'):
    model_bench.BenchSettings(memory_jobs=-1)
  assert model_bench.BenchSettings().memory_jobs == 0  # = available CPUs.
