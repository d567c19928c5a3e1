"""The benchmark's PyTorch peer (benchmarks/torch_peer.py and its worker).

torch is not a dependency of this project, so the peer is skipped where no Python has torch
and timm; these tests check that it says so, and its names. With SLIM_SENET_TORCH_PYTHON
pointing at a Python that has torch and timm (e.g. a scratch virtualenv), the peer's child
process is started for real, stepped in both modes and compared with our network's count
of multiply-adds.
"""
import os
import sys

import pytest

from benchmarks import flops
from benchmarks import model_bench
from benchmarks import model_variants
from benchmarks import torch_peer
from nets import nets_factory
from runtime.tf_compat import tf

TORCH_PYTHON = os.environ.get(torch_peer.ENV_VAR)
needs_torch = pytest.mark.skipif(
    not TORCH_PYTHON, reason='set %s to a Python with torch and timm' % torch_peer.ENV_VAR)


def test_timm_peers_are_named_after_timm_models():
  peer = model_variants.peer(model_variants.TIMM, 'se_resnet_v1_50')
  assert peer.name == 'timm/seresnet50'
  assert model_variants.timm_model(peer) == 'seresnet50'
  assert model_variants.variant_from_name('timm/seresnet50') == peer
  assert model_variants.peer(model_variants.TIMM, 'resnet_v1_101').name == 'timm/resnet101'
  # timm has no 14-layer ResNets.
  assert model_variants.peer(model_variants.TIMM, 'se_resnet_v1_14') is None
  with pytest.raises(ValueError, match='Unknown benchmark variant'):
    model_variants.variant_from_name('timm/seresnet14')


def test_the_timm_peer_is_compared_with_ours_in_timms_topology():
  settings = model_bench.BenchSettings(
      models=('se_resnet_v1_50',), styles=('raw', 'slim'), peers=('timm',),
      shapes=((1, 32),))
  counterpart = model_bench.torch_counterpart('se_resnet_v1_50', settings)
  assert counterpart.name == 'se_resnet_v1_50/raw@topology=torch'
  assert (counterpart.style, counterpart.topology) == ('raw', 'torch')
  assert model_variants.variant_from_name(counterpart.name) == counterpart
  names = ['se_resnet_v1_50/raw', 'se_resnet_v1_50/slim', counterpart.name,
           'timm/seresnet50']
  assert ('vs_torch', counterpart.name, 'timm/seresnet50') in model_bench._pairs(  # pylint: disable=protected-access
      names, settings)
  # With --topology=torch every variant of ours is timm's arrangement already.
  settings = settings._replace(topology='torch')
  assert model_bench.torch_counterpart('se_resnet_v1_50', settings).name == (
      'se_resnet_v1_50/raw')


def test_a_python_without_torch_skips_the_peer_and_says_why():
  # The project's own Python has no torch (it is not a dependency).
  if torch_peer._can_import_torch(sys.executable):  # pylint: disable=protected-access
    pytest.skip('this Python has torch and timm')
  settings = model_bench.BenchSettings(
      models=('se_resnet_v1_50',), styles=('slim',), peers=('tf_slim', 'timm'),
      shapes=((1, 32),), torch_python=sys.executable)
  found, skipped = model_bench.variants(settings)
  assert [v.name for v in found if v.kind != 'ours'] == [
      'matmul/2048', 'numpy_matmul/2048']
  assert skipped == ['timm/seresnet50 (--torch_python=%s cannot import torch and timm)' %
                     sys.executable]


def test_a_plain_resnet_gets_every_peer_that_has_it():
  settings = model_bench.BenchSettings(
      models=('resnet_v1_50',), styles=('slim',), peers=('tf_slim', 'keras_applications'),
      shapes=((1, 32),))
  found, skipped = model_bench.variants(settings)
  assert 'tf_slim.nets/resnet_v1_50' in [v.name for v in found]
  assert 'tf_keras.applications/ResNet50' in [v.name for v in found]
  assert not skipped


@needs_torch
@pytest.mark.parametrize('mode', ['forward', 'train'])
def test_the_child_steps_and_reports_itself(mode):
  python, why_not = torch_peer.find_python(TORCH_PYTHON)
  assert python, why_not
  peer = model_variants.peer(model_variants.TIMM, 'se_resnet_v1_50')
  with torch_peer.build(peer, mode, batch_size=2, image_size=64, threads=1,
                        num_classes=10, python=python) as built:
    built.step()
    built.step()
    info = built.peer_info
  assert info['ready'] and info['mode'] == mode and info['threads'] == 1
  assert info['memory_format'] in ('nchw', 'channels_last')
  assert info['omp_wait_policy'] == os.environ.get('OMP_WAIT_POLICY', 'PASSIVE')
  assert info['peak_rss_mb'] > 100  # Read from the child as it quits.


@needs_torch
def test_the_child_counts_the_multiply_adds_ours_count():
  """timm's seresnet50 and ours with topology 'torch' are one network: same count."""
  python, why_not = torch_peer.find_python(TORCH_PYTHON)
  assert python, why_not
  peer = model_variants.peer(model_variants.TIMM, 'se_resnet_v1_50')
  with torch_peer.build(peer, 'forward', batch_size=2, image_size=64, threads=1,
                        num_classes=10, python=python) as built:
    theirs = built.multiply_adds_per_step
  with tf.Graph().as_default() as graph:
    network_fn = nets_factory.get_network_fn('se_resnet_v1_50', 10, topology='torch')
    logits, _ = network_fn(tf.zeros([2, 64, 64, 3]))
    ours = flops.count_multiply_adds(graph, flops.upstream_ops([logits])).total
  assert theirs == ours
