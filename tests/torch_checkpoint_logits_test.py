"""Converted torch checkpoints give torch's logits, in every layer style.

The fixtures (tests/fixtures/torch/, made by tools/make_torch_fixtures.py from
the real pretrainedmodels / timm / torchvision classes with calibrated batch
norm) hold state dicts in torch's zip and legacy formats and safetensors, and
torch's logits for fixed NCHW inputs at an even and an odd size. Each fixture
is converted, every file of it must give the same tensors, and the network
built from the sidecar (model, topology, options) must reproduce the logits
within 1e-4 of their largest magnitude.
"""
import json
import os

import numpy as np
import pytest

from checkpointing import checkpoints
from nets import nets_factory
from runtime.tf_compat import tf
from torch_checkpoints import convert
from torch_checkpoints import sidecar as sidecar_lib

pytestmark = pytest.mark.slow  # converted networks in every style

v1 = tf.compat.v1

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                        'fixtures', 'torch')
with open(os.path.join(FIXTURES, 'manifest.json')) as _f:
  MANIFEST = {f['name']: f for f in json.load(_f)['fixtures']}
STYLES = ('raw', 'slim', 'keras')
RELATIVE_TOLERANCE = 1e-4


def _read(prefix):
  reader = tf.train.load_checkpoint(prefix)
  return {n: reader.get_tensor(n)
          for n in reader.get_variable_to_shape_map()}


@pytest.fixture(scope='module', params=sorted(MANIFEST))
def converted(request, tmp_path_factory):
  """(fixture entry, checkpoint prefix) of one fixture, every file checked."""
  fixture = MANIFEST[request.param]
  directory = tmp_path_factory.mktemp(request.param)
  prefixes = []
  for file_format, info in sorted(fixture['files'].items()):
    prefix = str(directory / file_format / 'model')
    os.mkdir(os.path.dirname(prefix))
    result = convert.convert(os.path.join(FIXTURES, info['file']), prefix,
                             model_name=fixture['model_name'],
                             num_classes=fixture['num_classes'])
    source = result.sidecar['source']
    assert (source['format'], source['sha256'], source['layout']) == (
        file_format, info['sha256'], fixture['source']['layout'])
    prefixes.append(prefix)
  first = _read(prefixes[0])
  for prefix in prefixes[1:]:
    tensors = _read(prefix)
    assert sorted(tensors) == sorted(first)
    for name, array in first.items():
      np.testing.assert_array_equal(tensors[name], array, err_msg=name)
  return fixture, prefixes[0]


def test_the_sidecar_describes_the_fixtures_network(converted):
  fixture, prefix = converted
  sidecar = sidecar_lib.read_sidecar(prefix)
  assert sidecar['model_name'] == fixture['model_name']
  assert sidecar['topology'] == fixture['topology']
  assert sidecar['num_classes'] == fixture['num_classes']
  assert sidecar['labels_offset'] == 0
  # The inferred depth multiplier may differ from the one the fixture was
  # made with, but must give the same widths.
  options = sidecar['model_options']
  assert options.get('min_base_depth', 8) == fixture['model_options'].get(
      'min_base_depth', 8)
  widths = [max(int(base * options['depth_multiplier']),
                options.get('min_base_depth', 8))
            for base in (64, 128, 256, 512)]
  assert widths == fixture['planes']


@pytest.mark.parametrize('style', STYLES)
def test_logits_match_torch(converted, style):
  fixture, prefix = converted
  sidecar = sidecar_lib.read_sidecar(prefix)
  expected = np.load(os.path.join(FIXTURES, fixture['logits']['file']))
  for size in fixture['logits']['image_sizes']:
    images = expected['inputs_%d' % size].transpose(0, 2, 3, 1)
    torch_logits = expected['logits_%d' % size]
    with tf.Graph().as_default():
      network_fn = nets_factory.get_network_fn(
          sidecar['model_name'], sidecar['num_classes'], style=style,
          topology=sidecar['topology'], **sidecar['model_options'])
      logits, _ = network_fn(tf.constant(images))
      with v1.Session() as session:
        report = checkpoints.restore(session, prefix)
        assert not report.fresh and not report.unused
        ours = session.run(logits)
    scale = np.abs(torch_logits).max()
    error = np.abs(ours - torch_logits).max()
    assert error <= RELATIVE_TOLERANCE * scale, (
        '%s %s at %d: max |ours - torch| = %.3g, %.3g of max |logit| %.3g' %
        (fixture['name'], style, size, error, error / scale, scale))
