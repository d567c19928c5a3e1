"""Finds a network by name and builds it in a layer style.

Example:

    from nets import nets_factory
    network_fn = nets_factory.get_network_fn(
        'se_resnet_v1_50', num_classes=1000, is_training=False, style='raw',
        se_ratio=8)
    logits, end_points = network_fn(images)   # images: [N, 224, 224, 3]
    network_fn.default_image_size             # 224

    # The SENet authors' SE-ResNeXt arrangement (see nets.topology).
    network_fn = nets_factory.get_network_fn(
        'se_resnext_50_32x4d', num_classes=1000, topology='caffe_resnext')
"""
import functools
import inspect

from checkpointing import checkpoints
from nets import keras_model
from nets import layers
from nets import names
from nets import options
from nets import resnet_v1
from nets import resnext
from nets import simple_cnn
from nets import topology as topology_lib
from runtime.tf_compat import slim, tf, v1

# Options of the arg scope (not of the builder) that users may set by name:
# the table's, and keywords for library callers only (no flag).
ARG_SCOPE_OPTIONS = options.ARG_SCOPE_NAMES + (
    'batch_norm_scale', 'use_batch_norm', 'activation_fn', 'fold_batch_norm')

# The ResNet family: builders that take `topology` (see nets.topology).
_RESNETS = dict(resnet_v1.BUILDERS, **resnext.BUILDERS)

networks_map = dict(_RESNETS, simple_cnn=simple_cnn.simple_cnn)

arg_scopes_map = dict(
    {name: resnet_v1.resnet_arg_scope for name in _RESNETS},
    simple_cnn=simple_cnn.simple_cnn_arg_scope)


def network_names():
  """The sorted list of known network names."""
  return sorted(networks_map)


is_se_network = names.is_se_network
check_name = names.check_network
has_topology = names.has_topology
default_topology = names.default_topology


def _builder_keywords(builder):
  """The keywords `builder` takes besides images, classes and the mode."""
  return [name for name, p in inspect.signature(builder).parameters.items()
          if p.kind != p.VAR_KEYWORD and
          name not in ('inputs', 'num_classes', 'is_training')]


def valid_options(name):
  """The option keywords network `name` takes (`get_network_fn`'s
  **model_options): the `nets.options` rows that apply to it, its builder's
  own keywords and the arg scope's.

  Example:
    'se_ratio' in nets_factory.valid_options('se_resnet_v1_50')   # True
  """
  table = [o.name for o in options.OPTIONS
           if options.NETWORKS[o.networks](name)]
  extra = _builder_keywords(networks_map[name]) + list(ARG_SCOPE_OPTIONS)
  return tuple(table + [k for k in extra if k not in table])


def _split_options(name, model_options):
  """Checks the options for network `name`; (arg scope, builder) keywords.

  Raises:
    TypeError: an option no network takes (listing the valid ones).
    ValueError: an option of another network (e.g. SE options of a plain
      ResNet), or an unknown topology.
  """
  valid = valid_options(name)
  unknown = sorted(set(model_options) - set(valid) - set(options.NAMES))
  if unknown:
    raise TypeError('%s got unknown options %s; valid options: %s' %
                    (name, unknown, ', '.join(valid)))
  # None of a table option means its default (an unset flag); elsewhere it
  # may mean something (activation_fn=None: linear).
  given = {k: v for k, v in model_options.items()
           if v is not None or k not in options.BY_NAME}
  options.check_applies(name, given)
  if 'topology' in given:
    topology_lib.get(given['topology'])  # Fails listing them.
  scope_options = {k: v for k, v in given.items() if k in ARG_SCOPE_OPTIONS}
  builder_options = {k: v for k, v in given.items()
                     if k not in ARG_SCOPE_OPTIONS}
  return scope_options, builder_options


def get_network_fn(name, num_classes, weight_decay=0.0, is_training=False,
                   style=layers.DEFAULT_STYLE, **model_options):
  """Returns `network_fn(images, **kwargs) -> (logits, end_points)`.

  Args:
    name: a name from `network_names()`.
    num_classes: number of logits; None or 0 for features only (ResNets).
    weight_decay: L2 coefficient of the weights.
    is_training: batch norm mode; None (keras style only) lets batch norm
      follow Keras' `training` argument, as `get_keras_model` does.
    style: layer style, 'slim', 'raw' or 'keras'.
    **model_options: the options of `nets.options` (`topology`,
      `se_ratio`, `depth_multiplier`, `batch_norm_decay`, ...) and the
      builder's and arg scope's other keywords (`output_stride`,
      `batch_norm_scale`, `fold_batch_norm`, ...): `valid_options(name)`.
      A table option set to None takes its default.

  Returns:
    The network function, with attributes `default_image_size`, `name` and
    `style`. It applies the network's arg scope itself.

  Raises:
    ValueError: unknown name, style or topology, SE options for a plain
      network, or a topology for a network without one.
    TypeError: an option no network takes, listing the valid ones.
  """
  check_name(name)
  layers.get(style)  # Fails early, listing the styles.
  if is_training is None and style != 'keras':
    raise ValueError('is_training=None (batch norm following Keras\' '
                     '`training` argument) needs style=\'keras\', not %r' %
                     style)
  scope_options, builder_options = _split_options(name, model_options)
  builder = networks_map[name]
  arg_scope_fn = arg_scopes_map[name]

  @functools.wraps(builder)
  def network_fn(images, **kwargs):
    with slim.arg_scope(arg_scope_fn(weight_decay=weight_decay, style=style,
                                     **scope_options)):
      return builder(images, num_classes, is_training=is_training,
                     **dict(builder_options, **kwargs))

  network_fn.default_image_size = builder.default_image_size
  network_fn.name = name
  network_fn.style = style
  return network_fn


def get_keras_model(name, num_classes, input_shape=(224, 224, 3),
                    weight_decay=0.0, **model_options):
  """Builds network `name` as a functional `tf_keras.Model` (eager mode).

  The same network code as `get_network_fn(..., style='keras')`, called on a
  `tf_keras.Input`; batch norm follows Keras' `training` argument, so `fit`
  trains it and `predict` runs it in inference mode. Variable names are the
  Slim ones up to `checkpointing.names.keras_to_slim_name`; see
  `nets.keras_model.load_slim_checkpoint`.

  Example:

    model = nets_factory.get_keras_model('se_resnet_v1_50', num_classes=1000)
    keras_model.load_slim_checkpoint(model, 'se_resnet_v1_50.ckpt')
    probabilities = tf.nn.softmax(model.predict(images))

  Args:
    name: a name from `network_names()`.
    num_classes: number of logits (None or 0: pooled features, ResNets).
    input_shape: (height, width, channels) of one image.
    weight_decay: L2 coefficient; the losses are in `model.losses`.
    **model_options: as for `get_network_fn`.

  Returns:
    A `tf_keras.Model` named `name`, images -> logits.
  """
  network_fn = get_network_fn(name, num_classes, weight_decay=weight_decay,
                              is_training=None, style='keras',
                              **model_options)
  model, _ = keras_model.build_model(network_fn, input_shape, name=name)
  return model


def variable_shapes(name, num_classes, style=layers.DEFAULT_STYLE,
                    image_size=None, **model_options):
  """{Slim name: shape list} of network `name`, built in a throwaway graph.

  The network itself says which variables it has: the diagnostics and the
  weight converter check checkpoints against this, not against a second
  description of the network.

  Example:

    shapes = nets_factory.variable_shapes('se_resnet_v1_50', 1000,
                                          style='raw', image_size=64)
    shapes['se_resnet_v1_50/logits/weights']   # [1, 1, 2048, 1000]

  Args:
    name: a name from `network_names()`.
    num_classes: number of logits.
    style: layer style to build in (every style has the same Slim names and
      shapes; 'raw' builds fastest).
    image_size: input height and width; default the network's own (a small
      one builds faster and does not change any variable's shape).
    **model_options: as for `get_network_fn`.

  Raises:
    ValueError: as `get_network_fn`.
  """
  network_fn = get_network_fn(name, num_classes, is_training=False,
                              style=style, **model_options)
  size = image_size or network_fn.default_image_size
  with tf.Graph().as_default():
    network_fn(v1.placeholder(tf.float32, [1, size, size, 3]))
    return {checkpoints.slim_name(v): v.shape.as_list()
            for v in v1.global_variables()}
