"""Worker replicas: synchronous updates and joining a running cluster.

Parameter-server training on TensorFlow's own runtime, as Slim did it:
asynchronous by default (every worker applies its gradients to the shared
variables), synchronous with `SyncReplicasOptimizer` (the chief applies the
average of `replicas_to_aggregate` gradients, and the global step advances
once per such update). Two pieces the runtime leaves to its users:

* `SyncReplicasHook` (from `SyncReplicas.hooks(is_chief)`) runs the
  optimizer as its own hook does, and when the chief stops hands every
  worker a token, so workers waiting for the next synchronous step see the
  end of the run and stop instead of blocking forever; the chief's queue
  runner stops quietly instead of holding the session's close.
* `PollingWorkerSessionCreator` is `WorkerSessionCreator` with a shorter
  poll: a non-chief worker checks every `recovery_wait_secs` whether the
  chief has initialised the variables (TensorFlow's fixed 30 s otherwise).

Example:

    sync = replicas.SyncReplicas(replicas_to_aggregate=2,
                                 total_num_replicas=2)
    graph = model.build_train_graph(config, deploy_config,
                                    optimizer_wrapper=sync.wrap)
    hooks = sync.hooks(is_chief)
"""
from runtime.tf_compat import tf, v1


class SyncReplicas:
  """Wraps the optimizer in `SyncReplicasOptimizer` and makes its hooks.

  Attributes:
    replicas_to_aggregate: gradients averaged into each update.
    total_num_replicas: workers computing gradients.
    optimizer: the `SyncReplicasOptimizer` once `wrap` was called.
  """

  def __init__(self, replicas_to_aggregate, total_num_replicas):
    self.replicas_to_aggregate = replicas_to_aggregate
    self.total_num_replicas = total_num_replicas
    self.optimizer = None

  def wrap(self, optimizer, moving_average=None):
    """`optimizer_wrapper` for `build_train_graph`.

    Args:
      optimizer: the optimizer each worker computes gradients with.
      moving_average: an `ExponentialMovingAverage` of the model variables,
        then updated by the chief once per aggregated update (Slim's).
    """
    averages = {}
    if moving_average is not None:
      averages = dict(variable_averages=moving_average,
                      variables_to_average=v1.model_variables())
    self.optimizer = v1.train.SyncReplicasOptimizer(
        optimizer, replicas_to_aggregate=self.replicas_to_aggregate,
        total_num_replicas=self.total_num_replicas, **averages)
    return self.optimizer

  def hooks(self, is_chief):
    """The hooks of a worker: `[SyncReplicasHook]`."""
    if self.optimizer is None:
      raise ValueError('SyncReplicas.hooks: wrap() an optimizer first')
    return [SyncReplicasHook(self.optimizer, is_chief,
                             release_tokens=max(self.total_num_replicas,
                                                self.replicas_to_aggregate))]


class SyncReplicasHook(v1.train.SessionRunHook):
  """Runs a `SyncReplicasOptimizer` on a worker, and stops it cleanly.

  Does what the optimizer's `make_session_run_hook(is_chief)` does (local
  init after the chief's variables are ready; on the chief, the initial
  tokens and the queue runner that applies the aggregated gradients), and
  at the end of the chief's run:

  * hands every worker one token, so workers waiting for the next
    synchronous step finish it, see the final global step and stop instead
    of blocking forever (the gradients of those steps are never applied);
  * stops its queue runner without a traceback and without holding the
    session's close for the grace period: the runner thread, which waits
    for gradients that will not come, is cancelled when the session closes,
    and its coordinator is this hook's own, for which that is a clean stop.
    Any other error of the runner stops the run and is raised.
  """

  def __init__(self, sync_optimizer, is_chief, release_tokens):
    self._optimizer = sync_optimizer
    self._is_chief = is_chief
    self._release_tokens = release_tokens
    self._coord = None

  def begin(self):
    optimizer = self._optimizer
    self._ready_for_local_init_op = optimizer.ready_for_local_init_op
    if self._is_chief:
      self._local_init_op = optimizer.chief_init_op
      self._init_tokens_op = optimizer.get_init_tokens_op()
      self._release_op = optimizer.get_init_tokens_op(self._release_tokens)
      self._queue_runner = optimizer.get_chief_queue_runner()
    else:
      self._local_init_op = optimizer.local_step_init_op

  def after_create_session(self, session, coord):
    del coord  # The runner gets its own (see the class docstring).
    not_ready = session.run(self._ready_for_local_init_op)
    if not_ready.size:
      raise RuntimeError('SyncReplicasOptimizer: variables not initialised '
                         'before its local init: %s' % not_ready[:10])
    session.run(self._local_init_op)
    if self._is_chief:
      session.run(self._init_tokens_op)
      self._coord = v1.train.Coordinator(clean_stop_exception_types=(
          tf.errors.CancelledError, tf.errors.OutOfRangeError))
      self._queue_runner.create_threads(session, coord=self._coord,
                                        daemon=True, start=True)

  def after_run(self, run_context, run_values):
    del run_values
    if self._coord is not None and self._coord.should_stop():
      self._coord.raise_requested_exception()
      run_context.request_stop()

  def end(self, session):
    if self._is_chief:
      session.run(self._release_op)
      self._coord.request_stop()


class PollingWorkerSessionCreator(v1.train.SessionCreator):
  """Creates a non-chief worker's session once the chief has initialised.

  As `tf.compat.v1.train.WorkerSessionCreator`, but polls the model's
  readiness every `recovery_wait_secs` instead of every 30 s.
  """

  def __init__(self, scaffold=None, master='', config=None,
               recovery_wait_secs=1.0, max_wait_secs=30 * 60):
    self._scaffold = scaffold or v1.train.Scaffold()
    self._master = master
    self._config = config
    self._recovery_wait_secs = recovery_wait_secs
    self._max_wait_secs = max_wait_secs

  def create_session(self):
    self._scaffold.finalize()
    manager = v1.train.SessionManager(
        local_init_op=self._scaffold.local_init_op,
        local_init_feed_dict=self._scaffold.local_init_feed_dict,
        ready_op=self._scaffold.ready_op,
        ready_for_local_init_op=self._scaffold.ready_for_local_init_op,
        graph=v1.get_default_graph(),
        recovery_wait_secs=self._recovery_wait_secs)
    return manager.wait_for_session(self._master, config=self._config,
                                    max_wait_secs=self._max_wait_secs)
