"""Fine-tuning through train_image_classifier.py (real subprocesses): a
resnet_v1_*-named checkpoint warm-starts se_resnet_v1_*, and checkpoints that
do not fit fail saying what to pass."""
import os
import re

import numpy as np
import pytest

from runtime.tf_compat import tf
from tests import train_testlib
from tests.train_testlib import digits_dir  # pylint: disable=unused-import

pytestmark = pytest.mark.slow  # runs the trainer in subprocesses

# A ResNet-14 with every bottleneck 8 wide: the structure, small and fast.
TINY = dict(depth_multiplier=0.125)


@pytest.fixture(scope='module')
def resnet_checkpoint(tmp_path_factory):
  """A resnet_v1_14 checkpoint (Slim names, 10 classes, random BN stats)."""
  path = str(tmp_path_factory.mktemp('resnet') / 'resnet_v1_14.ckpt')
  values = train_testlib.write_model_checkpoint(path, 'resnet_v1_14', 10,
                                                **TINY)
  return path, values


def _finetune_flags(digits_dir, train_dir, checkpoint, **overrides):
  flags = dict(model_name='se_resnet_v1_14', depth_multiplier=0.125,
               train_image_size=32, batch_size=8, optimizer='sgd',
               learning_rate=0.1, checkpoint_path=checkpoint,
               checkpoint_model_scope='resnet_v1_14',
               checkpoint_exclude_scopes='se_resnet_v1_14/logits',
               trainable_scopes='se_resnet_v1_14/logits,se_resnet_v1_14/*/se',
               se_fc2_bias_init=3.0, max_number_of_steps=3,
               batch_norm_decay=0.9)
  flags.update(overrides)
  return train_testlib.train_flags(digits_dir, train_dir, **flags)


def test_finetune_se_resnet_from_resnet_changes_only_trainable_scopes(
    digits_dir, tmp_path, resnet_checkpoint):
  path, source = resnet_checkpoint
  train_dir = str(tmp_path / 'train')
  proc = train_testlib.run_script(_finetune_flags(digits_dir, train_dir,
                                                  path))
  assert proc.returncode == 0, proc.stderr
  log = proc.stderr
  # The report: restored, fresh (SE), excluded (logits), unused (old logits).
  restored = int(re.search(r'Restored (\d+) variables from (\S+)',
                           log).group(1))
  body = [n for n in source if n != 'global_step' and '/logits/' not in n]
  assert restored == len(body)
  assert re.search(r'initialised fresh \(\d+\): se_resnet_v1_14/block\d/'
                   r'unit_1/bottleneck_v1/se/fc\d/', log), log
  assert re.search(r'excluded \(fresh\) \(2\): se_resnet_v1_14/logits/'
                   r'(weights|biases)', log), log
  assert re.search(r'unused in the checkpoint \(2\): resnet_v1_14/logits/'
                   r'biases, resnet_v1_14/logits/weights', log), log

  start = train_testlib.read_checkpoint(os.path.join(train_dir,
                                                     'model.ckpt-0'))
  end = train_testlib.read_checkpoint(tf.train.latest_checkpoint(train_dir))
  assert end['global_step'] == 3
  for name in body:  # Restored at step 0, unchanged by training.
    ours = 'se_' + name
    np.testing.assert_array_equal(start[ours], source[name], err_msg=ours)
    np.testing.assert_array_equal(end[ours], source[name], err_msg=ours)
  for name in ('se_resnet_v1_14/logits/weights',
               'se_resnet_v1_14/block4/unit_1/bottleneck_v1/se/fc2/biases'):
    assert np.abs(end[name] - start[name]).max() > 0, name
  np.testing.assert_array_equal(
      start['se_resnet_v1_14/block4/unit_1/bottleneck_v1/se/fc2/biases'], 3.0)


def test_1000_vs_1001_classes_says_labels_offset(tmp_path):
  checkpoint = str(tmp_path / 'resnet' / 'resnet_v1_14.ckpt')
  train_testlib.write_model_checkpoint(checkpoint, 'resnet_v1_14', 1000,
                                       **TINY)
  imagenet = train_testlib.write_fake_imagenet(str(tmp_path / 'imagenet'))
  proc = train_testlib.run_script(train_testlib.train_flags(
      imagenet, str(tmp_path / 'train'), dataset_name='imagenet',
      model_name='resnet_v1_14', depth_multiplier=0.125, train_image_size=32,
      batch_size=2, checkpoint_path=checkpoint, max_number_of_steps=1))
  assert proc.returncode == 1, proc.stderr
  assert 'Traceback' not in proc.stderr
  assert re.search(r'shape mismatch for resnet_v1_14/logits/weights: '
                   r'checkpoint \[1, 1, (\d+), 1000\], '
                   r'model \[1, 1, \1, 1001\].*pass --labels_offset=1',
                   proc.stderr), proc.stderr
  assert not tf.io.gfile.glob(str(tmp_path / 'train' / 'model.ckpt-*'))


def test_wrong_exclude_scope_names_the_scopes_that_exist(
    digits_dir, tmp_path, resnet_checkpoint):
  path, _ = resnet_checkpoint
  proc = train_testlib.run_script(_finetune_flags(
      digits_dir, str(tmp_path / 'train'), path,
      checkpoint_exclude_scopes='resnet_v1_14/logits'))
  assert proc.returncode == 1, proc.stderr
  assert 'Traceback' not in proc.stderr
  assert re.search(r"error: Exclude scope 'resnet_v1_14/logits' matches no "
                   r'variable of the model; scopes that exist include: .*'
                   r'se_resnet_v1_14/logits', proc.stderr), proc.stderr
