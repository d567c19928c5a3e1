"""Session hooks of the training loop: progress log and NaN guards.

* `ProgressHook` logs step, loss, learning rate, images/s and (when the run
  has a step limit) the ETA every N steps.
* `LossGuardHook` stops the run when the loss is NaN or Inf, before the
  checkpoint hook of that step can save; `FiniteStateListener` refuses to
  write a checkpoint whose variables hold NaN or Inf. With
  `roll_back_checkpoints` this leaves the last good checkpoint newest.
* `StopRequestHook` ends the run cleanly when an event is set (SIGTERM).
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

from nets.tf_compat import tf, v1
from training import errors
from training import scopes


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


class LossGuardHook(v1.train.SessionRunHook):
  """Raises `TrainingDivergedError` when a step's loss is NaN or Inf.

  Place it before the checkpoint hook: its `after_run` then stops the run
  before that step's state is saved. The loss of step k is computed from the
  weights of step k - 1, so checkpoints from step k - 1 on are bad
  (`first_bad_step`).
  """

  def __init__(self, loss, global_step):
    self._loss = loss
    self._global_step = global_step

  def before_run(self, run_context):
    del run_context
    return v1.train.SessionRunArgs(self._loss)

  def after_run(self, run_context, run_values):
    loss = run_values.results
    if np.isfinite(loss):
      return
    step = int(run_context.session.run(self._global_step))
    raise errors.TrainingDivergedError(
        'the loss is %s at step %d' % (loss, step), step=step,
        first_bad_step=step - 1)


def roll_back_checkpoints(checkpoint_dir, first_bad_step):
  """Removes the checkpoints of `first_bad_step` and later; returns the
  newest one left (now the directory's latest), or None."""
  state = tf.train.get_checkpoint_state(checkpoint_dir)
  if state is None:
    return None
  paths = list(state.all_model_checkpoint_paths) or [
      state.model_checkpoint_path]
  good = [p for p in paths
          if (scopes.checkpoint_step(p) or 0) < first_bad_step]
  for path in paths:
    if path not in good:
      v1.train.remove_checkpoint(path)
      logging.warning('removed %s: its weights give a NaN/Inf loss', path)
  if good:
    v1.train.update_checkpoint_state(checkpoint_dir, good[-1],
                                     all_model_checkpoint_paths=good)
    return good[-1]
  tf.io.gfile.remove(os.path.join(checkpoint_dir, 'checkpoint'))
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
