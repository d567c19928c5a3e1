"""Cluster flags that name a role with no cluster to play it in: the trainer
refuses them (exit 2, one `error:` line) instead of training locally."""
import os
import re
import subprocess
import sys

import pytest

from tests import train_testlib

pytestmark = pytest.mark.slow  # runs the trainer in subprocesses

ROOT = train_testlib.ROOT


def _error_lines(stderr):
  return [l for l in stderr.splitlines()
          if l.strip() and not re.match(r'^([IWEF]\d{4} |WARNING:|INFO:)', l)]


def test_ps_or_task_without_a_cluster_is_a_flag_error(tmp_path):
  env = {k: v for k, v in os.environ.items() if k != 'TF_CONFIG'}
  cases = {
      'ps': (['--job_name=ps'],
             'error: --job_name=ps needs a cluster: give --ps_hosts and '
             '--worker_hosts (or TF_CONFIG); a single local process trains '
             'without --job_name'),
      # Only the dataset flags of a ps are skipped, never its cluster.
      'ps_no_data': (['--job_name=ps', '--dataset_dir='],
                     'error: --job_name=ps needs a cluster'),
      'task': (['--task=1'], 'error: --task=1 needs a cluster (--worker_hosts '
               'or TF_CONFIG)'),
      'worker_task': (['--job_name=worker', '--task=2'],
                      'error: --task=2 needs a cluster'),
  }
  procs = {
      name: subprocess.Popen(
          [sys.executable, train_testlib.SCRIPT] + train_testlib.train_flags(
              str(tmp_path / 'no_data'), str(tmp_path / name),
              max_number_of_steps=1) + args,
          cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
          env=env)
      for name, (args, _) in cases.items()}
  for name, (_, expected) in cases.items():
    out, err = procs[name].communicate(timeout=300)
    assert procs[name].returncode == 2, (name, err)
    lines = _error_lines(err)
    assert len(lines) == 1 and lines[0].startswith(expected), (name, err)
    # Refused before TensorFlow loads: no TF log line, nothing written.
    assert 'tensorflow' not in err.lower() and not out, (name, err)
    assert not (tmp_path / name).exists(), name
