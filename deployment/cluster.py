"""Which process of a TensorFlow cluster this is, from TF_CONFIG or flags.

Two ways to describe a cluster, both standard:

* `TF_CONFIG`, the JSON environment variable of TensorFlow's distributed
  runtime: `{"cluster": {"ps": ["h:p", ...], "worker": ["h:p", ...]},
  "task": {"type": "worker", "index": 0}}`. A `"chief"` job of one host is
  accepted too and becomes worker 0 (the workers follow it).
* Slim-era flags: `--ps_hosts=h:p,h:p --worker_hosts=h:p,h:p --job_name=worker
  --task=0`.

Example:

    spec = cluster.from_flags_or_env(ps_hosts='127.0.0.1:2222',
                                     worker_hosts='127.0.0.1:2223',
                                     job_name='worker', task=0)
    spec.is_chief, spec.cluster_spec()   # True, ClusterSpec(...)
"""
import dataclasses
import json
import os
from typing import Dict, List, Optional

JOBS = ('ps', 'worker')


class ClusterConfigError(ValueError):
  """The cluster description is malformed or does not name this process."""


@dataclasses.dataclass(frozen=True)
class ClusterConfig:
  """A cluster and this process's place in it (None cluster: one process)."""
  jobs: Optional[Dict[str, List[str]]] = None
  job_name: str = 'worker'
  task_index: int = 0

  @property
  def is_distributed(self):
    return self.jobs is not None

  @property
  def is_chief(self):
    return self.job_name == 'worker' and self.task_index == 0

  @property
  def num_workers(self):
    return len(self.jobs['worker']) if self.jobs else 1

  @property
  def num_ps(self):
    return len(self.jobs.get('ps', [])) if self.jobs else 0

  def cluster_spec(self):
    # Imported here: the trainer checks its cluster flags before TF loads.
    from runtime.tf_compat import tf  # pylint: disable=g-import-not-at-top
    return tf.train.ClusterSpec(self.jobs)

  def worker_device(self):
    return '/job:worker/task:%d' % self.task_index if self.jobs else ''


def _validate(jobs, job_name, task_index, source):
  if not isinstance(jobs, dict) or not jobs.get('worker'):
    raise ClusterConfigError('%s: the cluster needs a non-empty "worker" job, '
                             'got %r' % (source, jobs))
  unknown = sorted(set(jobs) - set(JOBS))
  if unknown:
    raise ClusterConfigError('%s: unknown jobs %s; valid jobs: %s' %
                             (source, unknown, ', '.join(JOBS)))
  for job, hosts in jobs.items():
    if not isinstance(hosts, list) or not all(
        isinstance(h, str) and ':' in h for h in hosts):
      raise ClusterConfigError('%s: job %r must be a list of "host:port" '
                               'strings, got %r' % (source, job, hosts))
  if job_name not in jobs:
    raise ClusterConfigError('%s: job %r is not in the cluster (jobs: %s)' %
                             (source, job_name, ', '.join(sorted(jobs))))
  if not isinstance(task_index, int) or not (
      0 <= task_index < len(jobs[job_name])):
    raise ClusterConfigError(
        '%s: task index %r is out of range for job %r with %d tasks (valid: '
        '0..%d)' % (source, task_index, job_name, len(jobs[job_name]),
                    len(jobs[job_name]) - 1))
  return ClusterConfig(jobs=jobs, job_name=job_name, task_index=task_index)


def from_tf_config(text):
  """Parses a TF_CONFIG JSON string.

  Raises:
    ClusterConfigError: malformed JSON, missing keys, unknown job or task
      index out of range, each said in one line.
  """
  try:
    config = json.loads(text)
  except json.JSONDecodeError as e:
    raise ClusterConfigError('TF_CONFIG is not valid JSON: %s' % e) from None
  if not isinstance(config, dict) or 'cluster' not in config or (
      'task' not in config):
    raise ClusterConfigError('TF_CONFIG needs "cluster" and "task" keys, got '
                             '%s' % text[:200])
  jobs = dict(config['cluster'])
  task = config['task']
  if not isinstance(task, dict) or 'type' not in task:
    raise ClusterConfigError('TF_CONFIG "task" needs "type" and "index", got '
                             '%r' % (task,))
  job_name, index = task['type'], task.get('index', 0)
  if 'chief' in jobs:
    chief = jobs.pop('chief')
    if not isinstance(chief, list) or len(chief) != 1:
      raise ClusterConfigError('TF_CONFIG "chief" must list one host, got %r'
                               % (chief,))
    jobs['worker'] = chief + list(jobs.get('worker', []))
    if job_name == 'chief':
      job_name, index = 'worker', 0
    elif job_name == 'worker' and isinstance(index, int):
      index += 1
  return _validate(jobs, job_name, index, 'TF_CONFIG')


def from_flags(ps_hosts, worker_hosts, job_name, task):
  """Builds the config from Slim-era `--ps_hosts/--worker_hosts` flags."""
  jobs = {'worker': [h for h in worker_hosts.split(',') if h]}
  ps = [h for h in (ps_hosts or '').split(',') if h]
  if ps:
    jobs['ps'] = ps
  return _validate(jobs, job_name, task, '--worker_hosts/--ps_hosts')


def from_flags_or_env(ps_hosts='', worker_hosts='', job_name='worker', task=0,
                      environ=None):
  """Flags win when `worker_hosts` is given; else TF_CONFIG; else local."""
  if worker_hosts:
    return from_flags(ps_hosts, worker_hosts, job_name, task)
  if ps_hosts:
    raise ClusterConfigError('--ps_hosts was given without --worker_hosts')
  environ = os.environ if environ is None else environ
  text = environ.get('TF_CONFIG', '').strip()
  if text:
    return from_tf_config(text)
  return ClusterConfig()
