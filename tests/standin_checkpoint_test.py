"""The offline stand-in for Slim's trained checkpoints has Slim's layout.

`python -m diagnostics.make_standin_checkpoint` must write exactly the
variables tf_slim's own `resnet_v1_50` creates under its `resnet_arg_scope`
(batch norm after every conv, no conv biases), so that every README command
that takes Slim's `resnet_v1_50.ckpt` takes the stand-in, and the inspector
must judge it as it judges the real file.
"""
import subprocess
import sys

import numpy as np
import pytest

from runtime.tf_compat import slim, tf  # The shim, before tf_slim.nets.
from diagnostics import make_standin_checkpoint
from diagnostics import inspect_checkpoint
from tests import train_testlib
from tf_slim.nets import resnet_v1 as oracle_resnet_v1  # Test oracle only.

v1 = tf.compat.v1


def _tf_slim_resnet_v1_50_shapes():
  """{name: shape} of tf_slim's resnet_v1_50, built only (never run)."""
  with tf.Graph().as_default():
    with slim.arg_scope(oracle_resnet_v1.resnet_arg_scope()):
      oracle_resnet_v1.resnet_v1_50(
          v1.placeholder(tf.float32, [1, 64, 64, 3]), 1000,
          is_training=False)
    return {v.op.name: v.shape.as_list() for v in v1.global_variables()}


@pytest.mark.slow  # the CLI in a subprocess, a full-size network
def test_cli_writes_slims_resnet_v1_50_layout(tmp_path):
  output = tmp_path / 'slim' / 'resnet_v1_50.ckpt'
  run = subprocess.run(
      [sys.executable, '-m', 'diagnostics.make_standin_checkpoint',
       '--model_name=resnet_v1_50', '--output=%s' % output],
      cwd=train_testlib.ROOT, capture_output=True, text=True, timeout=600)
  assert run.returncode == 0, run.stdout + run.stderr
  assert run.stdout.strip().endswith('267 variables -> %s' % output)
  # Only the checkpoint's two files: no state file, nothing else.
  assert sorted(p.name for p in output.parent.iterdir()) == [
      'resnet_v1_50.ckpt.data-00000-of-00001', 'resnet_v1_50.ckpt.index']

  written = dict(tf.train.list_variables(str(output)))
  expected = _tf_slim_resnet_v1_50_shapes()
  assert written == expected
  assert len(written) == 267
  assert not any(name.endswith('/biases') for name in written
                 if '/logits/' not in name)
  # Batch norm calibrated on noise: moving variances positive, not the
  # initial ones.
  reader = tf.train.load_checkpoint(str(output))
  variance = reader.get_tensor(
      'resnet_v1_50/block4/unit_3/bottleneck_v1/conv3/BatchNorm/'
      'moving_variance')
  assert np.all(variance > 0) and not np.allclose(variance, 1.0)

  # The inspector: the stand-in fits resnet_v1_50 as is, and se_resnet_v1_50
  # as the trainer's warm start.
  diff = inspect_checkpoint.diff_checkpoint(str(output), 'resnet_v1_50')
  assert inspect_checkpoint.verdict(diff, 'resnet_v1_50') == ('fits: yes', 0)
  diff = inspect_checkpoint.diff_checkpoint(str(output), 'se_resnet_v1_50')
  line, code = inspect_checkpoint.verdict(diff, 'se_resnet_v1_50')
  assert code == 0
  assert line.startswith('fits: with the scope mapping, as a warm start, the '
                         '64 SE variables initialised fresh'), line


def test_library_writes_other_networks_and_class_counts(tmp_path):
  prefix, count = make_standin_checkpoint.write_standin(
      'se_resnet_v1_14', str(tmp_path / 'se14' / 'model.ckpt'),
      num_classes=10, image_size=32)
  shapes = dict(tf.train.list_variables(prefix))
  assert count == len(shapes)
  assert shapes['se_resnet_v1_14/logits/weights'] == [1, 1, 2048, 10]
  assert shapes == inspect_checkpoint.model_variable_shapes(
      'se_resnet_v1_14', 10)


@pytest.mark.slow  # the CLI in subprocesses
def test_bad_flags_exit_2_with_one_line_before_tensorflow(tmp_path):
  for args, message in (
      (['--model_name=resnet_v1_51', '--output=%s' % (tmp_path / 'x')],
       'Unknown network name'),
      (['--model_name=resnet_v1_50'], '--output'),
      (['--output=%s/' % tmp_path], '--output must name a file prefix')):
    run = subprocess.run(
        [sys.executable, '-m', 'diagnostics.make_standin_checkpoint'] + args,
        cwd=train_testlib.ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 2, run.stdout + run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('error:'), run.stderr
    assert message in lines[0]
    assert 'tensorflow' not in run.stderr.lower()
  assert not any(tmp_path.iterdir())
