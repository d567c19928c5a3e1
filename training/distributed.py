"""One process of a training job: local, a parameter server, or a worker.

What `train_image_classifier.py` runs after validating its flags. The
cluster comes from `--ps_hosts/--worker_hosts/--job_name/--task` or from
TF_CONFIG (`TrainConfig.cluster`); without one the run is local, with
`--num_clones` clones. In a cluster, on TensorFlow's own runtime:

* a parameter server starts a `tf.distribute.Server` and serves the
  variables until it is killed;
* a worker starts its server, builds the graph with the variables (and the
  global step) on the parameter servers (`replica_device_setter`) and its
  clones on itself, and trains through its server with `device_filters`
  that keep it talking to the parameter servers and itself only. Worker 0,
  the chief, initialises or restores the variables and writes checkpoints
  and summaries; the others wait for it and then train. Updates are
  asynchronous unless `--sync_replicas`.

    config = TrainConfig(...).validate()
    result = distributed.train(config)   # a TrainResult; never returns on ps
"""
import dataclasses
from typing import Optional

from absl import logging

from deployment import cluster as cluster_lib
from deployment import model_deploy
from deployment import replicas
from runtime.tf_compat import tf
from training import hooks as hooks_lib
from training import loop
from training import model

# How long a stopping session waits for its threads; SyncReplicasOptimizer's
# queue runner never stops by itself on current TensorFlow.
STOP_GRACE_PERIOD_SECS = 3


@dataclasses.dataclass(frozen=True)
class Plan:
  """Where this process fits and how it trains.

  Attributes:
    cluster: this process's `ClusterConfig` (`is_distributed` False: local).
    deploy_config: clones, replicas and parameter servers for the graph.
    replicas_to_aggregate: gradients per update (1 unless sync replicas).
    sync_replicas: whether updates are synchronous.
  """
  cluster: cluster_lib.ClusterConfig
  deploy_config: model_deploy.DeploymentConfig
  replicas_to_aggregate: int
  sync_replicas: bool

  def device_filters(self):
    """The devices this worker's sessions see (None when local)."""
    if not self.cluster.is_distributed:
      return None
    return ['/job:ps', '/job:worker/task:%d' % self.cluster.task_index]

  def describe(self):
    """One line: which process this is and how it trains."""
    if not self.cluster.is_distributed:
      return 'local, %d clone(s)' % self.deploy_config.num_clones
    spec = self.cluster
    if spec.job_name == 'ps':
      return 'ps %d of %d' % (spec.task_index, spec.num_ps)
    mode = ('sync, %d gradients per update' % self.replicas_to_aggregate
            if self.sync_replicas else 'async')
    return 'worker %d of %d%s, %d ps, %s, %d clone(s)' % (
        spec.task_index, spec.num_workers, ' (chief)' if spec.is_chief else '',
        spec.num_ps, mode, self.deploy_config.num_clones)


def plan(config, environ=None, num_gpus=None):
  """The `Plan` of a validated `config`.

  Args:
    config: a validated `TrainConfig`.
    environ: where TF_CONFIG is read (default os.environ).
    num_gpus: GPUs on this machine (default: counted); with none, clones go
      on the CPU whatever --clone_on_cpu says.
  """
  spec = config.cluster(environ)
  if num_gpus is None:
    num_gpus = len(tf.config.list_physical_devices('GPU'))
  clone_on_cpu = config.clone_on_cpu or num_gpus == 0
  if config.num_clones > 1 and clone_on_cpu and not config.clone_on_cpu:
    logging.info('No GPU: the %d clones go on the CPU (--clone_on_cpu)',
                 config.num_clones)
  deploy = model_deploy.DeploymentConfig(
      num_clones=config.num_clones, clone_on_cpu=clone_on_cpu,
      replica_id=spec.task_index if spec.job_name == 'worker' else 0,
      num_replicas=spec.num_workers, num_ps_tasks=spec.num_ps)
  aggregate = 1
  if config.sync_replicas:
    aggregate = config.replicas_to_aggregate or spec.num_workers
  return Plan(cluster=spec, deploy_config=deploy,
              replicas_to_aggregate=aggregate,
              sync_replicas=config.sync_replicas)


def start_server(config, spec):
  """This process's `tf.distribute.Server` (started)."""
  return tf.distribute.Server(
      spec.cluster_spec(), job_name=spec.job_name,
      task_index=spec.task_index, config=loop.session_config(config),
      start=True)


def serve(config, spec):
  """A parameter server: serves the variables until the process is killed."""
  server = start_server(config, spec)
  logging.info('ps %d of %d serving at %s', spec.task_index, spec.num_ps,
               spec.jobs['ps'][spec.task_index])
  server.join()


def train(config, environ=None, the_plan: Optional[Plan] = None, hooks=()):
  """Runs this process's part of the job (see the module docstring).

  Args:
    config: a validated `TrainConfig`.
    environ: where TF_CONFIG is read (default os.environ).
    the_plan: a `Plan` (default `plan(config, environ)`).
    hooks: more `SessionRunHook`s for the worker.

  Returns:
    The worker's (or local run's) `loop.TrainResult`; a parameter server
    never returns.
  """
  the_plan = the_plan or plan(config, environ)
  spec = the_plan.cluster
  logging.info('Deployment: %s', the_plan.describe())
  if spec.job_name == 'ps':
    serve(config, spec)
    return None
  run_kwargs = {}
  if spec.is_distributed:
    server = start_server(config, spec)
    run_kwargs = dict(
        master=server.target, is_chief=spec.is_chief,
        session_config_proto=loop.session_config(
            config, device_filters=the_plan.device_filters()),
        stop_grace_period_secs=STOP_GRACE_PERIOD_SECS)
  sync = None
  if the_plan.sync_replicas:
    sync = replicas.SyncReplicas(the_plan.replicas_to_aggregate,
                                 spec.num_workers)
    run_kwargs['stop_grace_period_secs'] = STOP_GRACE_PERIOD_SECS
  with tf.Graph().as_default():
    graph = model.build_train_graph(
        config, deploy_config=the_plan.deploy_config,
        optimizer_wrapper=sync.wrap if sync else None,
        replicas_to_aggregate=the_plan.replicas_to_aggregate)
    all_hooks = list(hooks) + (sync.hooks(spec.is_chief) if sync else [])
    if (spec.is_distributed and not the_plan.sync_replicas and
        config.max_number_of_steps is not None):
      # Async workers share the global step: stop on its fresh value, read
      # after each step (see the hook); sync updates count one step each.
      all_hooks.append(hooks_lib.LastStepHook(graph.global_step,
                                              config.max_number_of_steps))
    return loop.run_training(config, graph, hooks=all_hooks, **run_kwargs)
