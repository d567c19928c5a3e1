"""Clones: one model replicated on several devices of a worker.

What Slim's `model_deploy` did, on TensorFlow's own runtime: each clone builds
the model on its device under `clone_<i>` name scopes, sharing one set of
variables (placed on the parameter servers when there are some, else on the
worker's CPU); each clone's loss is divided by the number of clones, so the
summed gradients are the average over clones; regularization is added once
(to the first clone); `UPDATE_OPS` are taken from the first clone only.
Each clone gets a batch of `batch_size` (Slim's convention: the global batch
is `num_clones * batch_size`).

Example:

    config = model_deploy.DeploymentConfig(num_clones=2, clone_on_cpu=True)
    with v1.device(config.variables_device()):
      global_step = v1.train.get_or_create_global_step()
    clones = model_deploy.create_clones(config, model_fn, [batch_queue])
    total_loss, grads_and_vars = model_deploy.optimize_clones(clones, optimizer)
    update_ops = model_deploy.clone_update_ops(clones)
"""
import collections
import dataclasses

from runtime.tf_compat import tf

v1 = tf.compat.v1

Clone = collections.namedtuple('Clone', ['outputs', 'scope', 'device'])


@dataclasses.dataclass(frozen=True)
class DeploymentConfig:
  """Where clones, variables and inputs go.

  Attributes:
    num_clones: model replicas on this worker.
    clone_on_cpu: put every clone on the CPU (several towers on one device on
      a CPU-only machine); otherwise clone i goes to GPU i.
    replica_id: this worker's task index.
    num_replicas: number of workers.
    num_ps_tasks: number of parameter servers (0: variables stay local).
    worker_job_name: job name of the workers.
    ps_job_name: job name of the parameter servers.
  """
  num_clones: int = 1
  clone_on_cpu: bool = False
  replica_id: int = 0
  num_replicas: int = 1
  num_ps_tasks: int = 0
  worker_job_name: str = 'worker'
  ps_job_name: str = 'ps'

  def __post_init__(self):
    if self.num_clones < 1:
      raise ValueError('num_clones must be >= 1, got %d' % self.num_clones)
    if self.num_replicas > 1 and self.num_ps_tasks < 1:
      raise ValueError('Several worker replicas need num_ps_tasks >= 1 to '
                       'share variables, got %d' % self.num_ps_tasks)
    if not 0 <= self.replica_id < max(1, self.num_replicas):
      raise ValueError('replica_id %d is out of range for %d replicas' %
                       (self.replica_id, self.num_replicas))

  def _worker_prefix(self):
    if self.num_ps_tasks > 0:
      return '/job:%s/task:%d' % (self.worker_job_name, self.replica_id)
    return ''

  def clone_device(self, clone_index):
    """The device of clone `clone_index`."""
    device = self._worker_prefix()
    if self.clone_on_cpu:
      return device + '/device:CPU:0'
    if self.num_clones == 1:
      return device
    return device + '/device:GPU:%d' % clone_index

  def clone_scope(self, clone_index):
    return 'clone_%d' % clone_index if self.num_clones > 1 else ''

  def variables_device(self):
    """Device (string or function) for variables, incl. the global step."""
    if self.num_ps_tasks > 0:
      return v1.train.replica_device_setter(
          ps_tasks=self.num_ps_tasks, ps_device='/job:%s' % self.ps_job_name,
          worker_device=self._worker_prefix() + '/device:CPU:0')
    return '/device:CPU:0'

  def inputs_device(self):
    return self._worker_prefix() + '/device:CPU:0'

  def optimizer_device(self):
    return self._worker_prefix() + '/device:CPU:0'


# Op types that hold variable state (those replica_device_setter sends to ps).
_VARIABLE_OPS = frozenset(
    ['Variable', 'VariableV2', 'VarHandleOp', 'AutoReloadVariable'])


def _clone_device_fn(variables_device, clone_device):
  """Variables go to `variables_device`; the clone's compute to its device."""

  def device_fn(op):
    if op.type in _VARIABLE_OPS:
      return (variables_device(op) if callable(variables_device)
              else variables_device)
    return clone_device

  return device_fn


def create_clones(config, model_fn, args=None, kwargs=None):
  """Builds `model_fn(*args, **kwargs)` once per clone.

  `model_fn` builds the model and adds its losses with `v1.losses.*` (they
  are collected per clone by name scope). Clone 0 creates the variables and
  the others reuse them.

  Returns:
    A list of `Clone(outputs, scope, device)`.
  """
  args, kwargs = args or [], kwargs or {}
  clones = []
  for i in range(config.num_clones):
    with v1.name_scope(config.clone_scope(i)) as scope:
      device = config.clone_device(i)
      with v1.device(_clone_device_fn(config.variables_device(), device)):
        with v1.variable_scope(v1.get_variable_scope(),
                               reuse=True if i > 0 else None):
          outputs = model_fn(*args, **kwargs)
      clones.append(Clone(outputs, scope, device))
  return clones


def _clone_loss(clone, num_clones, regularization_losses):
  losses = v1.losses.get_losses(clone.scope or None)
  if not losses and not regularization_losses:
    return None
  total = None
  if losses:
    total = tf.add_n(losses, name='clone_loss')
    if num_clones > 1:
      total = tf.divide(total, float(num_clones), name='scaled_clone_loss')
  if regularization_losses:
    regularization = tf.add_n(regularization_losses,
                              name='regularization_loss')
    total = regularization if total is None else total + regularization
  return total


def optimize_clones(clones, optimizer, regularization_losses=None,
                    var_list=None):
  """Computes each clone's gradients and sums them (= their average).

  Args:
    clones: from `create_clones`.
    optimizer: a v1 optimizer (its `compute_gradients` is used).
    regularization_losses: added to the first clone only; None takes
      `REGULARIZATION_LOSSES`.
    var_list: variables to differentiate (default: trainable variables).

  Returns:
    (total_loss, grads_and_vars) with the gradients summed over clones.
  """
  if regularization_losses is None:
    regularization_losses = v1.losses.get_regularization_losses()
  clone_losses, per_clone = [], []
  for i, clone in enumerate(clones):
    with v1.name_scope(clone.scope or None):
      loss = _clone_loss(clone, len(clones),
                         regularization_losses if i == 0 else None)
      if loss is None:
        continue
      with v1.device(clone.device):
        grads = optimizer.compute_gradients(loss, var_list=var_list)
      clone_losses.append(loss)
      per_clone.append(grads)
  if not clone_losses:
    raise ValueError('The clones added no losses: use v1.losses.* in model_fn')
  total_loss = tf.add_n(clone_losses, name='total_loss')
  return total_loss, sum_gradients(per_clone)


def sum_gradients(per_clone_grads_and_vars):
  """Sums the gradients of each variable over clones (None stays None)."""
  summed = []
  for grads_and_vars in zip(*per_clone_grads_and_vars):
    variable = grads_and_vars[0][1]
    grads = [g for g, _ in grads_and_vars if g is not None]
    if not grads:
      summed.append((None, variable))
    elif len(grads) == 1:
      summed.append((grads[0], variable))
    else:
      summed.append((tf.add_n(grads, name=variable.op.name + '/sum_grads'),
                     variable))
  return summed


def clone_update_ops(clones):
  """`UPDATE_OPS` (batch norm statistics) of the first clone."""
  return v1.get_collection(v1.GraphKeys.UPDATE_OPS, clones[0].scope or None)
