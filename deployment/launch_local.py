r"""Starts a parameter-server cluster on this machine (127.0.0.1 only).

Runs `--num_ps` parameter servers and `--num_workers` workers of
`train_image_classifier.py` as separate processes on free loopback ports,
streams their logs with a `[ps0]` / `[worker1]` prefix, and stops them all
when the chief (worker 0) exits (after giving the other workers
`--shutdown_grace_secs` to finish their last step), when a worker fails, or
on Ctrl-C. The exit status is the chief's (or the failed worker's). Everything after `--` goes to
every process, so the command line is the one a real cluster would run.
With `--cluster_from=tf_config` each process gets the cluster as TF_CONFIG
instead of host flags.

Example:

    python -m deployment.launch_local --num_ps=1 --num_workers=2 -- \
        --train_dir=/tmp/train --dataset_name=digits --dataset_dir=/tmp/digits \
        --model_name=simple_cnn --max_number_of_steps=200
"""
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

from absl import app
from absl import flags

FLAGS = flags.FLAGS
flags.DEFINE_integer('num_ps', 1, 'Number of parameter server processes.')
flags.DEFINE_integer('num_workers', 2, 'Number of worker processes.')
flags.DEFINE_string('script', 'train_image_classifier.py',
                    'Training script every process runs.')
flags.DEFINE_enum('cluster_from', 'flags', ['flags', 'tf_config'],
                  'How each process learns the cluster: --ps_hosts/'
                  '--worker_hosts/--job_name/--task flags, or a TF_CONFIG '
                  'environment variable (with worker 0 as the "chief" job).')
flags.DEFINE_float('shutdown_grace_secs', 10.0,
                   'How long workers get to stop after SIGTERM before SIGKILL.')


def free_loopback_ports(count):
  """`count` distinct free TCP ports on 127.0.0.1."""
  sockets = []
  try:
    for _ in range(count):
      s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
      s.bind(('127.0.0.1', 0))
      sockets.append(s)
    return [s.getsockname()[1] for s in sockets]
  finally:
    for s in sockets:
      s.close()


def cluster_flags(num_ps, num_workers):
  """[(name, [--ps_hosts.., --worker_hosts.., --job_name.., --task..])]."""
  ports = free_loopback_ports(num_ps + num_workers)
  ps_hosts = ','.join('127.0.0.1:%d' % p for p in ports[:num_ps])
  worker_hosts = ','.join('127.0.0.1:%d' % p for p in ports[num_ps:])
  common = ['--ps_hosts=' + ps_hosts, '--worker_hosts=' + worker_hosts]
  tasks = [('ps', i) for i in range(num_ps)]
  tasks += [('worker', i) for i in range(num_workers)]
  return [('%s%d' % (job, i), common + ['--job_name=' + job, '--task=%d' % i])
          for job, i in tasks]


def cluster_tf_configs(num_ps, num_workers):
  """[(name, TF_CONFIG)]: the same cluster as standard TF_CONFIG JSON, worker
  0 as the one "chief" task and the other workers as "worker" 0, 1, ..."""
  ports = free_loopback_ports(num_ps + num_workers)
  hosts = ['127.0.0.1:%d' % p for p in ports]
  cluster = {'chief': hosts[num_ps:num_ps + 1]}
  if num_workers > 1:
    cluster['worker'] = hosts[num_ps + 1:]
  if num_ps:
    cluster['ps'] = hosts[:num_ps]
  tasks = [('ps%d' % i, {'type': 'ps', 'index': i}) for i in range(num_ps)]
  tasks.append(('worker0', {'type': 'chief', 'index': 0}))
  tasks += [('worker%d' % (i + 1), {'type': 'worker', 'index': i})
            for i in range(num_workers - 1)]
  return [(name, json.dumps({'cluster': cluster, 'task': task}))
          for name, task in tasks]


def _script_path(script):
  """`script` as given, else relative to the repository root."""
  if os.path.exists(script):
    return script
  return os.path.join(os.path.dirname(os.path.dirname(
      os.path.abspath(__file__))), script)


def _stream(name, pipe, lock):
  for line in iter(pipe.readline, ''):
    with lock:
      sys.stdout.write('[%s] %s' % (name, line))
      sys.stdout.flush()
  pipe.close()


class LocalCluster:
  """The processes of one local cluster; `stop()` ends them all."""

  def __init__(self, script, num_ps, num_workers, extra_args,
               use_tf_config=False):
    self.processes = {}
    self._threads = []
    lock = threading.Lock()
    if use_tf_config:
      tasks = [(name, [], dict(os.environ, TF_CONFIG=tf_config))
               for name, tf_config in cluster_tf_configs(num_ps, num_workers)]
    else:
      tasks = [(name, args, None)
               for name, args in cluster_flags(num_ps, num_workers)]
    for name, args, env in tasks:
      process = subprocess.Popen(
          [sys.executable, '-u', _script_path(script)] + args +
          list(extra_args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
          text=True, bufsize=1, env=env)
      self.processes[name] = process
      thread = threading.Thread(target=_stream,
                                args=(name, process.stdout, lock), daemon=True)
      thread.start()
      self._threads.append(thread)

  def wait_for_chief(self):
    """Waits for worker 0; returns its exit code (non-zero if a worker failed
    first)."""
    chief = self.processes['worker0']
    while chief.poll() is None:
      for name, process in self.processes.items():
        if name.startswith('worker') and process.poll() not in (None, 0):
          print('[launcher] %s exited with %d; stopping the cluster' %
                (name, process.returncode), flush=True)
          return process.returncode
      time.sleep(0.2)
    return chief.returncode

  def wait_for_workers(self, timeout_secs):
    """Gives the other workers `timeout_secs` to finish by themselves (they
    stop once they see the chief's last global step)."""
    deadline = time.time() + timeout_secs
    for name, process in self.processes.items():
      if name.startswith('worker'):
        try:
          process.wait(timeout=max(0.1, deadline - time.time()))
        except subprocess.TimeoutExpired:
          pass

  def stop(self, grace_secs):
    """SIGTERMs the workers (they stop after their current step, the chief
    with a final checkpoint, which needs the parameter servers), then the
    parameter servers; SIGKILLs whatever is left after `grace_secs`."""
    workers = [p for n, p in self.processes.items() if n.startswith('worker')]
    servers = [p for n, p in self.processes.items() if p not in workers]
    for group in (workers, servers):
      for process in group:
        if process.poll() is None:
          process.terminate()
      deadline = time.time() + grace_secs
      for process in group:
        try:
          process.wait(timeout=max(0.1, deadline - time.time()))
        except subprocess.TimeoutExpired:
          process.kill()
          process.wait()
    for thread in self._threads:
      thread.join(timeout=2)


def _raise_keyboard_interrupt(unused_signum, unused_frame):
  raise KeyboardInterrupt()


def main(argv):
  extra_args = argv[1:]
  if FLAGS.num_workers < 1:
    raise app.UsageError('--num_workers must be >= 1')
  # The processes inherit SIGINT ignored, so a terminal's Ctrl-C (sent to
  # the whole process group) reaches only the launcher, which stops them in
  # order. The launcher then handles SIGINT itself, whatever it inherited (a
  # job started in the background of a script has it ignored).
  previous_int = signal.signal(signal.SIGINT, signal.SIG_IGN)
  try:
    cluster = LocalCluster(FLAGS.script, FLAGS.num_ps, FLAGS.num_workers,
                           extra_args,
                           use_tf_config=FLAGS.cluster_from == 'tf_config')
  finally:
    signal.signal(signal.SIGINT, _raise_keyboard_interrupt)
  previous = signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
  try:
    code = cluster.wait_for_chief()
    if code == 0:
      cluster.wait_for_workers(FLAGS.shutdown_grace_secs)
  except KeyboardInterrupt:
    print('[launcher] interrupted; stopping the cluster', flush=True)
    code = 130
  finally:
    cluster.stop(FLAGS.shutdown_grace_secs)
    signal.signal(signal.SIGTERM, previous)
    signal.signal(signal.SIGINT, previous_int)
  sys.exit(code)


if __name__ == '__main__':
  app.run(main)
