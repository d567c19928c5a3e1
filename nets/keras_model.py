"""Networks as real `tf_keras.Model`s, and Slim checkpoints for them.

The keras layer style, called on a `tf_keras.Input` in eager mode, builds a
functional model from the very network code the graph styles run: each
vocabulary call adds a Keras layer named by its full Slim scope, and the TF
ops between them (padding, the residual addition, ...) become Keras'
op layers. Batch norm is built with `is_training=None`, so it follows Keras'
`training` argument: `model.fit` uses batch statistics and updates the moving
ones, `model.predict` uses the moving ones.

Variables are named like the graph styles' (`<scope>/kernel`, `<scope>/bias`,
`<scope>/BatchNorm/gamma`, ...), i.e. Slim's names up to
`checkpointing.checkpoints.keras_to_slim_name`, so Slim checkpoints load by name with
the same checks and report as in graph mode.

A tf_keras limitation to know: building Keras layers inside a
`tf.Graph().as_default()` (the keras style in graph mode) swaps tf_keras'
layer classes to their v1 bases process-wide, after which an eager model
built *earlier* raises "Your Layer or Model is in an invalid state" when
called. Build (or rebuild) eager models after any graph-mode keras-style
build; the raw and slim styles do not touch Keras.

Example:

    model = nets_factory.get_keras_model('se_resnet_v1_50', num_classes=1000)
    report = keras_model.load_slim_checkpoint(model, 'se_resnet_v1_50.ckpt')
    print(report.summary())
    logits = model.predict(images)
"""
import contextlib

from checkpointing import checkpoints
from nets.layers import keras_style
from runtime.tf_compat import tf, tf_keras

v1 = tf.compat.v1


@contextlib.contextmanager
def _isolated_collections():
  """Leaves the eager default graph's collections as they were.

  In eager mode `tf.compat.v1.add_to_collection` writes into one
  process-wide graph; the network code collects its end points there, so
  without this every build would grow those lists and keep its symbolic
  tensors alive.
  """
  if not tf.executing_eagerly():
    yield
    return
  graph = v1.get_default_graph()
  saved = {key: list(graph.get_collection(key))
           for key in graph.get_all_collection_keys()}
  try:
    yield
  finally:
    for key in graph.get_all_collection_keys():
      graph.get_collection_ref(key)[:] = saved.get(key, [])


def build_model(network_fn, input_shape, batch_size=None, name=None):
  """Calls a keras-style `network_fn` on a `tf_keras.Input`.

  Example:

    network_fn = nets_factory.get_network_fn(
        'se_resnet_v1_50', 1000, is_training=None, style='keras')
    model, end_points = keras_model.build_model(network_fn, (224, 224, 3))
    features = tf_keras.Model(model.input,
                              end_points['se_resnet_v1_50/block4'])

  Args:
    network_fn: from `nets_factory.get_network_fn(..., style='keras')`,
      normally with `is_training=None`.
    input_shape: (height, width, channels).
    batch_size: fixed batch size, or None.
    name: the model's name.

  Returns:
    (model, end_points): a `tf_keras.Model` images -> logits, and the
    network's end points as symbolic Keras tensors of that model.

  Raises:
    ValueError: if `network_fn` is not of the keras style.
  """
  style = getattr(network_fn, 'style', 'keras')
  if style != 'keras':
    raise ValueError('A tf_keras.Model needs a keras-style network_fn, got '
                     'style %r' % style)
  with keras_style.layer_registry(), _isolated_collections():
    images = tf_keras.Input(shape=tuple(input_shape), batch_size=batch_size,
                            name='images')
    logits, end_points = network_fn(images)
  return tf_keras.Model(images, logits, name=name), end_points


def load_slim_checkpoint(model, checkpoint_path, **plan_kwargs):
  """Assigns a Slim-named checkpoint to a model's weights, checking first.

  Names map by `checkpointing.checkpoints.keras_to_slim_name`; nothing is assigned
  unless every weight is found with its shape (or is excluded / fresh as the
  keywords say).

  Example (warm start from Slim's plain ResNet-50):

    model = nets_factory.get_keras_model('se_resnet_v1_50', 1000,
                                         se_fc2_bias_init=5.0)
    report = keras_model.load_slim_checkpoint(
        model, 'resnet_v1_50.ckpt', **checkpoints.resnet_warm_start_options(
            'resnet_v1_50.ckpt', model.weights))

  Args:
    model: a model from `build_model` / `nets_factory.get_keras_model`.
    checkpoint_path: a checkpoint prefix or a directory.
    **plan_kwargs: those of `checkpointing.checkpoints.plan_restore`
      (checkpoint_model_scope, model_scope, exclude_scopes,
      ignore_missing_vars, fresh_scopes).

  Returns:
    The `checkpointing.checkpoints.RestoreReport`.

  Raises:
    checkpoints.CheckpointMismatchError: missing variables, shape or dtype
      mismatches, unknown scopes.
  """
  var_map, report = checkpoints.plan_restore(checkpoint_path, model.weights,
                                             **plan_kwargs)
  reader = tf.train.load_checkpoint(report.checkpoint)
  dtypes = reader.get_variable_to_dtype_map()
  wrong = ['%s: checkpoint %s, model %s' % (key, dtypes[key].name,
                                            variable.dtype.base_dtype.name)
           for key, variable in var_map.items()
           if dtypes[key] != variable.dtype.base_dtype]
  if wrong:
    raise checkpoints.CheckpointMismatchError(
        'Checkpoint %s has other dtypes than the model: %s' % (
            report.checkpoint, '; '.join(wrong)))
  for key, variable in var_map.items():
    variable.assign(reader.get_tensor(key))
  return report


def save_slim_checkpoint(model, checkpoint_prefix):
  """Writes the model's weights under their Slim names (eager mode).

  The result reads in every style and in Slim itself, e.g. with
  `checkpointing.checkpoints.restore` or `load_slim_checkpoint`.

  Example:

    path = keras_model.save_slim_checkpoint(model, '/tmp/train/model.ckpt')

  Returns:
    The checkpoint path (prefix).

  Raises:
    RuntimeError: outside eager mode (save from the session instead).
  """
  if not tf.executing_eagerly():
    raise RuntimeError('save_slim_checkpoint needs eager mode; in a graph, '
                       'use v1.train.Saver(checkpoints.slim_named_variables('
                       '...)) with the session')
  saver = v1.train.Saver(checkpoints.slim_named_variables(model.weights),
                         write_version=v1.train.SaverDef.V2)
  return saver.save(None, checkpoint_prefix, write_meta_graph=False)
