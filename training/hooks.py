"""Session hooks of the training loop: progress log and divergence guards.

* `ProgressHook` logs step, loss, learning rate, images/s and (when the run
  has a step limit) the ETA every N steps.
* `LossGuardHook` stops the run when the loss is NaN or Inf, or stays far
  above its first value for several steps (a finite divergence), before the
  checkpoint hook of that step can save; `FiniteStateListener` refuses to
  write a checkpoint whose variables hold NaN or Inf. With
  `roll_back_checkpoints` this leaves the last good checkpoint newest.
* `StopRequestHook` ends the run cleanly when an event is set (SIGTERM).
* `LastStepHook` stops a worker of a cluster once the shared global step
  reaches the last step, reading it fresh after every step.
* `batch_norm_decay_warning` says when a run is too short for the moving
  averages of batch norm to forget their initial values.

    hooks = [ProgressHook(graph.train_tensor, graph.learning_rate,
                          graph.global_step, examples_per_step=32,
                          every_n_steps=10, last_step=1000)]
"""
import datetime
import math
import os
import time

from absl import logging
import numpy as np

from checkpointing import checkpoints
from runtime.tf_compat import tf, v1
from training import errors


def _format_eta(seconds):
  return str(datetime.timedelta(seconds=int(round(seconds))))


class ProgressHook(v1.train.SessionRunHook):
  """Logs `step N/M  loss  lr  images/s  ETA` every `every_n_steps` runs."""

  def __init__(self, loss, learning_rate, global_step, examples_per_step,
               every_n_steps=10, last_step=None, log_fn=None):
    self._loss = loss
    self._learning_rate = learning_rate
    self._global_step = global_step
    self._examples_per_step = examples_per_step
    self._every_n_steps = every_n_steps
    self._last_step = last_step
    self._log_fn = log_fn or logging.info
    self.start_step = None
    self.final_step = None
    self._runs = 0
    self._mark = None  # (time, global step, runs) at the last log line.

  def after_create_session(self, session, coord):
    del coord
    self.start_step = int(session.run(self._global_step))
    self.final_step = self.start_step

  def before_run(self, run_context):
    del run_context
    self._runs += 1
    if self._runs == 1 or self._runs % self._every_n_steps == 0:
      return v1.train.SessionRunArgs([self._loss, self._learning_rate])
    return None

  def after_run(self, run_context, run_values):
    if run_values.results is None:
      return
    loss, learning_rate = run_values.results
    step = int(run_context.session.run(self._global_step))
    self.final_step = step
    now = time.time()
    if self._mark is None:  # The first step builds kernels: not timed.
      self._mark = (now, step, self._runs)
      self._log_fn('step %d: loss %.4f, learning rate %.4g' %
                   (step, loss, learning_rate))
      return
    mark_time, mark_step, mark_runs = self._mark
    elapsed = max(now - mark_time, 1e-9)
    images_per_sec = ((self._runs - mark_runs) * self._examples_per_step /
                      elapsed)
    line = 'step %d%s: loss %.4f, learning rate %.4g, %.1f images/s' % (
        step, '/%d' % self._last_step if self._last_step else '', loss,
        learning_rate, images_per_sec)
    steps_per_sec = (step - mark_step) / elapsed
    if self._last_step and steps_per_sec > 0:
      line += ', ETA %s' % _format_eta(
          max(0, self._last_step - step) / steps_per_sec)
    self._log_fn(line)
    self._mark = (now, step, self._runs)

  def end(self, session):
    self.final_step = int(session.run(self._global_step))


def all_finite_op(variables):
  """A bool tensor: every float variable of `variables` is finite."""
  checks = [tf.reduce_all(tf.math.is_finite(v)) for v in variables
            if v.dtype.base_dtype.is_floating]
  if not checks:
    return tf.constant(True)
  return tf.reduce_all(tf.stack(checks), name='all_variables_finite')


class FiniteStateListener(v1.train.CheckpointSaverListener):
  """Stops the run instead of saving variables that hold NaN or Inf."""

  def __init__(self, all_finite):
    self._all_finite = all_finite

  def before_save(self, session, global_step_value):
    if not session.run(self._all_finite):
      raise errors.TrainingDivergedError(
          'the model\'s variables hold NaN or Inf at step %d' %
          global_step_value, step=global_step_value,
          first_bad_step=global_step_value)


# Steps in a row the loss must stay above `divergence_factor` times its first
# value before the run is stopped: one bad batch is not a divergence.
DIVERGENCE_STEPS = 10


class LossGuardHook(v1.train.SessionRunHook):
  """Raises `TrainingDivergedError` when the loss diverges.

  Two guards: a NaN or Inf loss stops the run at once; a finite loss above
  `divergence_factor` times the loss of this run's first step for
  `divergence_steps` steps in a row stops it too (a learning rate far too
  high can take the loss from 2.9 to 8e15 without ever overflowing).

  Place it before the checkpoint hook: its `after_run` then stops the run
  before that step's state is saved. The loss of step k is computed from the
  weights of step k - 1, so checkpoints from step k - 1 on are bad
  (`first_bad_step`; for a finite divergence, k is the first step of the
  run of high losses).

    LossGuardHook(graph.train_tensor, graph.global_step, divergence_factor=100)
  """

  def __init__(self, loss, global_step, divergence_factor=None,
               divergence_steps=DIVERGENCE_STEPS):
    self._loss = loss
    self._global_step = global_step
    self._factor = divergence_factor or None
    self._divergence_steps = divergence_steps
    self._first = None  # (step, loss) of this run's first step.
    self._high_since = None  # First step of the current run of high losses.
    self._high_count = 0

  def before_run(self, run_context):
    del run_context
    return v1.train.SessionRunArgs(self._loss)

  def after_run(self, run_context, run_values):
    loss = run_values.results
    read_step = lambda: int(run_context.session.run(self._global_step))
    if not np.isfinite(loss):
      step = read_step()
      raise errors.TrainingDivergedError(
          'the loss is %s at step %d' % (loss, step), step=step,
          first_bad_step=step - 1)
    if self._factor is None:
      return
    if self._first is None:
      self._first = (read_step(), float(loss))
      return
    first_step, first_loss = self._first
    if first_loss <= 0 or loss <= self._factor * first_loss:
      self._high_since, self._high_count = None, 0
      return
    step = read_step()
    self._high_count += 1
    if self._high_since is None:
      self._high_since = step
    if self._high_count >= self._divergence_steps:
      raise errors.TrainingDivergedError(
          'the loss diverged: %.4g at step %d, above %g times its first value '
          '(%.4g at step %d) for %d steps in a row (--divergence_factor=%g; 0 '
          'turns this check off)' % (
              loss, step, self._factor, first_loss, first_step,
              self._high_count, self._factor),
          step=step, first_bad_step=self._high_since - 1)


def roll_back_checkpoints(checkpoint_dir, first_bad_step):
  """Removes the checkpoints of `first_bad_step` and later; returns the
  newest one left (now the directory's latest), or None.

  Only checkpoints inside `checkpoint_dir` are considered (its state file is
  resolved by `checkpoints.directory_state`), so nothing outside is removed.
  """
  state = checkpoints.directory_state(checkpoint_dir)
  if state.latest is None:
    return None
  good = [p for p in state.all_paths
          if (checkpoints.checkpoint_step(p) or 0) < first_bad_step]
  for path in state.all_paths:
    if path not in good:
      v1.train.remove_checkpoint(path)
      logging.warning('removed %s: its weights are those of step %d or '
                      'later, where the loss diverged', path, first_bad_step)
  if good:
    state.all_paths, state.latest = good, good[-1]
    checkpoints.write_directory_state(state)
    return good[-1]
  tf.io.gfile.remove(os.path.join(checkpoint_dir, checkpoints.STATE_FILE))
  return None


def batch_norm_decay_warning(decay, num_steps, tolerance=0.05):
  """A warning if `num_steps` is too few for batch norm's moving averages.

  After n steps the moving statistics still hold decay**n of their initial
  values (mean 0, variance 1), and they lag the weights by about
  1 / (1 - decay) steps; evaluation uses them, training does not.

  Returns:
    The warning text, or None when decay**num_steps <= tolerance.

  Example:
    batch_norm_decay_warning(0.997, 500)   # '... still 22% ...'
  """
  if not num_steps or decay is None:
    return None
  left = decay ** num_steps
  if left <= tolerance:
    return None
  needed = int(math.ceil(math.log(tolerance) / math.log(decay)))
  suggested = min(0.99, max(0.5, round(1.0 - 3.0 / num_steps, 2)))
  return (
      '--batch_norm_decay=%g averages batch statistics over ~%d steps, but the '
      'run has %d: the moving mean/variance that evaluation (inference mode) '
      'uses will still be %.0f%% their initial values and lag the weights. '
      'Train >= %d steps or pass --batch_norm_decay=%g.' %
      (decay, round(1.0 / (1.0 - decay)), num_steps, 100 * left, needed,
       suggested))


class StopRequestHook(v1.train.SessionRunHook):
  """Stops the run after the step during which `event` was set.

  The script sets the event on SIGTERM (`shutdown.graceful_sigterm`), so a
  stopped job ends as a finished one does: the chief writes its final
  checkpoint. `started`, if given, is set once the session exists.
  """

  def __init__(self, event, started=None):
    self._event = event
    self._started = started

  def after_create_session(self, session, coord):
    del session, coord
    if self._started is not None:
      self._started.set()

  def after_run(self, run_context, run_values):
    del run_values
    if self._event.is_set():
      run_context.request_stop()


class LastStepHook(v1.train.SessionRunHook):
  """Stops when the global step, read after each step, reaches `last_step`.

  `StopAtStepHook` looks at the fresh global step only when the value read
  during the step (before that step's increment) is one short of the last
  step. With asynchronous workers sharing the step, other workers' updates
  land in between, so each worker could miss the last step and run one
  more: 200 steps ended at 202 with two workers. Reading the step after
  every step bounds the final step by `last_step + num_workers - 1` (each
  worker has at most one step in flight once another worker's update
  reaches it); exactly `last_step` would need the check and the update to be
  one atomic operation on the parameter server.

    LastStepHook(graph.global_step, last_step=config.max_number_of_steps)
  """

  def __init__(self, global_step, last_step):
    self._global_step = global_step
    self._last_step = last_step

  def after_run(self, run_context, run_values):
    del run_values
    if int(run_context.session.run(self._global_step)) >= self._last_step:
      run_context.request_stop()
