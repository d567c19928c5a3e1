"""The training loop: MonitoredTrainingSession + Scaffold(init_fn) + hooks.

`train(config)` builds the graph (`model.build_train_graph`) and runs it
with `run_training`; both are public so distributed training can build the
graph under its own device functions and pass a `master`, `is_chief`, more
hooks and a wrapped optimizer.

Start-up order: if `train_dir` holds a checkpoint, the run resumes from it
(global step, weights, optimizer slots, moving averages) and
`--checkpoint_path` is ignored; otherwise the model is warm-started from
`--checkpoint_path` (if given) by the Scaffold's `init_fn`, with a report of
what was restored, left fresh and left unused. Checkpoints are written every
`save_interval_secs` (or `save_interval_steps`) and at the end, with Slim
variable names whatever the layer style. A NaN/Inf loss stops the run with
`TrainingDivergedError` before that step is saved, a checkpoint whose
variables are not all finite is never written, and the checkpoints of the
weights that gave the bad loss are removed: the newest checkpoint on disk is
the last good one, and a restart resumes from it.

    config = TrainConfig(...).validate()
    result = train(config)
    result.global_step, result.checkpoint, result.images_per_sec
"""
import collections
import dataclasses
import os
import time
from typing import List, Optional

from absl import logging

from checkpointing import checkpoints
from deployment import replicas
from nets import options
from runtime import session_config as session_config_lib
from runtime.tf_compat import tf, v1
from training import errors
from training import hooks as hooks_lib
from training import model
from training import scopes
from training import warm_start

# Slim's resnet_arg_scope default, used when --batch_norm_decay is not given.
DEFAULT_BATCH_NORM_DECAY = options.BY_NAME['batch_norm_decay'].default
# Losses kept at each end of a run for the result (long runs stay small).
KEPT_LOSSES = 100


@dataclasses.dataclass
class TrainResult:
  """What a `train` call did.

  Attributes:
    start_step: global step when the run started (> 0 when resumed).
    global_step: global step at the end.
    num_steps: steps this process ran.
    first_losses: the losses of its first (up to) `KEPT_LOSSES` steps.
    last_losses: the losses of its last (up to) `KEPT_LOSSES` steps.
    checkpoint: the newest checkpoint in train_dir at the end.
    resumed_from: the checkpoint resumed from, or None.
    restore_report: the warm start's `RestoreReport`, or None.
    wall_time_secs: session start to end (final checkpoint included).
    images_per_sec: examples per second from the end of the first step to
      the end of the last (this worker).
  """
  start_step: int
  global_step: int
  num_steps: int
  first_losses: List[float]
  last_losses: List[float]
  checkpoint: Optional[str]
  resumed_from: Optional[str]
  restore_report: Optional[checkpoints.RestoreReport]
  wall_time_secs: float
  images_per_sec: Optional[float]


def session_config(config, device_filters=None):
  """The session's ConfigProto: thread counts (unset: the machine's
  defaults, `runtime.session_config.thread_counts`), soft placement."""
  return session_config_lib.session_config(
      config.intra_op_parallelism_threads or 0,
      config.inter_op_parallelism_threads or 0,
      allow_soft_placement=True, device_filters=device_filters)


_RESUME_ADVICE = ('it is the newest checkpoint of --train_dir; move its files '
                  'away to resume from the one before, or use a new '
                  '--train_dir')


def check_resumable(checkpoint, variables):
  """Fails if the checkpoint in train_dir was not written by this model.

  Raises:
    CheckpointMismatchError: naming missing and mismatched variables.
  """
  try:
    problems = checkpoints.fit_problems(checkpoint, variables)
  except checkpoints.NotACheckpointError as e:
    raise checkpoints.NotACheckpointError(e.path, e.detail,
                                          _RESUME_ADVICE) from None
  if problems:
    raise checkpoints.CheckpointMismatchError(
        'cannot resume from %s: it was written by a different model or '
        'training setup (%s). Use a new --train_dir, or the flags of the run '
        'that wrote it.' % (checkpoint, '; '.join(problems)))


def _log_batch_norm_warning(config, report, resumed_from=None):
  """Warns when batch norm's moving statistics start afresh in a short run.

  Statistics restored by a warm start are already good, so only a run
  whose statistics start at their initial values (or that resumes one) is
  judged against its length. Statistics this run does not update (frozen
  by --trainable_scopes) are not judged, nor is a resumed run with no step
  left.
  """
  statistics = [v for v in v1.model_variables()
                if '/BatchNorm/moving_' in v.op.name]
  if config.trainable_scopes and not config.update_frozen_batch_norm:
    statistics = scopes.filter_variables(statistics, config.trainable_scopes)
  if not statistics:
    return
  if resumed_from and config.max_number_of_steps is not None and (
      checkpoints.checkpoint_step(resumed_from) or 0) >= config.max_number_of_steps:
    return
  if report is not None and not any(
      '/BatchNorm/moving_' in n for n in report.fresh + report.excluded):
    return
  decay = config.batch_norm_decay or DEFAULT_BATCH_NORM_DECAY
  warning = hooks_lib.batch_norm_decay_warning(decay,
                                               config.max_number_of_steps)
  if warning:
    logging.warning(warning)


class DirectorySaver(v1.train.Saver):
  """A `Saver` whose checkpoints, clean-up and state file stay in one
  directory.

  The state file is written with paths relative to the directory
  (`save_relative_paths`), so a copied or moved train_dir still names its
  own checkpoints; and the list of old checkpoints that keep-N deletes is
  confined to the directory, whatever a state file said (TensorFlow recovers
  that list from the state file on restore).

    saver = DirectorySaver('/tmp/train', var_list, max_to_keep=5)
  """

  def __init__(self, directory, var_list, **kwargs):
    super().__init__(var_list, save_relative_paths=True, **kwargs)
    self._directory = directory

  def recover_last_checkpoints(self, checkpoint_paths):
    inside = [p for p in checkpoint_paths
              if checkpoints.is_inside(p, self._directory)]
    super().recover_last_checkpoints(inside)


def _resume_point(config, is_chief):
  """The newest checkpoint of train_dir (resolved inside it), or None.

  The chief rewrites a state file that names other directories or missing
  files with train_dir's own file names, before the session reads it.

  Raises:
    CheckpointMismatchError: the state file names only checkpoints that are
      not in train_dir.
  """
  state = checkpoints.directory_state(config.train_dir)
  for note in state.notes():
    logging.warning('%s', note)
  if state.latest is None:
    if state.state_file_found and state.missing:
      raise checkpoints.CheckpointMismatchError(
          'the checkpoint state file %s names only checkpoints that are not '
          'in %s (e.g. %s); copy them there, or remove that file to start '
          'afresh' % (os.path.join(config.train_dir, checkpoints.STATE_FILE),
                      config.train_dir, state.missing[-1]))
    return None
  if is_chief and not state.clean:
    checkpoints.write_directory_state(state)
    logging.info('Rewrote %s with the file names of its own checkpoints '
                 '(latest %s)', os.path.join(config.train_dir,
                                             checkpoints.STATE_FILE),
                 os.path.basename(state.latest))
  return state.latest


def _plan_start(config, graph, is_chief):
  """Resume or warm start: returns (resumed_from, init_fn, report)."""
  latest = _resume_point(config, is_chief)
  if latest:
    check_resumable(latest, v1.global_variables())
    logging.info('Resuming from %s (step %s)%s', latest,
                 checkpoints.checkpoint_step(latest),
                 '; --checkpoint_path ignored: train_dir already has a '
                 'checkpoint' if config.checkpoint_path else '')
    return latest, None, None
  if not config.checkpoint_path or not is_chief:
    return None, None, None
  init_fn, report = warm_start.plan_warm_start(
      config, v1.model_variables(), ema=graph.moving_average)
  for line in report.summary(max_names=20).splitlines():
    logging.info('%s', line)
  return None, init_fn, report


def _saver_hook(config, saver, all_finite):
  if config.save_interval_steps:
    timing = dict(save_steps=config.save_interval_steps)
  else:
    timing = dict(save_secs=config.save_interval_secs)
  return v1.train.CheckpointSaverHook(
      config.train_dir, saver=saver,
      listeners=[hooks_lib.FiniteStateListener(all_finite)], **timing)


def run_training(config, graph, master='', is_chief=True, hooks=(),
                 chief_only_hooks=(), session_config_proto=None,
                 stop_grace_period_secs=120, sharded_saver=False):
  """Runs the training loop on a built graph (in the current default graph).

  Args:
    config: the validated `TrainConfig`.
    graph: the `model.TrainGraph` built in the default graph.
    master: the TensorFlow master ('' for in-process, or `server.target`).
    is_chief: whether this worker initialises, warm-starts, saves
      checkpoints and summaries.
    hooks: more `SessionRunHook`s for every worker (e.g. SyncReplicas').
    chief_only_hooks: more hooks for the chief only.
    session_config_proto: a `ConfigProto`; default `session_config(config)`.
    stop_grace_period_secs: how long to wait for threads when stopping
      (keep it short: SyncReplicasOptimizer's queue runner never
      stops by itself).
    sharded_saver: write one checkpoint shard per device (parameter servers).

  Returns:
    A `TrainResult`.

  Raises:
    TrainingDivergedError: the loss or the variables became NaN/Inf; the
      message names the last good checkpoint.
    CheckpointMismatchError: the warm-start or resume checkpoint does not fit.
  """
  saver = DirectorySaver(
      config.train_dir, checkpoints.slim_named_variables(v1.global_variables()),
      max_to_keep=config.max_checkpoints_to_keep, sharded=sharded_saver)
  all_finite = hooks_lib.all_finite_op(v1.global_variables())
  resumed_from, init_fn, report = _plan_start(config, graph, is_chief)
  _log_batch_norm_warning(config, report, resumed_from)
  progress, all_hooks = _hooks(config, graph, saver, all_finite, is_chief,
                               hooks, chief_only_hooks)
  scaffold = v1.train.Scaffold(
      saver=saver,
      init_fn=(lambda _, session: init_fn(session)) if init_fn else None)
  started = time.time()
  try:
    with _restoring_session(
        resumed_from, config, master, is_chief, scaffold, all_hooks,
        session_config_proto or session_config(config),
        stop_grace_period_secs) as session:
      steps = _run_steps(session, graph, config, progress)
  except errors.TrainingDivergedError as e:
    raise _diverged(config, e, is_chief) from None
  ended = time.time()
  return TrainResult(
      start_step=progress.start_step or 0,
      global_step=progress.final_step or 0,
      num_steps=steps.num_steps,
      first_losses=steps.first_losses,
      last_losses=list(steps.last_losses),
      checkpoint=checkpoints.latest_checkpoint(config.train_dir),
      resumed_from=resumed_from,
      restore_report=report,
      wall_time_secs=ended - started,
      images_per_sec=steps.images_per_sec(graph.examples_per_step))


def _hooks(config, graph, saver, all_finite, is_chief, hooks,
           chief_only_hooks):
  """(the progress hook, every hook of this worker, in running order)."""
  progress = hooks_lib.ProgressHook(
      graph.train_tensor, graph.learning_rate, graph.global_step,
      graph.examples_per_step, every_n_steps=config.log_every_n_steps,
      last_step=config.max_number_of_steps)
  # The loss guard runs before the checkpoint hook: a step with a NaN/Inf
  # loss stops the run before its state can be saved.
  all_hooks = [hooks_lib.LossGuardHook(
      graph.train_tensor, graph.global_step,
      divergence_factor=config.divergence_factor), progress]
  if config.max_number_of_steps is not None:
    all_hooks.append(v1.train.StopAtStepHook(
        last_step=config.max_number_of_steps))
  all_hooks += list(hooks)
  if is_chief:
    all_hooks.append(_saver_hook(config, saver, all_finite))
    all_hooks += list(chief_only_hooks)
  return progress, all_hooks


@dataclasses.dataclass
class _Steps:
  """The steps this process ran: their losses and when the first and the
  last ended."""
  num_steps: int = 0
  first_losses: List[float] = dataclasses.field(default_factory=list)
  last_losses: collections.deque = dataclasses.field(
      default_factory=lambda: collections.deque(maxlen=KEPT_LOSSES))
  first_step_done: Optional[float] = None
  last_step_done: Optional[float] = None

  def record(self, loss):
    self.last_step_done = time.time()
    self.first_step_done = self.first_step_done or self.last_step_done
    self.num_steps += 1
    self.last_losses.append(loss)
    if len(self.first_losses) < KEPT_LOSSES:
      self.first_losses.append(loss)

  def images_per_sec(self, examples_per_step):
    """From the end of the first step to the end of the last, or None."""
    if self.num_steps > 1 and self.last_step_done > self.first_step_done:
      return ((self.num_steps - 1) * examples_per_step /
              (self.last_step_done - self.first_step_done))
    return None


def _run_steps(session, graph, config, progress):
  """Runs training steps until the session stops; returns the `_Steps`."""
  steps = _Steps()
  # A run resumed (or a worker joining) at its last step has no step left:
  # StopAtStepHook only checks after a step.
  finished = (config.max_number_of_steps is not None and
              progress.start_step >= config.max_number_of_steps)
  while not finished and not session.should_stop():
    steps.record(float(session.run(graph.train_tensor)))
  return steps


def _restoring_session(resumed_from, *args):
  """`_monitored_session(*args)`; a resume checkpoint whose data cannot be
  read (the session restores it) becomes a `NotACheckpointError`."""
  try:
    return _monitored_session(*args)
  except tf.errors.DataLossError as e:
    if not resumed_from:
      raise
    raise checkpoints.NotACheckpointError(
        resumed_from, checkpoints.op_error_detail(e), _RESUME_ADVICE) from None


def _monitored_session(config, master, is_chief, scaffold, hooks,
                       config_proto, stop_grace_period_secs):
  """The chief's MonitoredTrainingSession, or a non-chief worker's session.

  A non-chief worker gets the same session MonitoredTrainingSession would
  give it, except that it polls for the chief's initialisation every second
  instead of every 30 s.
  """
  if not is_chief:
    return v1.train.MonitoredSession(
        session_creator=replicas.PollingWorkerSessionCreator(
            scaffold, master, config_proto, recovery_wait_secs=1.0),
        hooks=hooks, stop_grace_period_secs=stop_grace_period_secs)
  return v1.train.MonitoredTrainingSession(
      master=master, is_chief=True, checkpoint_dir=config.train_dir,
      scaffold=scaffold, hooks=hooks,
      save_checkpoint_secs=None, save_checkpoint_steps=None,
      save_summaries_secs=config.save_summaries_secs, config=config_proto,
      stop_grace_period_secs=stop_grace_period_secs)


def _diverged(config, error, is_chief):
  """The error to raise, after dropping the checkpoints of bad states."""
  if is_chief:
    good = hooks_lib.roll_back_checkpoints(config.train_dir,
                                           error.first_bad_step)
  else:
    good = checkpoints.latest_checkpoint(config.train_dir)
  where = ('%s (step %s)' % (good, checkpoints.checkpoint_step(good)) if good
           else 'none (the next run starts afresh)')
  return errors.TrainingDivergedError(
      '%s; training stopped. The last good checkpoint is %s. Lower '
      '--learning_rate (now %g), or check the data.' % (
          error, where, config.learning_rate),
      step=error.step, first_bad_step=error.first_bad_step,
      last_good_checkpoint=good)


def train(config, deploy_config=None, optimizer_wrapper=None,
          replicas_to_aggregate=1, **run_kwargs):
  """Builds the training graph of `config` in a new graph and trains.

  Args:
    config: a validated `TrainConfig`.
    deploy_config: `model_deploy.DeploymentConfig` (default one clone).
    optimizer_wrapper: `fn(optimizer) -> optimizer` (e.g. sync replicas).
    replicas_to_aggregate: gradients aggregated per step (sync replicas).
    **run_kwargs: `run_training` keywords (master, is_chief, hooks, ...).

  Returns:
    A `TrainResult`.

  Example:
    result = train(TrainConfig(dataset_name='digits', dataset_dir=d,
                               model_name='simple_cnn', train_dir=t,
                               max_number_of_steps=50).validate())
  """
  with tf.Graph().as_default():
    graph = model.build_train_graph(config, deploy_config=deploy_config,
                                    optimizer_wrapper=optimizer_wrapper,
                                    replicas_to_aggregate=replicas_to_aggregate)
    return run_training(config, graph, **run_kwargs)
