"""The layer vocabulary written with Keras 2 (`tf_keras`) layers.

Each call makes (or, under a reusing variable scope, finds again) a
`tf_keras.layers` object named by the full Slim scope path, so its variables are
`<scope>/kernel`, `<scope>/bias` and `<scope>/BatchNorm/{gamma,beta,...}`: the
Slim names up to `kernel`->`weights` and `bias`->`biases`
(`checkpointing.checkpoints.keras_to_slim_name`).

In a v1 graph Keras keeps batch-norm updates and regularization losses on the
layer objects; this module also puts them in `UPDATE_OPS` and
`REGULARIZATION_LOSSES` (and the variables in `MODEL_VARIABLES`), so the same
training code serves all three styles. The same functions, called on
`tf_keras.Input` tensors, build a functional `tf_keras.Model`.
"""
import contextlib
import threading
import weakref

from nets.layers import batch_norm_folding
from nets.layers import conv_ops
from nets.layers import grouped
from nets.layers import scoped
from runtime.tf_compat import slim, tf, tf_keras

v1 = tf.compat.v1
_LAYERS = tf_keras.layers

_registries = weakref.WeakKeyDictionary()
_local = threading.local()


def arg_scope(**hyper_parameters):
  """Sets this style's hyper-parameters on its layer functions."""
  return scoped.style_arg_scope(conv2d, fully_connected, batch_norm,
                                **hyper_parameters)


@contextlib.contextmanager
def layer_registry():
  """A fresh name -> layer registry, e.g. for building one `tf_keras.Model`."""
  previous = getattr(_local, 'registry', None)
  _local.registry = {}
  try:
    yield _local.registry
  finally:
    _local.registry = previous


def _registry():
  registry = getattr(_local, 'registry', None)
  if registry is not None:
    return registry
  return _registries.setdefault(v1.get_default_graph(), {})


def _in_graph():
  return not tf.executing_eagerly()


def _full_name(scope, default_name):
  """The absolute scope path of a layer, uniquified like variable_scope."""
  if scope is None:
    with v1.variable_scope(None, default_name=default_name) as sc:
      return sc.name
  parent = v1.get_variable_scope().name
  return '%s/%s' % (parent, scope) if parent else scope


def _layer(name, make, has_variables=True):
  """Returns `(layer, is_new)` for layer `name`, honouring variable reuse.

  Reuse shares variables, not the call's hyper-parameters: as in Slim, a
  reused conv may run with another stride, rate or padding (the nominal and
  the atrous network, `store_non_strided_activations`). Then a new layer with
  the new configuration is built on the registered layer's variables. Layers
  without variables (pools, reshapes) are not subject to reuse checks, as in
  Slim.
  """
  registry = _registry()
  reuse = v1.get_variable_scope().reuse
  if name in registry:
    if not reuse and has_variables:
      raise ValueError('Variable %s already exists, disallowed. Did you mean '
                       'to set reuse=True or reuse=tf.AUTO_REUSE in VarScope?'
                       % name)
    registered = registry[name]
    layer = make()
    if _config(layer) == _config(registered):
      return registered, False
    if not has_variables:
      return layer, True
    return _on_variables_of(layer, registered), False
  if reuse is True and has_variables:
    raise ValueError('Variable %s does not exist, or was not created with '
                     'tf.get_variable(). Did you mean to set reuse=None?'
                     % name)
  layer = make()
  registry[name] = layer
  return layer, True


def _config(layer):
  config = layer.get_config()
  config.pop('name', None)
  return config


def _on_variables_of(layer, registered):
  """Makes `layer` build with `registered`'s variables instead of new ones."""
  variables = {v.name.split('/')[-1].split(':')[0]: v
               for v in registered.weights}

  def add_weight(name, *unused_args, **unused_kwargs):
    return variables[name]

  # Keras builds through add_weight; the returned variables are tracked as the
  # attributes they are assigned to (layer.kernel etc.).
  layer.add_weight = add_weight
  return layer


@contextlib.contextmanager
def _root_name_scope():
  """Keras names ops and variables by the layer's (absolute) name."""
  if _in_graph():
    with v1.get_default_graph().name_scope(None):
      yield
  else:
    yield


def _call(name, make, inputs, has_variables=True, **call_kwargs):
  """Calls layer `name` and exports what Keras keeps on the layer."""
  layer, is_new = _layer(name, make, has_variables)
  num_updates = len(layer.updates) if _in_graph() else 0
  with _root_name_scope():
    outputs = layer(inputs, **call_kwargs)
  _export(layer, is_new, num_updates)
  return outputs


def _built(name, make, input_shape):
  """Layer `name`, built for `input_shape` but not called (graph mode).

  For a layer whose variables another computation uses (a conv with batch
  norm folded in): the variables and regularization losses are exported as
  `_call` exports them.
  """
  layer, is_new = _layer(name, make)
  if not layer.built:
    # Keras names the variables by the name scope it builds them in.
    with _root_name_scope(), v1.name_scope(layer.name + '/'):
      layer.build(input_shape)
  _export(layer, is_new, len(layer.updates))
  return layer


def _export(layer, is_new, num_updates):
  """Puts what Keras keeps on `layer` into the graph's collections."""
  if not _in_graph():
    return
  if is_new:
    for variable in layer.weights:
      v1.add_to_collection(v1.GraphKeys.MODEL_VARIABLES, variable)
    for loss in layer.losses:
      v1.add_to_collection(v1.GraphKeys.REGULARIZATION_LOSSES, loss)
  for update in layer.updates[num_updates:]:
    v1.add_to_collection(v1.GraphKeys.UPDATE_OPS, update)


class _GraphConv2D(_LAYERS.Conv2D):
  """`Conv2D` computing its output with `nets.layers.conv_ops` (graph mode).

  Same variables, config and values (up to float rounding) as `Conv2D`, and
  the ops of the other styles: a 1x1 conv of a 1x1 map as a matmul
  (`nets.layers.pointwise`), a grouped one (`groups` > 1) as one `Conv2D`
  op (`nets.layers.grouped`) where the stock layer calls an XLA-compiled
  function. Used for graph tensors only, so the Keras models of
  `nets.keras_model` keep the stock, serializable `Conv2D`.
  """

  def call(self, inputs):
    return conv_ops.convolution(
        inputs, self.kernel, stride=list(self.strides),
        padding=self.padding.upper(), rate=list(self.dilation_rate),
        groups=self.groups, biases=self.bias if self.use_bias else None)


def _regularizer(weight_decay):
  # Keras' l2(c) is c * sum(w**2); Slim's l2_regularizer(c) is c * sum(w**2)/2.
  return tf_keras.regularizers.l2(weight_decay / 2.0) if weight_decay else None


def _collect(outputs_collections, name, outputs):
  # Graph tensors and the symbolic KerasTensors of a functional model are
  # collected (the latter into the eager default graph, which
  # `nets.keras_model` isolates); concrete eager tensors are not.
  if not _in_graph() and not tf_keras.backend.is_keras_tensor(outputs):
    return outputs
  return slim.utils.collect_named_outputs(outputs_collections, name, outputs)


@slim.add_arg_scope
def conv2d(inputs, num_outputs, kernel_size, stride=1, rate=1, padding='SAME',
           activation_fn=tf.nn.relu, normalizer_fn=None, weight_decay=0.0,
           outputs_collections=None, scope=None, groups=1,
           fold_batch_norm=False):
  """`Conv2D`, then `BatchNormalization` (or a bias), then the activation.

  `groups` > 1: `Conv2D(groups=...)`, kernel [kh, kw, C / groups, K]. With
  `fold_batch_norm` (graph mode), an inference batch norm is folded into the
  conv where that pays (`nets.layers.batch_norm_folding`): both layers are
  built for their variables, and conv(x, kernel * s) + b is computed instead
  of calling them.
  """
  name = _full_name(scope, 'Conv')
  grouped.check_groups(inputs.shape[-1], num_outputs, groups)

  def make_conv():
    return (_GraphConv2D if _in_graph() else _LAYERS.Conv2D)(
        num_outputs, kernel_size, strides=stride, dilation_rate=rate,
        padding=padding.lower(), use_bias=not normalizer_fn, groups=groups,
        kernel_initializer=tf_keras.initializers.VarianceScaling(
            2.0, 'fan_in', 'truncated_normal'),
        kernel_regularizer=_regularizer(weight_decay), name=name)

  conv_args = dict(stride=stride, padding=padding, rate=rate, groups=groups)
  weights_shape = (list(kernel_size) if isinstance(kernel_size, (list, tuple))
                   else [kernel_size] * 2) + [
                       inputs.shape.as_list()[-1] // groups, num_outputs]
  if (normalizer_fn and fold_batch_norm and _in_graph() and
      _folds(inputs, weights_shape, activation_fn, conv_args)):
    outputs = _folded_conv(name, make_conv, inputs, conv_args)
  else:
    outputs = _call(name, make_conv, inputs)
    if normalizer_fn:
      with v1.variable_scope(name.rsplit('/', 1)[-1]):  # BN in the conv's.
        outputs = batch_norm(outputs)
  if activation_fn is not None:
    outputs = _activation(outputs, activation_fn)
  return _collect(outputs_collections, name, outputs)


def _folds(inputs, weights_shape, activation_fn, conv_args):
  """Whether `batch_norm`, as scoped here, folds into this conv."""
  params = scoped.arguments(batch_norm)
  return (batch_norm_folding.is_inference(params['is_training']) and
          params['activation_fn'] is None and
          batch_norm_folding.worth_folding(
              inputs, weights_shape, conv_args['stride'], conv_args['rate'],
              conv_args['padding'], activation_fn))


def _folded_conv(name, make_conv, inputs, conv_args):
  """The conv layer `name` with its inference batch norm folded in."""
  params = scoped.arguments(batch_norm)
  conv = _built(name, make_conv, inputs.shape)
  with v1.variable_scope(name.rsplit('/', 1)[-1]):  # BN in the conv's.
    bn_name = _full_name(params['scope'] or 'BatchNorm', 'BatchNorm')
  bn = _built(bn_name, lambda: _batch_norm_layer(
      bn_name, params['decay'], params['epsilon'], params['scale']),
              inputs.shape[:-1].concatenate([conv.filters]))
  with _root_name_scope(), v1.name_scope(name + '/'):
    return batch_norm_folding.folded_convolution(
        inputs, conv.kernel, bn.gamma, bn.beta, bn.moving_mean,
        bn.moving_variance, bn.epsilon, **conv_args)


def _activation(inputs, activation_fn):
  if _in_graph():
    return activation_fn(inputs)
  return _LAYERS.Activation(activation_fn)(inputs)


def _batch_norm_layer(name, decay, epsilon, scale):
  return _LAYERS.BatchNormalization(axis=-1, momentum=decay, epsilon=epsilon,
                                    scale=scale, center=True, name=name)


@slim.add_arg_scope
def batch_norm(inputs, decay=0.999, epsilon=0.001, scale=False,
               is_training=True, activation_fn=None, scope=None):
  """`BatchNormalization` with Slim's decay/epsilon/scale semantics."""
  name = _full_name(scope or 'BatchNorm', 'BatchNorm')
  outputs = _call(name, lambda: _batch_norm_layer(name, decay, epsilon, scale),
                  inputs, training=is_training)
  if activation_fn is not None:
    outputs = _activation(outputs, activation_fn)
  return outputs


def max_pool2d(inputs, kernel_size, stride, padding, scope):
  padding = padding or 'VALID'
  name = _full_name(scope, 'MaxPool2D')
  return _call(name, lambda: _LAYERS.MaxPooling2D(
      kernel_size, strides=stride, padding=padding.lower(), name=name), inputs,
      has_variables=False)


def global_avg_pool(inputs, keepdims, scope):
  name = _full_name(scope or 'global_pool', 'global_pool')
  return _call(name, lambda: _LAYERS.GlobalAveragePooling2D(
      keepdims=keepdims, name=name), inputs, has_variables=False)


@slim.add_arg_scope
def fully_connected(inputs, num_outputs, activation_fn=tf.nn.relu,
                    use_biases=True, biases_initializer_value=0.0,
                    weight_decay=0.0, scope=None):
  """`Dense` with Slim's fully_connected defaults."""
  name = _full_name(scope, 'fully_connected')
  return _call(name, lambda: _LAYERS.Dense(
      num_outputs, activation=activation_fn, use_bias=use_biases,
      kernel_initializer='glorot_uniform',
      bias_initializer=tf_keras.initializers.Constant(
          biases_initializer_value),
      kernel_regularizer=_regularizer(weight_decay), name=name), inputs)


def flatten(inputs, scope):
  name = _full_name(scope or 'Flatten', 'Flatten')
  return _call(name, lambda: _LAYERS.Flatten(name=name), inputs,
               has_variables=False)


def multiply(inputs, gates, scope):
  name = _full_name(scope or 'multiply', 'multiply')
  channels = gates.shape.as_list()[-1]
  gates = _call(name + '/gates',
                lambda: _LAYERS.Reshape((1, 1, channels), name=name + '/gates'),
                gates, has_variables=False)
  return _call(name, lambda: _LAYERS.Multiply(name=name), [inputs, gates],
               has_variables=False)
