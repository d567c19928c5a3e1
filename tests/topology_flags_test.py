"""`--topology` reaches the network from every entry point: the shared model
flags (train, eval, export), the training config's checks, the summary and
the checkpoint inspector."""
import os
import subprocess
import sys

import pytest
from absl import flags

from modeling import model_builder
from modeling import model_flags
from checkpointing import checkpoints
from nets import nets_factory
from runtime.tf_compat import tf
from training import config as config_lib
from training import errors

pytestmark = pytest.mark.slow  # runs the scripts in subprocesses

v1 = tf.compat.v1
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _parsed(*argv):
  flag_values = flags.FlagValues()
  model_flags.define_model_flags(flag_values=flag_values)
  flag_values(['prog'] + list(argv))
  return flag_values


def test_model_flags_carry_the_topology():
  assert 'topology' not in model_flags.model_options_from_flags(_parsed())
  flag_values = _parsed('--model_name=se_resnext_14_32x4d',
                        '--topology=caffe_resnext', '--depth_multiplier=0.25')
  config = model_flags.model_config_from_flags(flag_values, image_size=33)
  assert config.model_options == {'topology': 'caffe_resnext',
                                  'depth_multiplier': 0.25}
  with tf.Graph().as_default():
    images = v1.placeholder(tf.float32, [1, 33, 33, 3])
    _, end_points = model_builder.build_logits(config, images, 10, False)
  # 33 -> conv1 17 -> Caffe's ceil-mode pool 8 (torch's would give 9).
  block1 = end_points['se_resnext_14_32x4d/block1']
  assert block1.shape.as_list()[1:3] == [8, 8]
  with pytest.raises(flags.IllegalFlagValueError,
                     match='slim|caffe|caffe_resnext|torch'):
    _parsed('--topology=pytorch')


def test_train_config_checks_the_topology():
  values = dict(dataset_name='digits', dataset_dir='/nonexistent',
                model_name='resnet_v1_14')
  config = config_lib.TrainConfig(topology='torch', **values).validate()
  assert config.model_options() == {'topology': 'torch'}
  assert config.model_config().model_options == {'topology': 'torch'}
  for overrides, expected in (
      (dict(topology='pytorch'), "--topology: unknown topology 'pytorch'; "
       'valid topologies: slim, caffe, caffe_resnext, torch'),
      (dict(topology='torch', model_name='simple_cnn'),
       '--topology: simple_cnn has no topology')):
    with pytest.raises(errors.ConfigError) as info:
      config_lib.TrainConfig(**dict(values, **overrides)).validate()
    assert expected in str(info.value)


def test_model_summary_command_line_topology():
  result = subprocess.run(
      [sys.executable, '-m', 'diagnostics.model_summary',
       '--model_name=se_resnet_v1_50', '--topology=caffe', '--style=raw'],
      cwd=REPO, capture_output=True, text=True, check=True)
  assert 'topology=caffe' in result.stdout.splitlines()[0]
  assert 'GFLOPs (multiply-adds of conv and FC layers): 3.860' in (
      result.stdout)


def test_inspect_checkpoint_takes_the_topology(tmp_path):
  """At planes 8 everywhere, torch's strided units project their shortcut
  where Slim's subsample it: a Slim-arranged checkpoint lacks those
  variables, which the inspector finds only with --topology=torch."""
  with tf.Graph().as_default():
    nets_factory.get_network_fn('resnet_v1_14', 10, depth_multiplier=0.015)(
        v1.placeholder(tf.float32, [1, 32, 32, 3]))
    saver = v1.train.Saver(checkpoints.slim_named_variables(
        v1.global_variables()))
    with v1.Session() as session:
      session.run(v1.global_variables_initializer())
      path = saver.save(session, str(tmp_path / 'model.ckpt'),
                        write_meta_graph=False)
  command = [sys.executable, '-m', 'diagnostics.inspect_checkpoint',
             '--checkpoint_path=' + path, '--model_name=resnet_v1_14',
             '--depth_multiplier=0.015']
  fits = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
  assert fits.returncode == 0, fits.stdout + fits.stderr
  torch = subprocess.run(command + ['--topology=torch'], cwd=REPO,
                         capture_output=True, text=True)
  assert torch.returncode == 1, torch.stdout + torch.stderr
  # Blocks 2-4: shortcut weights and four batch norm variables each.
  assert 'missing from the checkpoint: 15' in torch.stdout
  assert 'block2/unit_1/bottleneck_v1/shortcut/weights' in torch.stdout


def test_training_flags_carry_the_topology():
  # pylint: disable=g-import-not-at-top
  from training import flags as training_flags
  # pylint: enable=g-import-not-at-top
  flag_values = flags.FlagValues()
  training_flags.define_flags(flag_values)
  flag_values(['train', '--model_name=se_resnext_14_32x4d',
               '--topology=caffe_resnext', '--dataset_name=digits',
               '--dataset_dir=/nonexistent'])
  config = training_flags.config_from_flags(flag_values).validate()
  assert config.topology == 'caffe_resnext'
  assert config.model_config().model_options == {'topology': 'caffe_resnext'}
