"""convert_torch_checkpoint.py and torch_checkpoints.convert: names, values,
sidecar, restoring in every style, and one-line errors with nothing written.

The state dicts are random, small (depth 14, a quarter or an eighth of the
widths) and written in torch's formats by tests/torch_files_testlib.py; the
logit agreement with torch itself is in torch_checkpoint_logits_test.py.
"""
import hashlib
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from checkpointing import checkpoints
from nets import nets_factory
from runtime.tf_compat import tf
from tests import torch_files_testlib as tl
from torch_checkpoints import convert
from torch_checkpoints import sidecar as sidecar_lib
from torch_checkpoints import target
from torch_checkpoints.errors import ConversionError, UsageError

v1 = tf.compat.v1

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, 'convert_torch_checkpoint.py')
MODEL = 'se_resnet_v1_14'
DM = 0.125
CLASSES = 5


def _state(layout='pretrainedmodels', **kwargs):
  options = dict(depth_multiplier=DM, num_classes=CLASSES,
                 se=layout != 'torchvision')
  options.update(kwargs)
  return tl.random_state_dict(layout, **options)


def _write(tmp_path, state, fmt='legacy', name='model.pth', **kwargs):
  path = str(tmp_path / name)
  tl.WRITERS[fmt](state, path, **kwargs)
  return path


def _out(tmp_path):
  directory = tmp_path / 'out'
  directory.mkdir(exist_ok=True)
  return str(directory / 'model')


def _checkpoint(prefix):
  reader = tf.train.load_checkpoint(prefix)
  return {n: reader.get_tensor(n)
          for n in reader.get_variable_to_shape_map()}


@pytest.mark.parametrize('layout,fmt,model,topology,dm,groups', [
    ('pretrainedmodels', 'legacy', 'se_resnet_v1_14', 'caffe', DM, 1),
    ('timm', 'safetensors', 'se_resnet_v1_14', 'torch', DM, 1),
    ('torchvision', 'zip', 'resnet_v1_14', 'torch', DM, 1),
    ('pretrainedmodels', 'zip', 'se_resnext_14_32x4d', 'caffe_resnext',
     0.375, 32),
])
def test_each_layout_converts_to_the_builders_names_and_values(
    tmp_path, layout, fmt, model, topology, dm, groups):
  state = _state(layout, depth_multiplier=dm, groups=groups)
  source = _write(tmp_path, state, fmt,
                  'model.safetensors' if fmt == 'safetensors' else 'm.pth')
  prefix = _out(tmp_path)
  result = convert.convert(source, prefix)
  tensors = _checkpoint(prefix)
  shapes = target.variable_shapes(model, CLASSES, {'depth_multiplier': dm,
                                                   'topology': topology})
  assert {n: list(a.shape) for n, a in tensors.items()} == shapes
  assert all(a.dtype == np.float32 for a in tensors.values())

  stem = 'layer0.' if layout == 'pretrainedmodels' else ''
  head = 'last_linear' if layout == 'pretrainedmodels' else 'fc'
  unit = model + '/block2/unit_1/bottleneck_v1/'
  np.testing.assert_array_equal(tensors[model + '/conv1/weights'],
                                state[stem + 'conv1.weight'].transpose(
                                    2, 3, 1, 0))
  np.testing.assert_array_equal(tensors[model + '/conv1/BatchNorm/gamma'],
                                state[stem + 'bn1.weight'])
  np.testing.assert_array_equal(
      tensors[unit + 'shortcut/BatchNorm/moving_variance'],
      state['layer2.0.downsample.1.running_var'])
  np.testing.assert_array_equal(  # Grouped: [O, I/g, 3, 3] -> [3, 3, I/g, O].
      tensors[unit + 'conv2/weights'],
      state['layer2.0.conv2.weight'].transpose(2, 3, 1, 0))
  np.testing.assert_array_equal(tensors[unit + 'conv2/BatchNorm/beta'],
                                state['layer2.0.bn2.bias'])
  np.testing.assert_array_equal(tensors[unit + 'conv2/BatchNorm/moving_mean'],
                                state['layer2.0.bn2.running_mean'])
  np.testing.assert_array_equal(tensors[model + '/logits/weights'],
                                state[head + '.weight'].T[None, None])
  np.testing.assert_array_equal(tensors[model + '/logits/biases'],
                                state[head + '.bias'])
  if layout != 'torchvision':
    se = 'se_module' if layout == 'pretrainedmodels' else 'se'
    np.testing.assert_array_equal(
        tensors[unit + 'se/fc1/weights'],
        state['layer2.0.%s.fc1.weight' % se][:, :, 0, 0].T)
    np.testing.assert_array_equal(tensors[unit + 'se/fc2/biases'],
                                  state['layer2.0.%s.fc2.bias' % se])

  with open(source, 'rb') as f:
    digest = hashlib.sha256(f.read()).hexdigest()
  expected_files = [prefix + s for s in ('.data-00000-of-00001', '.json',
                                         '.index')]
  assert result.files == expected_files
  assert sorted(os.listdir(os.path.dirname(prefix))) == sorted(
      os.path.basename(f) for f in expected_files)
  sidecar = sidecar_lib.read_sidecar(prefix)
  assert sidecar == result.sidecar
  assert sidecar == {
      'format': 'slim-senet-converted-checkpoint', 'version': 1,
      'model_name': model, 'topology': topology,
      'model_options': {'depth_multiplier': dm}, 'layer_style': 'slim',
      'num_classes': CLASSES, 'labels_offset': 0,
      'preprocessing': {
          'name': 'torch', 'mean': [0.485, 0.456, 0.406],
          'std': [0.229, 0.224, 0.225], 'input_range': [0, 1],
          'image_size': 224, 'resize_size': 256, 'crop_pct': 0.875,
          'interpolation': 'bilinear'},
      'source': {'file': os.path.basename(source), 'sha256': digest,
                 'format': 'torch-' + fmt if fmt != 'safetensors' else fmt,
                 'layout': layout}}


def test_the_checkpoint_restores_into_every_style(tmp_path):
  state = _state()
  prefix = _out(tmp_path)
  convert.convert(_write(tmp_path, state), prefix)
  expected = state['layer3.0.conv3.weight'].transpose(2, 3, 1, 0)
  for style in ('raw', 'slim', 'keras'):
    with tf.Graph().as_default():
      nets_factory.get_network_fn(MODEL, CLASSES, style=style,
                                  depth_multiplier=DM)(
                                      v1.placeholder(tf.float32,
                                                     [1, 32, 32, 3]))
      with v1.Session() as session:
        report = checkpoints.restore(session, prefix)
        assert not report.unused and not report.fresh, style
        conv3 = [v for v in v1.global_variables()
                 if 'block3/unit_1/bottleneck_v1/conv3/' in v.name and
                 'BatchNorm' not in v.name]
        np.testing.assert_array_equal(session.run(conv3[0]), expected)


def test_keras_naming_matches_a_keras_style_graph(tmp_path):
  prefix = _out(tmp_path)
  result = convert.convert(_write(tmp_path, _state()), prefix,
                           layer_style='keras')
  assert result.sidecar['layer_style'] == 'keras'
  tensors = _checkpoint(prefix)
  with tf.Graph().as_default():
    nets_factory.get_network_fn(MODEL, CLASSES, style='keras',
                                depth_multiplier=DM)(
                                    v1.placeholder(tf.float32, [1, 32, 32, 3]))
    variables = {v.op.name: v for v in v1.global_variables()}
    assert {n: list(a.shape) for n, a in tensors.items()} == {
        n: v.shape.as_list() for n, v in variables.items()}
    assert MODEL + '/logits/kernel' in tensors
    with v1.Session() as session:
      v1.train.Saver(variables).restore(session, prefix)
      np.testing.assert_array_equal(
          session.run(variables[MODEL + '/logits/kernel']),
          tensors[MODEL + '/logits/kernel'])


def test_se_ratio_1000_classes_and_topology_are_recorded(tmp_path):
  prefix = _out(tmp_path)
  result = convert.convert(
      _write(tmp_path, _state('timm', num_classes=1000,
                              se_hidden=lambda c: c // 8), 'zip'), prefix,
      model_name=MODEL, num_classes=1000, topology='caffe')
  assert result.sidecar['model_options'] == {'depth_multiplier': DM,
                                             'se_ratio': 8}
  assert result.sidecar['labels_offset'] == 1
  assert result.sidecar['topology'] == 'caffe'
  fc1 = MODEL + '/block4/unit_1/bottleneck_v1/se/fc1/weights'
  assert list(_checkpoint(prefix)[fc1].shape) == [256, 32]


def test_timm_config_json_beside_the_file_sets_the_preprocessing(tmp_path):
  (tmp_path / 'config.json').write_text(json.dumps({
      'architecture': 'seresnet14', 'pretrained_cfg': {
          'input_size': [3, 256, 256], 'crop_pct': 0.95,
          'interpolation': 'bicubic', 'mean': [0.5, 0.5, 0.5],
          'std': [0.25, 0.25, 0.25]}}))
  source = _write(tmp_path, _state('timm'), 'safetensors',
                  'model.safetensors')
  preprocessing = convert.convert(source, _out(tmp_path),
                                  interpolation='bilinear').sidecar[
                                      'preprocessing']
  assert preprocessing == {
      'name': 'torch', 'mean': [0.5, 0.5, 0.5], 'std': [0.25, 0.25, 0.25],
      'input_range': [0, 1], 'image_size': 256, 'resize_size': 269,
      'crop_pct': 0.95, 'interpolation': 'bilinear'}


def _drop(state, key):
  del state[key]
  return state


def _add(state, key, value):
  state[key] = value
  return state


def _replace(state, key, value):
  state[key] = value
  return state


@pytest.mark.parametrize('make_state,kwargs,message', [
    (_state, dict(model_name='resnet_v1_14'),
     r'holds an SE-ResNet-14 \(se_resnet_v1_14, units per layer \[1, 1, 1, '
     r'1\]\), not a ResNet \(--model_name=resnet_v1_14\): it has SE blocks; '
     r'pass --model_name=se_resnet_v1_14 or leave it out'),
    (lambda: _state('torchvision'), dict(model_name='se_resnet_v1_14'),
     r'holds a ResNet-14 .*, not an SE-ResNet .*it has no SE blocks'),
    (_state, dict(model_name='se_resnet_v1_26'),
     r'holds an SE-ResNet-14 .* but --model_name=se_resnet_v1_26 has depth 26 '
     r'\(units per layer \[2, 2, 2, 2\]\)'),
    (_state, dict(num_classes=1000),
     r"the file's classifier has 5 classes, --num_classes=1000"),
    (lambda: _drop(_state(), 'layer2.0.bn2.running_var'), {},
     r'the pretrainedmodels layout .* does not fit: missing keys '
     r'layer2.0.bn2.running_var$'),
    (lambda: _add(_state(), 'layer1.0.conv2.bias', np.zeros(8, np.float32)),
     {}, r'unexpected keys layer1.0.conv2.bias$'),
    (lambda: _replace(_state(), 'layer0.conv1.weight',
                      np.zeros((64, 3, 3, 3), np.float32)), {},
     r'does not fit SE-ResNet-14 .*: mis-shaped: layer0.conv1.weight '
     r'\[64, 3, 3, 3\] -> se_resnet_v1_14/conv1/weights \[3, 3, 3, 64\], the '
     r'model has \[7, 7, 3, 64\]'),
    (lambda: _state(se_hidden=lambda c: max(8, c // 16)), {},
     r'the SE hidden widths follow no reduction ratio'),
    (lambda: _replace(_state(), 'layer4.0.conv3.weight',
                      np.zeros((200, 64, 1, 1), np.float32)), {},
     r'the layer widths \(planes \[8, 16, 32, 50\]'),
    (lambda: {'conv1.0.weight': np.zeros((4, 3, 3, 3), np.float32)}, {},
     r'a ResNet with a deep stem'),
    (lambda: {'features.0.weight': np.zeros((4, 3, 3, 3), np.float32)}, {},
     r'not a ResNet-family state dict: .* first keys are features.0.weight'),
])
def test_files_that_do_not_fit_fail_in_one_line_writing_nothing(
    tmp_path, make_state, kwargs, message):
  source = _write(tmp_path, make_state(), 'zip')
  prefix = _out(tmp_path)
  with pytest.raises(ConversionError) as raised:
    convert.convert(source, prefix, **kwargs)
  assert not isinstance(raised.value, UsageError)
  text = str(raised.value)
  assert text.startswith(source + ': ') and '\n' not in text
  assert re.search(message, text), text
  assert os.listdir(os.path.dirname(prefix)) == []


@pytest.mark.parametrize('kwargs,message', [
    (dict(model_name='simple_cnn'), r'--model_name=simple_cnn cannot be '
     r'converted from torch; valid names: .*se_resnet_v1_50'),
    (dict(layer_style='tf'), r'--layer_style=tf is unknown'),
    (dict(output=__file__ + '/dir/model'), r'_test.py is a file, not a '
     r'directory'),
    (dict(input='/nonexistent.pth'), r'/nonexistent.pth: no such file'),
    (dict(crop_pct=1.5), r'--crop_pct=1.5 must be in \(0, 1\]'),
    (dict(topology='v2'), r'--topology=v2 is unknown; valid topologies: '
     r'slim, caffe, caffe_resnext, torch'),
])
def test_usage_errors(tmp_path, kwargs, message):
  source = _write(tmp_path, _state())
  arguments = dict(input=source, output=_out(tmp_path))
  arguments.update(kwargs)
  with pytest.raises(UsageError, match=message):
    convert.convert(arguments.pop('input'), arguments.pop('output'),
                    **arguments)


def test_missing_output_directories_are_made(tmp_path):
  prefix = str(tmp_path / 'new' / 'dirs' / 'model')
  convert.convert(_write(tmp_path, _state()), prefix)
  assert sorted(os.listdir(os.path.dirname(prefix))) == [
      'model.data-00000-of-00001', 'model.index', 'model.json']


def test_converting_again_replaces_the_files(tmp_path):
  prefix = _out(tmp_path)
  convert.convert(_write(tmp_path, _state(seed=1)), prefix)
  state = _state(seed=2)
  convert.convert(_write(tmp_path, state, 'zip', 'second.pth'), prefix)
  np.testing.assert_array_equal(
      _checkpoint(prefix)[MODEL + '/logits/biases'], state['last_linear.bias'])
  assert sidecar_lib.read_sidecar(prefix)['source']['file'] == 'second.pth'
  assert len(os.listdir(os.path.dirname(prefix))) == 3


def test_read_sidecar(tmp_path):
  prefix = str(tmp_path / 'plain')
  assert sidecar_lib.read_sidecar(prefix) is None
  (tmp_path / 'plain.json').write_text('{"format": "something else"}')
  with pytest.raises(sidecar_lib.SidecarError, match=r'plain.json: not a '
                     r'converted-checkpoint sidecar'):
    sidecar_lib.read_sidecar(prefix)
  (tmp_path / 'plain.json').write_text('{"format": "slim-senet-converted-'
                                       'checkpoint", "version": 9}')
  with pytest.raises(sidecar_lib.SidecarError, match='version 9 is newer'):
    sidecar_lib.read_sidecar(prefix + '.index')


def _run(*args):
  return subprocess.run([sys.executable, SCRIPT] + list(args), cwd=ROOT,
                        capture_output=True, text=True, timeout=600,
                        check=False)


def _assert_one_error_line(result, code, message):
  assert result.returncode == code, (result.stdout, result.stderr)
  lines = [l for l in result.stderr.splitlines() if l.strip()]
  assert len(lines) == 1 and lines[0].startswith('error: '), result.stderr
  assert re.search(message, lines[0]), lines[0]


@pytest.mark.slow
def test_cli_converts_a_legacy_file(tmp_path):
  source = _write(tmp_path, _state(), name='se_resnet14-0123abcd.pth')
  prefix = _out(tmp_path)
  result = _run('--input=' + source, '--output=' + prefix,
                '--model_name=' + MODEL, '--num_classes=%d' % CLASSES)
  assert result.returncode == 0, result.stderr
  assert ('Converted %s (torch-legacy, pretrainedmodels layout): '
          'se_resnet_v1_14, topology caffe, 5 classes, 103 tensors' %
          source) in result.stdout
  assert sidecar_lib.read_sidecar(prefix)['model_name'] == MODEL
  assert len(_checkpoint(prefix)) == 103


@pytest.mark.slow
def test_cli_refuses_a_pickle_that_calls_os_system(tmp_path):
  marker = tmp_path / 'pwned'
  source = str(tmp_path / 'evil.pth')
  tl.write_legacy({'w': np.zeros(2, np.float32)}, source,
                  pickled=tl.pickle_torch(
                      {'w': tl.Call('os', 'system', 'touch %s' % marker)},
                      legacy=True))
  prefix = _out(tmp_path)
  result = _run('--input=' + source, '--output=' + prefix)
  _assert_one_error_line(result, 1, r'^error: %s: refusing to unpickle '
                         r'os\.system' % source)
  assert not marker.exists()
  assert os.listdir(os.path.dirname(prefix)) == []


@pytest.mark.slow
def test_cli_truncated_file(tmp_path):
  source = _write(tmp_path, _state(), 'zip')
  with open(source, 'rb') as f:
    data = f.read()
  with open(source, 'wb') as f:
    f.write(data[:len(data) // 2])
  result = _run('--input=' + source, '--output=' + _out(tmp_path))
  _assert_one_error_line(result, 1, r'^error: %s: truncated or corrupt zip '
                         r'archive' % source)


@pytest.mark.slow
def test_cli_wrong_family_and_mismatched_model_name(tmp_path):
  source = _write(tmp_path, _state(), 'safetensors', 'model.safetensors')
  result = _run('--input=' + source, '--output=' + _out(tmp_path),
                '--model_name=resnet_v1_14')
  _assert_one_error_line(result, 1, r'holds an SE-ResNet-14 .* not a ResNet')
  result = _run('--input=' + source, '--output=' + _out(tmp_path),
                '--model_name=se_resnet_v1_50')
  _assert_one_error_line(result, 1, r'holds an SE-ResNet-14 .* but '
                         r'--model_name=se_resnet_v1_50 has depth 50')
  assert os.listdir(str(tmp_path / 'out')) == []


@pytest.mark.slow
def test_cli_command_line_errors_exit_2(tmp_path):
  for args, message in (
      (['--input=x.pth'], r'^error: --input and --output are required$'),
      (['--input=x.pth', '--output=y', '--num_classes=ten'],
       r'^error: flag --num_classes=ten: invalid literal'),
      (['--input=x.pth', '--output=y', 'extra'],
       r'^error: unexpected arguments: extra$')):
    _assert_one_error_line(_run(*args), 2, message)
