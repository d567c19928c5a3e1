"""Clones and parameter-server training as real processes on 127.0.0.1.

Every cluster here is TensorFlow's own gRPC runtime: separate `ps` and
`worker` processes of train_image_classifier.py (started by
`deployment.launch_local`, or one by one when a test kills one), on free
loopback ports. Each process group is killed in a `finally`.
"""
import os
import re
import signal
import subprocess
import sys
import time

import pytest

import numpy as np

from checkpointing import checkpoints
from deployment import launch_local
from runtime.tf_compat import tf, v1
from tests import train_testlib
from tests.train_testlib import digits_dir  # pylint: disable=unused-import
from training import config as config_lib
from training import errors

pytestmark = pytest.mark.slow  # several training processes on loopback

ROOT = train_testlib.ROOT
SUMMARY = re.compile(r'worker (\d) of (\d)[^:]*: ran (\d+) steps, global step '
                     r'(\d+) -> (\d+)')
LOSS = re.compile(r'step (\d+)(?:/\d+)?: loss ([0-9.]+)')
VARIABLE_OPS = ('VariableV2', 'VarHandleOp')


def _start(args, log_path, module=None, env=None, sigint_ignored=False):
  """Starts the trainer (or `python -m module`) in its own process group,
  its output going to `log_path`; `sigint_ignored` starts it as a background
  job of a shell script is started (SIGINT inherited ignored)."""
  command = [sys.executable, '-u'] + (
      ['-m', module] if module else [train_testlib.SCRIPT]) + list(args)
  with open(log_path, 'w') as log:
    return subprocess.Popen(command, cwd=ROOT, stdout=log,
                            stderr=subprocess.STDOUT, text=True,
                            start_new_session=True,
                            env=dict(os.environ, **(env or {})),
                            preexec_fn=_ignore_sigint if sigint_ignored
                            else None)


def _ignore_sigint():
  signal.signal(signal.SIGINT, signal.SIG_IGN)


def _kill_group(proc, sig=signal.SIGKILL):
  if proc.poll() is None:
    try:
      os.killpg(proc.pid, sig)
    except ProcessLookupError:
      pass
  proc.wait(timeout=60)


def _read(path):
  with open(path) as f:
    return f.read()


def _wait_for(predicate, what, procs, timeout=120):
  """Polls `predicate` until true; fails if a process in `procs` dies."""
  deadline = time.time() + timeout
  while time.time() < deadline:
    value = predicate()
    if value:
      return value
    for name, (proc, log) in procs.items():
      assert proc.poll() is None, '%s exited (%s) while waiting for %s:\n%s' % (
          name, proc.returncode, what, _read(log)[-3000:])
    time.sleep(0.1)
  raise AssertionError('timed out waiting for %s' % what)


def _summaries(text):
  """{task: (local steps, start step, final step)} from the summary lines."""
  return {int(m.group(1)): tuple(int(m.group(i)) for i in (3, 4, 5))
          for m in SUMMARY.finditer(text)}


def _losses(text):
  """[(global step, loss)] logged, in step order."""
  return sorted((int(m.group(1)), float(m.group(2)))
                for m in LOSS.finditer(text))


def _latest_step(train_dir):
  latest = tf.train.latest_checkpoint(train_dir)
  return checkpoints.checkpoint_step(latest) if latest else -1


def _variable_devices(meta_path):
  """{variable op name: device} of the graph saved with a checkpoint."""
  meta = v1.MetaGraphDef()
  with open(meta_path, 'rb') as f:
    meta.ParseFromString(f.read())
  return {n.name: n.device for n in meta.graph_def.node
          if n.op in VARIABLE_OPS}, meta.graph_def


def _run_launcher(num_workers, flags, log_path, cluster_from='flags',
                  timeout=240):
  proc = _start(['--num_ps=1', '--num_workers=%d' % num_workers,
                 '--cluster_from=' + cluster_from,
                 '--shutdown_grace_secs=30', '--'] + flags, log_path,
                module='deployment.launch_local')
  try:
    proc.wait(timeout=timeout)
  finally:
    _kill_group(proc)
  return proc.returncode, _read(log_path)


def test_two_clones_on_cpu_train_through_the_cli(digits_dir, tmp_path):
  train_dir = str(tmp_path / 'train')
  proc = train_testlib.run_script(train_testlib.train_flags(
      digits_dir, train_dir, num_clones=2, clone_on_cpu=True,
      max_number_of_steps=40, log_every_n_steps=1))
  assert proc.returncode == 0, proc.stderr
  assert 'batch 16 x 2 clone(s)' in proc.stderr
  assert 'trained simple_cnn to step 40' in proc.stdout
  devices, graph_def = _variable_devices(
      os.path.join(train_dir, 'model.ckpt-40.meta'))
  # Two towers on the CPU, one set of variables (no per-clone copies).
  towers = {n.name.split('/')[0] for n in graph_def.node
            if n.op == 'Conv2D'}
  assert towers == {'clone_0', 'clone_1'}, towers
  assert not [n for n in devices if n.startswith('clone_')]
  values = train_testlib.read_checkpoint(os.path.join(train_dir,
                                                      'model.ckpt-40'))
  assert values['global_step'] == 40
  losses = [loss for _, loss in _losses(proc.stderr)]
  assert np.mean(losses[-5:]) < 0.75 * np.mean(losses[:5]), losses


def test_one_ps_two_workers_share_the_global_step(digits_dir, tmp_path):
  train_dir = str(tmp_path / 'train')
  code, log = _run_launcher(2, train_testlib.train_flags(
      digits_dir, train_dir, max_number_of_steps=300, log_every_n_steps=10,
      save_interval_steps=100), str(tmp_path / 'cluster.log'))
  assert code == 0, log[-5000:]
  assert 'Traceback' not in log, log[-5000:]
  summaries = _summaries(log)
  assert set(summaries) == {0, 1}, log[-3000:]
  # Both workers trained, and every step of each advanced the one global
  # step on the ps: the last value seen (by the worker that ended last) is
  # the sum of the steps run.
  local_steps = [summaries[t][0] for t in (0, 1)]
  final_step = max(summaries[t][2] for t in (0, 1))
  assert min(local_steps) > 10, summaries
  assert sum(local_steps) == final_step >= 300, summaries
  # Async: at most one step in flight per other worker past the last step.
  assert final_step <= 300 + 1, summaries

  # The chief saved the variables that live on the ps.
  latest = tf.train.latest_checkpoint(train_dir)
  devices, graph_def = _variable_devices(latest + '.meta')
  assert 'global_step' in devices and len(devices) >= 7, devices
  assert all(d.startswith('/job:ps/task:0') for d in devices.values()), (
      devices)
  convs = [n.device for n in graph_def.node if n.op == 'Conv2D']
  assert convs and all(d.startswith('/job:worker/task:0') for d in convs)
  shapes = tf.train.load_checkpoint(latest).get_variable_to_shape_map()
  assert set(devices) <= set(shapes), set(devices) - set(shapes)
  values = train_testlib.read_checkpoint(latest)
  assert values['global_step'] == checkpoints.checkpoint_step(latest) >= 300
  assert train_testlib.all_finite(values)

  losses = [loss for _, loss in _losses(log)]
  assert np.mean(losses[-4:]) < 0.75 * np.mean(losses[:4]), losses


def test_sync_replicas_step_once_per_aggregated_update(digits_dir, tmp_path):
  # The cluster as TF_CONFIG this time, worker 0 as the "chief" job.
  train_dir = str(tmp_path / 'train')
  code, log = _run_launcher(2, train_testlib.train_flags(
      digits_dir, train_dir, max_number_of_steps=100, log_every_n_steps=10,
      sync_replicas=True, moving_average_decay=0.9),
                            str(tmp_path / 'cluster.log'),
                            cluster_from='tf_config')
  assert code == 0, log[-5000:]
  assert 'Traceback' not in log, log[-5000:]
  assert '[worker0] worker 0 of 2 (chief), 1 ps, sync, 2 gradients per ' \
      'update' in log, log[-3000:]
  summaries = _summaries(log)  # Both workers ended by themselves.
  assert set(summaries) == {0, 1}, log[-3000:]
  local_steps = sum(summaries[t][0] for t in (0, 1))
  final_step = max(summaries[t][2] for t in (0, 1))
  assert 100 <= final_step <= 101, summaries
  # Each update averaged 2 worker steps' gradients: about half as many
  # global steps as worker steps (asynchronous: as many). A few gradients
  # are stale or come after the last update, and are dropped.
  assert 2 * final_step <= local_steps <= 2 * final_step + 12, summaries
  assert min(summaries[t][0] for t in (0, 1)) > 0, summaries
  latest = tf.train.latest_checkpoint(train_dir)
  assert checkpoints.checkpoint_step(latest) == final_step
  # The chief also kept the moving averages (once per update, as Slim).
  values = train_testlib.read_checkpoint(latest)
  weights = [n for n in values if n.startswith('simple_cnn/') and
             not n.endswith('/ExponentialMovingAverage')]
  assert len(weights) == 6, sorted(values)
  for name in weights:
    average = values[name + '/ExponentialMovingAverage']
    assert np.all(np.isfinite(average))
    assert 0 < np.abs(average - values[name]).max(), name


def test_killed_worker_leaves_checkpoints_whole_and_rejoins(digits_dir,
                                                            tmp_path):
  train_dir = str(tmp_path / 'train')
  flags = train_testlib.train_flags(
      digits_dir, train_dir, max_number_of_steps=10**6, log_every_n_steps=10,
      save_interval_steps=25)
  procs = {}

  def start(name, args):
    log = str(tmp_path / ('%s-%d.log' % (name, len(procs))))
    procs[name] = (_start(args + flags, log), log)

  try:
    cluster_args = dict(launch_local.cluster_flags(num_ps=1, num_workers=2))
    for name, args in cluster_args.items():
      start(name, args)
    _wait_for(lambda: _losses(_read(procs['worker1'][1])), 'worker 1 steps',
              procs)
    proc, _ = procs.pop('worker1')
    _kill_group(proc)
    assert proc.returncode == -signal.SIGKILL
    killed_at = _latest_step(train_dir)
    # The chief trains on alone and keeps saving.
    _wait_for(lambda: _latest_step(train_dir) >= killed_at + 50,
              'chief checkpoints after the kill', procs)

    start('worker1', cluster_args['worker1'])  # Rejoins, same address.
    _wait_for(lambda: len(_losses(_read(procs['worker1'][1]))) >= 2,
              'restarted worker 1 steps', procs)
    for name in ('worker1', 'worker0'):  # SIGTERM: stop after this step.
      procs[name][0].send_signal(signal.SIGTERM)
      procs[name][0].wait(timeout=60)
      assert procs[name][0].returncode == 0, _read(procs[name][1])[-3000:]
  finally:
    for proc, _ in procs.values():
      _kill_group(proc)

  rejoined = _summaries(_read(procs['worker1'][1]))[1]
  chief = _summaries(_read(procs['worker0'][1]))[0]
  assert rejoined[0] >= 2 and rejoined[1] > killed_at, rejoined
  assert rejoined[2] > rejoined[1]
  # Every checkpoint the chief kept is whole, and the last one is its end.
  state = tf.train.get_checkpoint_state(train_dir)
  for path in state.all_model_checkpoint_paths:
    values = train_testlib.read_checkpoint(path)
    # Async: the chief names the file by the step it read, and the other
    # worker may add a step or two while the variables are written (seen in
    # CI: model.ckpt-603 holding global_step 604).
    assert 0 <= values['global_step'] - checkpoints.checkpoint_step(path) <= 20
    assert train_testlib.all_finite(values)
  latest = tf.train.latest_checkpoint(train_dir)
  assert checkpoints.checkpoint_step(latest) == chief[2] >= rejoined[2] - 20
  # And it restores: a one-process run resumes from it.
  step = checkpoints.checkpoint_step(latest)
  resumed = train_testlib.run_script(train_testlib.train_flags(
      digits_dir, train_dir, max_number_of_steps=step + 2))
  assert resumed.returncode == 0, resumed.stderr
  assert 'Resuming from %s (step %d)' % (latest, step) in resumed.stderr
  assert 'trained simple_cnn to step %d' % (step + 2) in resumed.stdout


def _error_lines(stderr):
  return [l for l in stderr.splitlines()
          if l.strip() and not re.match(r'^[IWE]\d{4} ', l)]


def test_bad_cluster_spec_is_one_clear_error(digits_dir, tmp_path):
  two_workers = dict(ps_hosts='127.0.0.1:1',
                     worker_hosts='127.0.0.1:2,127.0.0.1:3')
  cases = {
      'task': (dict(two_workers, task=2), {},
               "task index 2 is out of range for job 'worker' with 2 tasks"),
      'tf_config': ({}, {'TF_CONFIG': '{"cluster": {"worker": ['},
                    'TF_CONFIG is not valid JSON'),
      'ps_without_hosts': (dict(worker_hosts='127.0.0.1:2', job_name='ps'),
                           {}, "job 'ps' is not in the cluster"),
  }
  procs = {}
  for name, (overrides, env, _) in cases.items():
    procs[name] = subprocess.Popen(
        [sys.executable, train_testlib.SCRIPT] + train_testlib.train_flags(
            digits_dir, str(tmp_path / name), **overrides),
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=dict(os.environ, **env), start_new_session=True)
  try:
    for name, (_, _, expected) in cases.items():
      _, err = procs[name].communicate(timeout=120)
      assert procs[name].returncode == 2, (name, err)
      lines = _error_lines(err)
      assert len(lines) == 1 and lines[0].startswith('error: '), (name, err)
      assert expected in lines[0], (name, lines[0])
  finally:
    for proc in procs.values():
      _kill_group(proc)

  # The other checks, in-process.
  def error(environ=None, **overrides):
    config = config_lib.TrainConfig(dataset_name='digits',
                                    dataset_dir=digits_dir,
                                    model_name='simple_cnn',
                                    train_dir=str(tmp_path / 'x'), **overrides)
    try:
      config.validate(environ=environ or {})
    except errors.ConfigError as e:
      return str(e)
    return None

  assert 'no parameter server' in error(worker_hosts='127.0.0.1:2,127.0.0.1:3')
  assert '--worker_replicas=3 does not match the cluster, which has 2' in error(
      worker_replicas=3, **two_workers)
  assert 'describe a cluster' in error(worker_replicas=2, num_ps_tasks=1)
  assert '--task=1 needs a cluster' in error(task=1)
  assert '"task" needs "type"' in error(environ={'TF_CONFIG': (
      '{"cluster": {"worker": ["127.0.0.1:2"]}, "task": 1}')})
  assert '--replicas_to_aggregate needs --sync_replicas' in error(
      replicas_to_aggregate=2, **two_workers)
  assert '--num_clones must be >= 1' in error(num_clones=0)
  assert '--job_name must be one of' in error(job_name='chief')
  assert error(sync_replicas=True, **two_workers) is None
  # A ps needs only its cluster (no dataset flags).
  ps = config_lib.TrainConfig(dataset_dir=None, job_name='ps', **two_workers)
  assert ps.validate(environ={}) is ps


def test_launcher_ctrl_c_stops_workers_then_ps(digits_dir, tmp_path):
  """2 ps + 1 worker with 2 clones, stopped by Ctrl-C to the launcher."""
  train_dir = str(tmp_path / 'train')
  log_path = str(tmp_path / 'cluster.log')
  proc = _start(['--num_ps=2', '--num_workers=1', '--'] +
                train_testlib.train_flags(digits_dir, train_dir,
                                          max_number_of_steps=10**6,
                                          log_every_n_steps=10, num_clones=2,
                                          clone_on_cpu=True),
                log_path, module='deployment.launch_local',
                sigint_ignored=True)  # The launcher handles it all the same.
  try:
    _wait_for(lambda: len(_losses(_read(log_path))) >= 2, 'chief steps',
              {'launcher': (proc, log_path)})
    proc.send_signal(signal.SIGINT)  # Ctrl-C, to the launcher only.
    proc.wait(timeout=90)
    # Nothing of the cluster is left running.
    try:
      os.killpg(proc.pid, 0)
      assert False, 'processes of the cluster are still running'
    except ProcessLookupError:
      pass
  finally:
    _kill_group(proc)
  log = _read(log_path)
  assert proc.returncode == 130, log[-3000:]
  assert 'Traceback' not in log, log[-3000:]
  # The chief stopped after a step and saved its end, while the ps served.
  local_steps, _, final_step = _summaries(log)[0]
  assert local_steps == final_step > 0
  latest = tf.train.latest_checkpoint(train_dir)
  assert checkpoints.checkpoint_step(latest) == final_step
  # Variables round-robin over both ps, all in the chief's checkpoint; the
  # clones compute on the worker.
  devices, graph_def = _variable_devices(latest + '.meta')
  assert {d[:len('/job:ps/task:0')] for d in devices.values()} == {
      '/job:ps/task:0', '/job:ps/task:1'}, devices
  shapes = tf.train.load_checkpoint(latest).get_variable_to_shape_map()
  assert set(devices) <= set(shapes), set(devices) - set(shapes)
  convs = {(n.name.split('/')[0], n.device) for n in graph_def.node
           if n.op == 'Conv2D'}
  assert {c for c, _ in convs} == {'clone_0', 'clone_1'}, convs
  assert all(d.startswith('/job:worker/task:0/device:CPU:0') for _, d in convs)


def test_sigterm_ends_a_worker_waiting_for_its_ps(digits_dir, tmp_path):
  """Blocked inside TensorFlow (no ps answers), SIGTERM still ends it."""
  ps_port, worker_port = launch_local.free_loopback_ports(2)
  log_path = str(tmp_path / 'worker.log')
  proc = _start(train_testlib.train_flags(
      digits_dir, str(tmp_path / 'train'), ps_hosts='127.0.0.1:%d' % ps_port,
      worker_hosts='127.0.0.1:%d' % worker_port, max_number_of_steps=10),
                log_path)
  try:
    # Logged while the graph is built; the session it then creates waits
    # for the ps forever. SIGTERM in either phase exits at once (no step
    # ran, nothing to save); the pause makes the blocked phase the likely
    # one, and the outcome does not depend on it.
    _wait_for(lambda: 'Training simple_cnn' in _read(log_path),
              'the worker to build its graph', {'worker': (proc, log_path)})
    time.sleep(1)
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)
  finally:
    _kill_group(proc)
  assert proc.returncode == 143, _read(log_path)[-2000:]
  assert not os.path.exists(str(tmp_path / 'train' / 'checkpoint'))
