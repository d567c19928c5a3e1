"""The inspector's verdict agrees with the trainer's warm start: a plain
ResNet checkpoint fits an SE-ResNet with the SE blocks fresh, and the flags
the verdict names make train_image_classifier.py accept it."""
import shlex
import subprocess
import sys

import pytest

from tests import train_testlib
from tests.train_testlib import digits_dir  # pylint: disable=unused-import

pytestmark = pytest.mark.slow  # runs the scripts in subprocesses

TINY = ['--depth_multiplier=0.125']
DROPPED = 'resnet_v1_14/block1/unit_1/bottleneck_v1/conv1/weights'


def _inspect(*args):
  return subprocess.Popen(
      [sys.executable, '-m', 'diagnostics.inspect_checkpoint'] + list(args) + TINY,
      cwd=train_testlib.ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
      text=True)


def _finish(process):
  out, err = process.communicate(timeout=600)
  return process.returncode, out, err


def test_plain_checkpoint_fits_an_se_network_as_the_trainer_warm_starts(
    digits_dir, tmp_path):
  plain = str(tmp_path / 'plain' / 'model.ckpt')
  values = train_testlib.write_model_checkpoint(
      plain, 'resnet_v1_14', 10, image_size=16, depth_multiplier=0.125)
  # The same checkpoint without one (non-SE) variable.
  from tests import eval_testlib  # pylint: disable=g-import-not-at-top
  damaged = str(tmp_path / 'damaged' / 'model.ckpt')
  (tmp_path / 'damaged').mkdir()
  eval_testlib.save_tensors(damaged, {n: v for n, v in values.items()
                                      if n != DROPPED})
  runs = {
      'se': _inspect('--checkpoint_path=' + plain,
                     '--model_name=se_resnet_v1_14'),
      'damaged': _inspect('--checkpoint_path=' + damaged,
                          '--model_name=se_resnet_v1_14'),
      'plain': _inspect('--checkpoint_path=' + plain,
                        '--model_name=resnet_v1_14'),
      'classes': _inspect('--checkpoint_path=' + plain,
                          '--model_name=se_resnet_v1_14', '--num_classes=5'),
  }
  done = {name: _finish(p) for name, p in runs.items()}

  code, out, err = done['se']
  assert code == 0, out + err
  verdict = out.rstrip().splitlines()[-1]
  assert verdict == (
      'fits: with the scope mapping, as a warm start, the 16 SE variables '
      'initialised fresh (as the trainer does); train_image_classifier.py '
      'flags: --checkpoint_path=%s --checkpoint_model_scope=resnet_v1_14'
      % plain)
  code, out, err = done['damaged']
  assert code == 1, out + err
  assert out.rstrip().splitlines()[-1] == 'fits: no'
  assert '  se_resnet_v1_14/block1/unit_1/bottleneck_v1/conv1/weights' in out
  code, out, err = done['classes']
  assert code == 0, out + err
  assert out.rstrip().splitlines()[-1] == (
      'fits: with the scope mapping, as a warm start, the 16 SE variables '
      'initialised fresh (as the trainer does), with new logits (the '
      'checkpoint has 10 classes); train_image_classifier.py flags: '
      '--checkpoint_path=%s --checkpoint_model_scope=resnet_v1_14 '
      '--checkpoint_exclude_scopes=se_resnet_v1_14/logits' % plain)
  code, out, err = done['plain']
  assert code == 0 and out.rstrip().splitlines()[-1] == 'fits: yes', out + err

  # The trainer takes the checkpoint with exactly the flags named.
  named = shlex.split(verdict.split('flags: ', 1)[1])
  train = train_testlib.run_script(train_testlib.train_flags(
      digits_dir, str(tmp_path / 'train'), model_name='se_resnet_v1_14',
      depth_multiplier=0.125, max_number_of_steps=1) + named)
  assert train.returncode == 0, train.stderr[-3000:]
  assert 'initialised fresh (16): se_resnet_v1_14/' in train.stderr
