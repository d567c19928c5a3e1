"""The seven Slim optimizers, built from their Slim hyper-parameter flags.

The optimizer is built on its own (not inside the train op), so a caller can
wrap it, e.g. in `SyncReplicasOptimizer`, before gradients are applied.

    optimizer = build_optimizer(config, learning_rate)
"""
OPTIMIZER_NAMES = ('adadelta', 'adagrad', 'adam', 'ftrl', 'momentum',
                   'rmsprop', 'sgd')


def build_optimizer(config, learning_rate):
  """A `tf.compat.v1.train.Optimizer` for `config.optimizer`.

  Args:
    config: a `TrainConfig` (optimizer and its hyper-parameters: adadelta_rho,
      adagrad_initial_accumulator_value, adam_beta1, adam_beta2, opt_epsilon,
      ftrl_learning_rate_power, ftrl_initial_accumulator_value, ftrl_l1,
      ftrl_l2, momentum, rmsprop_momentum, rmsprop_decay).
    learning_rate: a float or scalar tensor.

  Returns:
    The optimizer.

  Raises:
    ValueError: unknown optimizer name (listing the valid ones).
  """
  # TensorFlow loads here, not at import: the scripts check flags first.
  from runtime.tf_compat import v1  # pylint: disable=g-import-not-at-top
  name = config.optimizer
  if name == 'adadelta':
    return v1.train.AdadeltaOptimizer(learning_rate, rho=config.adadelta_rho,
                                      epsilon=config.opt_epsilon)
  if name == 'adagrad':
    return v1.train.AdagradOptimizer(
        learning_rate,
        initial_accumulator_value=config.adagrad_initial_accumulator_value)
  if name == 'adam':
    return v1.train.AdamOptimizer(learning_rate, beta1=config.adam_beta1,
                                  beta2=config.adam_beta2,
                                  epsilon=config.opt_epsilon)
  if name == 'ftrl':
    return v1.train.FtrlOptimizer(
        learning_rate, learning_rate_power=config.ftrl_learning_rate_power,
        initial_accumulator_value=config.ftrl_initial_accumulator_value,
        l1_regularization_strength=config.ftrl_l1,
        l2_regularization_strength=config.ftrl_l2)
  if name == 'momentum':
    return v1.train.MomentumOptimizer(learning_rate, momentum=config.momentum,
                                      name='Momentum')
  if name == 'rmsprop':
    return v1.train.RMSPropOptimizer(learning_rate, decay=config.rmsprop_decay,
                                     momentum=config.rmsprop_momentum,
                                     epsilon=config.opt_epsilon)
  if name == 'sgd':
    return v1.train.GradientDescentOptimizer(learning_rate)
  raise ValueError('unknown optimizer %r; valid optimizers: %s' %
                   (name, ', '.join(OPTIMIZER_NAMES)))
