"""The training graph: input pipeline, network, loss and the train op.

Structured as Slim's trainer, on `deployment.model_deploy`: the model is built
once per clone (one clone by default), the loss is softmax cross-entropy with
label smoothing plus the regularization losses, `UPDATE_OPS` (batch norm
statistics) and the optional moving averages run with every step, and the
optimizer is built on its own and may be wrapped (e.g. SyncReplicasOptimizer)
before its gradients are applied.

    with tf.Graph().as_default():
      graph = build_train_graph(config)
      # graph.train_tensor: run it to take one step; it returns the loss.
"""
import dataclasses
from typing import Any, Callable, List, Optional

from absl import logging

from checkpointing import checkpoints
from datasets import pipeline
from deployment import model_deploy
from modeling import model_builder
from runtime.tf_compat import tf, v1
from training import learning_rate as learning_rate_lib
from training import optimizers
from training import scopes


@dataclasses.dataclass
class TrainGraph:
  """The tensors and objects of a built training graph.

  Attributes:
    global_step: the global step variable.
    train_tensor: runs one step (gradients, UPDATE_OPS, moving averages) and
      returns the total loss of the step.
    total_loss: cross-entropy + regularization (summed over clones).
    learning_rate: the learning-rate tensor.
    accuracy: accuracy on the first clone's batch (training mode).
    optimizer: the optimizer whose gradients are applied (wrapped if asked).
    variables_to_train: the variables the optimizer updates.
    moving_average: the `ExponentialMovingAverage`, or None.
    clones: `model_deploy.Clone`s; outputs are (logits, end_points, labels).
    dataset: the `DatasetSplit` trained on.
    num_classes: logits size (dataset classes - labels_offset).
    image_size: training image size.
    examples_per_step: batch_size x clones (per worker).
  """
  global_step: Any
  train_tensor: Any
  total_loss: Any
  learning_rate: Any
  accuracy: Any
  optimizer: Any
  variables_to_train: List[Any]
  moving_average: Optional[Any]
  clones: List[Any]
  dataset: Any
  num_classes: int
  image_size: int
  examples_per_step: int


def _make_iterator(config, model_config, dataset, image_size, deploy_config):
  preprocess = model_builder.preprocessing_fn(model_config, True, dataset.name)
  shards = {}
  if deploy_config.num_replicas > 1:
    shards = dict(num_shards=deploy_config.num_replicas,
                  shard_index=deploy_config.replica_id)
  ds = pipeline.make_dataset(
      dataset, config.batch_size, preprocess, image_size, is_training=True,
      seed=config.random_seed, cycle_length=config.num_readers,
      num_parallel_calls=config.num_preprocessing_threads, **shards)
  return v1.data.make_one_shot_iterator(ds)


def _model_fn(config, model_config, iterator, image_size, num_classes,
              inputs_device):
  """One clone: next batch -> network -> loss (added to v1.losses)."""

  def model_fn():
    with v1.device(inputs_device):
      images, labels = iterator.get_next()
    images.set_shape([config.batch_size, image_size, image_size, None])
    labels.set_shape([config.batch_size])
    labels = labels - config.labels_offset
    in_range = tf.reduce_all((labels >= 0) & (labels < num_classes))
    check = tf.debugging.Assert(in_range, [
        'label outside [0, num_classes) after --labels_offset; labels:',
        labels], name='check_labels')
    with tf.control_dependencies([check]):
      labels = tf.identity(labels)
    logits, end_points = model_builder.build_logits(model_config, images,
                                                    num_classes, True)
    v1.losses.softmax_cross_entropy(
        tf.one_hot(labels, num_classes), logits,
        label_smoothing=config.label_smoothing, weights=1.0)
    return logits, end_points, labels

  return model_fn


def _add_summaries(config, clone, total_loss, learning_rate):
  logits, end_points, labels = clone.outputs
  for loss in v1.losses.get_losses(clone.scope or None):
    v1.summary.scalar('losses/%s' % loss.op.name, loss)
  regularization = v1.losses.get_regularization_losses()
  if regularization:
    v1.summary.scalar('losses/regularization_loss',
                      tf.add_n(regularization, name='regularization_loss'))
  v1.summary.scalar('total_loss', total_loss)
  v1.summary.scalar('learning_rate', learning_rate)
  accuracy = tf.reduce_mean(tf.cast(tf.equal(
      tf.argmax(logits, -1, output_type=labels.dtype), labels), tf.float32),
                            name='batch_accuracy')
  v1.summary.scalar('train/accuracy', accuracy)
  if config.summarize_histograms:
    for name, activation in sorted(end_points.items()):
      v1.summary.histogram('activations/' + name, activation)
      v1.summary.scalar('sparsity/' + name, tf.nn.zero_fraction(activation))
    for variable in v1.model_variables():
      v1.summary.histogram(checkpoints.slim_name(variable), variable)
  return accuracy


def build_train_graph(config,
                      deploy_config=None,
                      optimizer_wrapper: Optional[Callable] = None,
                      replicas_to_aggregate=1):
  """Builds the training graph of `config` in the default graph.

  Args:
    config: a validated `TrainConfig`.
    deploy_config: a `model_deploy.DeploymentConfig` (clones, replicas, ps
      tasks); default: one clone, local variables.
    optimizer_wrapper: `fn(optimizer, moving_average) -> optimizer`, e.g. to
      wrap it in `SyncReplicasOptimizer`; applied before gradients are
      computed. `moving_average` is the `ExponentialMovingAverage` or None;
      a `SyncReplicasOptimizer` returned applies it itself (once per
      aggregated update, on the chief, as in Slim).
    replicas_to_aggregate: gradients per global step (sync replicas), which
      shortens the decay period in steps as Slim does.

  Returns:
    A `TrainGraph`.

  Raises:
    DatasetError: the data is missing or unreadable.
    ConfigError: a trainable scope matches no variable.

  Example:
    with tf.Graph().as_default():
      graph = build_train_graph(config)
  """
  deploy = deploy_config or model_deploy.DeploymentConfig()
  if config.random_seed is not None:
    v1.set_random_seed(config.random_seed)
  with v1.device(deploy.variables_device()):
    global_step = v1.train.get_or_create_global_step()
  inputs = _build_clones(config, deploy)
  update_ops = _update_ops(config, inputs.clones)
  variables_to_train = scopes.variables_to_train(config.trainable_scopes)
  moving_average, learning_rate, optimizer = _build_optimizer(
      config, deploy, inputs.dataset.num_samples, global_step,
      replicas_to_aggregate, optimizer_wrapper)
  total_loss, train_tensor = _build_train_tensor(
      deploy, inputs.clones, optimizer, variables_to_train, global_step,
      update_ops, moving_average)
  accuracy = _add_summaries(config, inputs.clones[0], total_loss,
                            learning_rate)
  return TrainGraph(
      global_step=global_step, train_tensor=train_tensor,
      total_loss=total_loss, learning_rate=learning_rate, accuracy=accuracy,
      optimizer=optimizer, variables_to_train=variables_to_train,
      moving_average=moving_average, clones=inputs.clones,
      dataset=inputs.dataset, num_classes=inputs.num_classes,
      image_size=inputs.image_size,
      examples_per_step=config.batch_size * deploy.num_clones)


@dataclasses.dataclass
class _Clones:
  """The data and the network clones built on it."""
  dataset: Any
  num_classes: int
  image_size: int
  clones: List[Any]


def _build_clones(config, deploy):
  """The input pipeline, then one network (with its loss) per clone."""
  dataset = config.dataset()
  model_config = config.model_config()
  num_classes = model_config.num_logits(dataset.num_classes)
  image_size = model_builder.image_size(model_config)
  logging.info(
      'Training %s (%s layers) on %s/%s: %d examples, %d classes, images '
      '%dx%d, preprocessing %s, batch %d x %d clone(s)', config.model_name,
      config.layer_style, dataset.name, dataset.split_name,
      dataset.num_samples, num_classes, image_size, image_size,
      config.effective_preprocessing_name, config.batch_size,
      deploy.num_clones)
  with v1.device(deploy.inputs_device()):
    iterator = _make_iterator(config, model_config, dataset, image_size,
                              deploy)
  model_fn = _model_fn(config, model_config, iterator, image_size,
                       num_classes, deploy.inputs_device())
  return _Clones(dataset, num_classes, image_size,
                 model_deploy.create_clones(deploy, model_fn))


def _update_ops(config, clones):
  """The clones' `UPDATE_OPS` (batch norm statistics) this run runs."""
  update_ops = model_deploy.clone_update_ops(clones)
  if config.trainable_scopes and not config.update_frozen_batch_norm:
    # Frozen layers keep their restored statistics too.
    update_ops = scopes.update_ops_in_scopes(update_ops,
                                             config.trainable_scopes)
  return update_ops


def _build_optimizer(config, deploy, num_samples, global_step,
                     replicas_to_aggregate, optimizer_wrapper):
  """(moving_average or None, learning_rate, optimizer), the optimizer
  wrapped by `optimizer_wrapper` if given."""
  moving_average = None
  if config.moving_average_decay:
    with v1.device(deploy.variables_device()):
      moving_average = v1.train.ExponentialMovingAverage(
          config.moving_average_decay, global_step)
  with v1.device(deploy.optimizer_device()):
    learning_rate = learning_rate_lib.build_learning_rate(
        config, num_samples, global_step, replicas_to_aggregate)
    optimizer = optimizers.build_optimizer(config, learning_rate)
    if optimizer_wrapper is not None:
      optimizer = optimizer_wrapper(optimizer, moving_average)
  return moving_average, learning_rate, optimizer


def _build_train_tensor(deploy, clones, optimizer, variables_to_train,
                        global_step, update_ops, moving_average):
  """(total_loss, train_tensor): the gradients applied, then the update ops
  and the moving averages; the train tensor returns the loss."""
  total_loss, grads_and_vars = model_deploy.optimize_clones(
      clones, optimizer, var_list=variables_to_train)
  with v1.device(deploy.optimizer_device()):
    apply_op = optimizer.apply_gradients(grads_and_vars,
                                         global_step=global_step)
  if moving_average is not None and not isinstance(
      optimizer, v1.train.SyncReplicasOptimizer):
    # A SyncReplicasOptimizer applies the averages itself (on the chief).
    with tf.control_dependencies([apply_op]):
      update_ops.append(moving_average.apply(v1.model_variables()))
  update_op = tf.group(apply_op, *update_ops, name='update_barrier')
  with tf.control_dependencies([update_op]):
    train_tensor = tf.identity(total_loss, name='train_op')
  return total_loss, train_tensor
