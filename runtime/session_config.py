"""Process and session settings that suit the machine the process runs on.

Threads: on a machine with few cores, TensorFlow's own default (inter-op
threads = number of cores) splits the cores between ops that each run slower;
a network like ResNet-50 runs faster with one inter-op thread and all cores
given to each op (intra-op).
`session_config()` gives that setting, sized to the CPUs this process may
actually use (its affinity mask and, in a container, its cgroup CPU quota),
with explicit overrides for the training, evaluation and benchmark scripts.

CPU allocator: TensorFlow's default CPU allocator hands large tensors to the
system malloc, which maps them fresh and gives them back on free, so every
activation of every step is page-faulted in again; the BFC allocator keeps
freed blocks for reuse. `use_cpu_allocator('bfc')` switches; call it
before the process creates its first session or runs its first eager op.

Example:

    from runtime import session_config
    session_config.use_cpu_allocator('bfc')           # first thing in main()
    config = session_config.session_config()          # intra = CPUs, inter = 1
    config = session_config.session_config(intra_op_threads=4,
                                           allow_soft_placement=True)
    with tf.compat.v1.Session(config=config) as sess:
      ...
"""
import math
import os

from runtime.tf_compat import v1

DEFAULT_INTER_OP_THREADS = 1
CPU_ALLOCATORS = ('bfc', 'system')
BFC_ENV_VAR = 'TF_CPU_ALLOCATOR_USE_BFC'

_CGROUP_V2_CPU_MAX = '/sys/fs/cgroup/cpu.max'
_CGROUP_V1_QUOTA = '/sys/fs/cgroup/cpu/cpu.cfs_quota_us'
_CGROUP_V1_PERIOD = '/sys/fs/cgroup/cpu/cpu.cfs_period_us'


def _read(path):
  try:
    with open(path) as f:
      return f.read().strip()
  except OSError:
    return None


def cgroup_cpu_quota():
  """The cgroup CPU quota in CPUs (e.g. 1.5), or None if unlimited/unknown."""
  cpu_max = _read(_CGROUP_V2_CPU_MAX)
  if cpu_max:
    quota, _, period = cpu_max.partition(' ')
    if quota != 'max' and period:
      return int(quota) / int(period)
    return None
  quota, period = _read(_CGROUP_V1_QUOTA), _read(_CGROUP_V1_PERIOD)
  if quota and period and int(quota) > 0:
    return int(quota) / int(period)
  return None


def available_cpus():
  """CPUs this process can use: its affinity mask, capped by a cgroup quota.

  Example:

    available_cpus()   # 2 on the project's benchmark machine
  """
  try:
    cpus = len(os.sched_getaffinity(0))
  except AttributeError:  # Not on Linux.
    cpus = os.cpu_count() or 1
  quota = cgroup_cpu_quota()
  if quota:
    cpus = min(cpus, max(1, math.ceil(quota)))
  return max(1, cpus)


def thread_counts(intra_op_threads=0, inter_op_threads=0):
  """Resolves thread counts; 0 (or None) means this machine's default.

  Returns:
    (intra_op_threads, inter_op_threads): intra defaults to
    `available_cpus()`, inter to `DEFAULT_INTER_OP_THREADS` (1).

  Raises:
    ValueError: on a negative count.
  """
  for name, value in (('intra_op_threads', intra_op_threads),
                      ('inter_op_threads', inter_op_threads)):
    if value is not None and value < 0:
      raise ValueError('%s must be >= 0 (0 = machine default), got %r' %
                       (name, value))
  return (intra_op_threads or available_cpus(),
          inter_op_threads or DEFAULT_INTER_OP_THREADS)


def session_config(intra_op_threads=0, inter_op_threads=0, **config_fields):
  """A `tf.compat.v1.ConfigProto` with explicit thread settings.

  Args:
    intra_op_threads: threads inside one op; 0 = `available_cpus()`.
    inter_op_threads: ops run concurrently; 0 = 1 (see the module docstring).
    **config_fields: other ConfigProto fields, e.g.
      `allow_soft_placement=True` or `device_filters=[...]`.

  Returns:
    The ConfigProto.

  Example:

    sess = tf.compat.v1.Session(config=session_config(inter_op_threads=2))
  """
  intra, inter = thread_counts(intra_op_threads, inter_op_threads)
  return v1.ConfigProto(intra_op_parallelism_threads=intra,
                        inter_op_parallelism_threads=inter, **config_fields)


def use_cpu_allocator(allocator='bfc'):
  """Chooses TensorFlow's CPU allocator for this process.

  TensorFlow reads `TF_CPU_ALLOCATOR_USE_BFC` once, when it creates its CPU
  allocator (the first session or eager op), so call this before either; it
  cannot change an allocator that already exists. A value already in the
  environment wins, so a user can still choose from the shell.

  Args:
    allocator: 'bfc' (TensorFlow's best-fit-with-coalescing pool: freed
      blocks are reused, no page faults per step) or 'system' (malloc).

  Returns:
    The allocator the environment now asks for, 'bfc' or 'system'.

  Raises:
    ValueError: on an unknown allocator name.

  Example:

    def main(argv):
      session_config.use_cpu_allocator(FLAGS.cpu_allocator)
  """
  if allocator not in CPU_ALLOCATORS:
    raise ValueError('Unknown CPU allocator %r; valid allocators: %s' %
                     (allocator, ', '.join(CPU_ALLOCATORS)))
  os.environ.setdefault(BFC_ENV_VAR,
                        'true' if allocator == 'bfc' else 'false')
  return cpu_allocator()


def cpu_allocator():
  """The CPU allocator the environment asks for: 'bfc' or 'system'."""
  value = os.environ.get(BFC_ENV_VAR, '').strip().lower()
  return 'bfc' if value in ('1', 'true') else 'system'
