"""Restoring a trained checkpoint for inference (evaluation and export).

On top of `checkpointing`'s plan (shape checks, Slim names for every style, a
one-line error when the checkpoint belongs to another network) this adds what
inference needs: the moving-average (EMA) shadow variables in place of the raw
weights, and the checkpoint's global step.

EMA naming: a shadow is stored as `<slim name>/ExponentialMovingAverage`
(what `tf.train.ExponentialMovingAverage` names it for slim and raw styles;
for keras variables `<keras name>/ExponentialMovingAverage` is accepted too).

    with tf.Graph().as_default():
      logits, _ = model_builder.build_logits(config, images, 10, False)
      with v1.Session() as sess:
        report = restoring.restore(sess, '/tmp/train',
                                   restoring.model_variables(config),
                                   config.model_name,
                                   use_moving_averages=True)
"""
import dataclasses
from typing import Optional

from checkpointing import checkpoints
from nets import nets_factory
from runtime.tf_compat import tf

v1 = tf.compat.v1

EMA_SUFFIX = '/ExponentialMovingAverage'
CheckpointMismatchError = checkpoints.CheckpointMismatchError


def model_variables(model_scope):
  """The global variables of the network under `model_scope`."""
  return [v for v in v1.global_variables()
          if v.op.name.startswith(model_scope + '/')]


@dataclasses.dataclass
class InferenceRestore:
  """What `plan` decided: `var_map` is {checkpoint key: variable}."""
  checkpoint: str
  var_map: dict
  report: checkpoints.RestoreReport
  step: Optional[int]
  from_moving_averages: int = 0
  raw_without_average: tuple = ()

  def summary(self):
    lines = [self.report.summary()]
    if self.from_moving_averages:
      lines.append('  %d variables from their moving averages%s' % (
          self.from_moving_averages,
          '; raw values for %d without one (e.g. %s)' % (
              len(self.raw_without_average), self.raw_without_average[0])
          if self.raw_without_average else ''))
    return '\n'.join(lines)


def _shadow_key(variable, shapes):
  for name in (checkpoints.slim_name(variable), variable.op.name):
    if name + EMA_SUFFIX in shapes:
      return name + EMA_SUFFIX
  return None


def _ema_map(checkpoint, shapes, var_map, trainable):
  """Swaps raw keys for EMA shadow keys; raw kept for non-trainable
  variables (batch-norm statistics) that have no shadow."""
  if not any(n.endswith(EMA_SUFFIX) for n in shapes):
    raise CheckpointMismatchError(
        'checkpoint %s has no moving averages (no *%s variables); evaluate '
        'without --moving_average_decay' % (checkpoint, EMA_SUFFIX))
  ema_map, raw, missing = {}, [], []
  for key, variable in var_map.items():
    shadow = _shadow_key(variable, shapes)
    if shadow is not None:
      ema_map[shadow] = variable
    elif variable.ref() in trainable:
      missing.append(key)
    else:
      ema_map[key] = variable
      raw.append(key)
  if missing:
    raise CheckpointMismatchError(
        'checkpoint %s has no moving average for %d trainable variables '
        '(e.g. %s)' % (checkpoint, len(missing), ', '.join(missing[:3])))
  return ema_map, tuple(sorted(raw))


def plan(checkpoint_path, variables, model_name, use_moving_averages=False):
  """Matches model variables to a checkpoint; restores nothing.

  Args:
    checkpoint_path: a checkpoint prefix or a directory (its latest).
    variables: the model's variables (any style).
    model_name: the network's name, for messages.
    use_moving_averages: take each variable's EMA shadow.

  Returns:
    An `InferenceRestore`.

  Raises:
    CheckpointMismatchError: no checkpoint, another network's checkpoint,
      missing or wrong-shaped variables, missing moving averages.

  Example:
    restore = plan('/tmp/train', model_variables('simple_cnn'), 'simple_cnn')
  """
  var_map, report = checkpoints.plan_restore(
      checkpoint_path, variables, model_name=model_name,
      known_model_names=nets_factory.networks_map)
  checkpoint = report.checkpoint
  restore = InferenceRestore(checkpoint, var_map, report,
                             checkpoints.global_step_of(checkpoint))
  if use_moving_averages:
    shapes = checkpoints.load_reader(checkpoint).get_variable_to_shape_map()
    trainable = {v.ref() for v in v1.trainable_variables()}
    restore.var_map, restore.raw_without_average = _ema_map(
        checkpoint, shapes, var_map, trainable)
    restore.from_moving_averages = (len(restore.var_map) -
                                    len(restore.raw_without_average))
  return restore


def restore(session, checkpoint_path, variables, model_name,
            use_moving_averages=False):
  """Plans (see `plan`) and restores; returns the `InferenceRestore`."""
  planned = plan(checkpoint_path, variables, model_name, use_moving_averages)
  saver_for(planned).restore(session, planned.checkpoint)
  return planned


def saver_for(planned):
  """A `Saver` restoring `planned.var_map` (no reshaping)."""
  return v1.train.Saver(planned.var_map, reshape=False)
