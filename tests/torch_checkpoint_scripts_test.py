"""A converted PyTorch checkpoint through the scripts, as a user runs them.

convert_torch_checkpoint.py writes a sidecar beside the checkpoint; export,
eval and the trainer take the network, topology, labels offset and the torch
preprocessing from it when their flags leave them unset. The exported
SavedModel, run in a fresh TF2 process, gives torch's logits.
"""
import json
import os
import subprocess
import sys

from absl import flags
import numpy as np
import pytest

from modeling import model_flags

from tests import export_testlib
from tests import train_testlib
from tests.train_testlib import digits_dir  # pylint: disable=unused-import

pytestmark = pytest.mark.slow  # runs the scripts in subprocesses

ROOT = train_testlib.ROOT
FIXTURES = os.path.join(ROOT, 'tests', 'fixtures', 'torch')
FIXTURE = 'timm_seresnet_14'  # se_resnet_v1_14, topology torch, 10 classes


def _run(script, *args, timeout=600):
  return subprocess.run([sys.executable, os.path.join(ROOT, script)] +
                        list(args), cwd=ROOT, capture_output=True, text=True,
                        timeout=timeout)


def _convert(tmp_path):
  prefix = str(tmp_path / 'converted' / 'model')
  os.makedirs(os.path.dirname(prefix))
  done = _run('convert_torch_checkpoint.py',
              '--input=%s' % os.path.join(FIXTURES, FIXTURE + '.safetensors'),
              '--output=%s' % prefix, '--image_size=48')
  assert done.returncode == 0, done.stderr
  with open(prefix + '.json') as f:
    sidecar = json.load(f)
  assert (sidecar['model_name'], sidecar['topology'],
          sidecar['preprocessing']['name']) == ('se_resnet_v1_14', 'torch',
                                                'torch')
  return prefix


def test_export_takes_the_sidecar_and_gives_torch_logits(tmp_path):
  prefix = _convert(tmp_path)
  saved_model = str(tmp_path / 'saved_model')
  # No --model_name, --topology or --depth_multiplier: the sidecar has them.
  done = _run('export_inference_graph.py', '--checkpoint_path=%s' % prefix,
              '--dataset_name=digits', '--saved_model_dir=%s' % saved_model)
  assert done.returncode == 0, done.stderr
  assert "model_name='se_resnet_v1_14' from" in done.stderr
  assert "topology='torch' from" in done.stderr
  assert 'image size 48 from the sidecar' in done.stderr
  with np.load(os.path.join(FIXTURES, FIXTURE + '.npz')) as torch_outputs:
    images = torch_outputs['inputs_48'].transpose(0, 2, 3, 1)  # NCHW -> NHWC
    expected = torch_outputs['logits_48']
  np.save(str(tmp_path / 'images.npy'), images)
  outputs = export_testlib.run_in_eager_subprocess(
      {'images': str(tmp_path / 'images.npy'),
       'output': str(tmp_path / 'out.npz'),
       'runs': [{'key': 'torch', 'saved_model': saved_model}]},
      str(tmp_path / 'spec.json'))
  logits = outputs['torch/saved_model/logits']
  assert np.abs(logits - expected).max() <= 1e-4 * np.abs(expected).max()


def test_a_flag_overrides_the_sidecar(tmp_path):
  prefix = _convert(tmp_path)
  done = _run('export_inference_graph.py', '--checkpoint_path=%s' % prefix,
              '--dataset_name=digits', '--image_size=48', '--topology=caffe',
              '--output_file=%s' % (tmp_path / 'graph.pb'))
  assert done.returncode == 0, done.stderr
  assert '--topology=caffe overrides topology=\'torch\'' in done.stderr


def test_eval_and_fine_tune_on_digits_from_a_converted_checkpoint(
    tmp_path, digits_dir):
  prefix = _convert(tmp_path)
  done = _run('eval_image_classifier.py', '--checkpoint_path=%s' % prefix,
              '--eval_dir=%s' % (tmp_path / 'eval'), '--dataset_name=digits',
              '--dataset_dir=%s' % digits_dir, '--eval_image_size=48',
              '--max_num_batches=1', '--batch_size=20')
  assert done.returncode == 0, done.stderr
  assert "preprocessing_name='torch' from" in done.stderr
  assert 'on 20 examples of digits/test' in done.stdout
  # No global step in a converted checkpoint: no 'step None: ' prefix.
  assert done.stdout.startswith('accuracy '), done.stdout

  train_dir = str(tmp_path / 'train')
  done = train_testlib.run_script(train_testlib.train_flags(
      digits_dir, train_dir, model_name=None, train_image_size=48,
      batch_size=8, max_number_of_steps=3, checkpoint_path=prefix,
      checkpoint_exclude_scopes='se_resnet_v1_14/logits',
      trainable_scopes='se_resnet_v1_14/logits'))
  assert done.returncode == 0, done.stderr
  assert "model_name='se_resnet_v1_14' from" in done.stderr
  tensors = train_testlib.read_checkpoint(train_dir)
  converted = train_testlib.read_checkpoint(prefix)
  name = 'se_resnet_v1_14/block2/unit_1/bottleneck_v1/conv1/weights'
  np.testing.assert_array_equal(tensors[name], converted[name])  # frozen
  logits = 'se_resnet_v1_14/logits/weights'
  assert not np.array_equal(tensors[logits], converted[logits])


def _flag_values(argv):
  flag_values = flags.FlagValues()
  model_flags.define_model_flags(flag_values=flag_values)
  flag_values(['prog'] + argv)
  return flag_values


def _write_sidecar(tmp_path, **entries):
  sidecar = {'format': 'slim-senet-converted-checkpoint', 'version': 1,
             'model_name': 'se_resnet_v1_50', 'topology': 'caffe',
             'model_options': {'depth_multiplier': 1.0}, 'num_classes': 1000,
             'labels_offset': 1,
             'preprocessing': {'name': 'torch', 'mean': [0.5, 0.5, 0.5],
                               'std': [0.25, 0.25, 0.25], 'crop_pct': 0.95,
                               'interpolation': 'bicubic'}}
  sidecar.update(entries)
  prefix = str(tmp_path / 'model')
  with open(prefix + '.json', 'w') as f:
    json.dump(sidecar, f)
  return prefix


def test_sidecar_fills_unset_flags_only(tmp_path):
  prefix = _write_sidecar(tmp_path)
  flag_values = _flag_values(['--topology=torch'])
  options, messages = model_flags.apply_checkpoint_sidecar(flag_values,
                                                           prefix)
  assert (flag_values.model_name, flag_values.topology,
          flag_values.labels_offset, flag_values.depth_multiplier,
          flag_values.preprocessing_name) == ('se_resnet_v1_50', 'torch', 1,
                                              1.0, 'torch')
  assert options == {'mean': [0.5, 0.5, 0.5], 'std': [0.25, 0.25, 0.25],
                     'crop_pct': 0.95, 'interpolation': 'bicubic'}
  assert any("--topology=torch overrides topology='caffe'" in m
             for m in messages)
  # Fine-tuning new logits: the offset stays the flag's.
  flag_values = _flag_values([])
  model_flags.apply_checkpoint_sidecar(flag_values, prefix,
                                       take_labels_offset=False)
  assert flag_values.labels_offset == 0
  # Decided on the network the sidecar set (the trainer's logits check).
  flag_values = _flag_values([])
  model_flags.apply_checkpoint_sidecar(
      flag_values, prefix,
      take_labels_offset=lambda f: f.model_name == 'se_resnet_v1_50')
  assert flag_values.labels_offset == 1
  # Another preprocessing asked for: the torch keywords do not apply.
  flag_values = _flag_values(['--preprocessing_name=vgg'])
  options, _ = model_flags.apply_checkpoint_sidecar(flag_values, prefix)
  assert options == {}


def test_no_sidecar_and_bad_sidecars(tmp_path):
  flag_values = _flag_values([])
  assert model_flags.apply_checkpoint_sidecar(
      flag_values, str(tmp_path / 'plain')) == ({}, [])
  assert model_flags.apply_checkpoint_sidecar(flag_values, None) == ({}, [])
  prefix = _write_sidecar(tmp_path, model_options={'width': 3})
  with pytest.raises(ValueError, match='sets width, which no flag'):
    model_flags.apply_checkpoint_sidecar(_flag_values([]), prefix)
  prefix = _write_sidecar(tmp_path, format='something else')
  with pytest.raises(ValueError, match='not a converted-checkpoint sidecar'):
    model_flags.apply_checkpoint_sidecar(_flag_values([]), prefix)
