"""Fine-tuning: warm-start the model from a checkpoint, with a report.

Used only when `train_dir` holds no checkpoint (a restart resumes instead).
Matching, shape checks and the report come from `checkpointing.checkpoints`; this
module adds what a training run needs: the checkpoint's model scope mapped
onto ours (`resnet_v1_50` -> `se_resnet_v1_50`), SE blocks left fresh when
the checkpoint is a plain ResNet, and moving averages (EMA) started at the
restored values instead of the random initial ones.

    init_fn, report = plan_warm_start(config, v1.model_variables())
    scaffold = v1.train.Scaffold(init_fn=lambda _, sess: init_fn(sess))
"""
from absl import logging

from checkpointing import checkpoints
from nets import nets_factory
from runtime.tf_compat import tf, v1


def plan_warm_start(config, variables, ema=None):
  """Plans the restore from `config.checkpoint_path`; restores nothing yet.

  Args:
    config: a `TrainConfig` (checkpoint_path, checkpoint_model_scope,
      checkpoint_exclude_scopes, ignore_missing_vars, model_name).
    variables: the graph variables to warm-start (the model variables).
    ema: the run's `ExponentialMovingAverage`, or None; its averages of the
      restored variables are set to the restored values.

  Returns:
    (init_fn(session), RestoreReport). Build-time only: call before the
    graph is finalized.

  Raises:
    CheckpointMismatchError: what does not fit and what to pass.
  """
  checkpoint = checkpoints.resolve_checkpoint(config.checkpoint_path)
  fresh_scopes = checkpoints.se_fresh_scopes(
      nets_factory.is_se_network(config.model_name),
      checkpoints.load_reader(checkpoint).get_variable_to_shape_map())
  checkpoint_model_scope, model_scope = _scope_map(config)
  restore_fn, report = checkpoints.warm_start_fn(
      checkpoint, variables,
      checkpoint_model_scope=checkpoint_model_scope, model_scope=model_scope,
      exclude_scopes=list(config.checkpoint_exclude_scopes),
      ignore_missing_vars=config.ignore_missing_vars,
      fresh_scopes=fresh_scopes, suggest_flags=True)
  sync_averages = _sync_averages_op(ema, variables, report, model_scope,
                                    checkpoint_model_scope)

  def init_fn(session):
    restore_fn(session)
    if sync_averages is not None:
      session.run(sync_averages)
    logging.info('Warm-started from %s', checkpoint)

  return init_fn, report


def _scope_map(config):
  """(checkpoint_model_scope, model_scope) of --checkpoint_model_scope, or
  (None, None): names as they are."""
  if not config.checkpoint_model_scope:
    return None, None
  return config.checkpoint_model_scope, config.model_scope


def _sync_averages_op(ema, variables, report, model_scope,
                      checkpoint_model_scope):
  """Assigns each restored variable's moving average its restored value."""
  if ema is None:
    return None
  restored = set(report.restored)
  assigns = []
  for variable in variables:
    key = checkpoints.map_scope(checkpoints.slim_name(variable), model_scope,
                                checkpoint_model_scope)
    average = ema.average(variable)
    if key in restored and average is not None:
      assigns.append(v1.assign(average, variable.read_value()))
  return tf.group(*assigns, name='sync_moving_averages') if assigns else None
