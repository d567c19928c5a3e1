"""Slim's learning-rate schedules: fixed, exponential, polynomial.

The decay period is `num_epochs_per_decay` epochs of `batch_size` examples:
`decay_steps = int(num_samples_per_epoch * num_epochs_per_decay /
batch_size)`, divided by the number of replicas aggregated when training
synchronously (each global step then consumes that many batches).

    lr = build_learning_rate(config, num_samples_per_epoch=1437,
                             global_step=v1.train.get_or_create_global_step())
"""
DECAY_TYPES = ('fixed', 'exponential', 'polynomial')


def decay_steps(num_samples_per_epoch, batch_size, num_epochs_per_decay,
                replicas_to_aggregate=1):
  """Steps per decay period (at least 1).

  Example:
    decay_steps(1437, 32, 2.0)   # 89
  """
  steps = int(num_samples_per_epoch * num_epochs_per_decay / batch_size)
  return max(1, steps // max(1, replicas_to_aggregate))


def build_learning_rate(config, num_samples_per_epoch, global_step,
                        replicas_to_aggregate=1):
  """The learning-rate tensor of `config.learning_rate_decay_type`.

  Args:
    config: a `TrainConfig` (learning_rate, learning_rate_decay_type,
      learning_rate_decay_factor, num_epochs_per_decay, end_learning_rate,
      batch_size).
    num_samples_per_epoch: examples in the training split.
    global_step: the global step tensor.
    replicas_to_aggregate: gradients aggregated per step (sync replicas).

  Returns:
    A scalar float32 tensor.

  Raises:
    ValueError: unknown decay type (listing the valid ones).
  """
  # TensorFlow loads here, not at import: the scripts check flags first.
  from runtime.tf_compat import tf, v1  # pylint: disable=g-import-not-at-top
  kind = config.learning_rate_decay_type
  steps = decay_steps(num_samples_per_epoch, config.batch_size,
                      config.num_epochs_per_decay, replicas_to_aggregate)
  if kind == 'fixed':
    return tf.constant(config.learning_rate, tf.float32,
                       name='fixed_learning_rate')
  if kind == 'exponential':
    return v1.train.exponential_decay(
        config.learning_rate, global_step, steps,
        config.learning_rate_decay_factor, staircase=True,
        name='exponential_decay_learning_rate')
  if kind == 'polynomial':
    return v1.train.polynomial_decay(
        config.learning_rate, global_step, steps, config.end_learning_rate,
        power=1.0, cycle=False, name='polynomial_decay_learning_rate')
  raise ValueError('unknown learning_rate_decay_type %r; valid types: %s' %
                   (kind, ', '.join(DECAY_TYPES)))
