"""The layer vocabulary written with tf-slim layers under `slim.arg_scope`.

Hyper-parameters live where Slim keeps them: in the arg_scope of
`slim.conv2d`, `slim.batch_norm` and `slim.fully_connected` (see `arg_scope`),
so an outer `slim.arg_scope([slim.conv2d], ...)` reaches every conv, as in
Slim's own networks (`outputs_collections` included).

`conv2d` calls `slim.conv2d` wherever that builds the ops wanted. Where it
cannot (a grouped conv, a 1x1 conv of a 1x1 map computed as a matmul, a
conv with its inference batch norm folded in), it writes the layer as a
Slim user writes a layer Slim lacks: `slim.model_variable`s with the
initializers, regularizers and collections that `slim.conv2d` and
`slim.batch_norm` would receive here (`nets.layers.scoped`), the ops of
`nets.layers.conv_ops`, then the activation and `slim.conv2d`'s output
collections.
"""
from nets.layers import batch_norm_folding
from nets.layers import conv_ops
from nets.layers import grouped
from nets.layers import pointwise
from nets.layers import scoped
from runtime.tf_compat import slim, tf

_UNSET = object()

# slim.batch_norm arguments the folded conv honours (decay, fused and
# updates_collections do not matter in inference); any other one set to a
# value other than its default (renorm, batch_weights, activation_fn,
# outputs_collections, ...) leaves the batch norm to slim.batch_norm.
_FOLDABLE_BATCH_NORM_ARGUMENTS = frozenset([
    'decay', 'center', 'scale', 'epsilon', 'param_initializers',
    'param_regularizers', 'variables_collections', 'trainable', 'reuse',
    'scope', 'is_training', 'fused', 'updates_collections'])


def arg_scope(weight_decay, batch_norm_decay, batch_norm_epsilon,
              batch_norm_scale, activation_fn, use_batch_norm):
  """Slim's `resnet_arg_scope`, extended to the fully connected layers."""
  regularizer = slim.l2_regularizer(weight_decay) if weight_decay else None
  batch_norm_params = {
      'decay': batch_norm_decay,
      'epsilon': batch_norm_epsilon,
      'scale': batch_norm_scale,
      'updates_collections': tf.compat.v1.GraphKeys.UPDATE_OPS,
      'fused': True,
  }
  with slim.arg_scope(
      [slim.conv2d],
      weights_regularizer=regularizer,
      weights_initializer=slim.variance_scaling_initializer(),
      activation_fn=activation_fn,
      normalizer_fn=slim.batch_norm if use_batch_norm else None,
      normalizer_params=batch_norm_params):
    with slim.arg_scope([slim.batch_norm], **batch_norm_params):
      with slim.arg_scope([slim.fully_connected],
                          weights_regularizer=regularizer) as scope:
        return scope


def _overrides(**kwargs):
  return {k: v for k, v in kwargs.items() if v is not _UNSET}


def conv2d(inputs, num_outputs, kernel_size, stride=1, rate=1, padding='SAME',
           activation_fn=_UNSET, normalizer_fn=_UNSET,
           outputs_collections=None, scope=None, groups=1,
           fold_batch_norm=False):
  """`slim.conv2d`, or the same layer written out (see the module doc).

  `outputs_collections=None` leaves the collections to `slim.conv2d`'s
  arg_scope; `normalizer_fn`, when given and not None, means
  `slim.batch_norm` with the scope's `normalizer_params`.
  """
  if normalizer_fn not in (None, _UNSET):
    normalizer_fn = slim.batch_norm
  explicit = _overrides(activation_fn=activation_fn,
                        normalizer_fn=normalizer_fn,
                        outputs_collections=outputs_collections or _UNSET)
  params = scoped.arguments(slim.conv2d, **explicit)
  size = list(kernel_size) if isinstance(kernel_size, (list, tuple)) else [
      kernel_size, kernel_size]
  weights_shape = size + [inputs.shape.as_list()[-1] // groups, num_outputs]
  conv_args = dict(stride=stride, padding=padding, rate=rate, groups=groups)
  batch_norm = (_foldable_batch_norm(inputs, weights_shape, params, conv_args)
                if fold_batch_norm else None)
  matmul = (params['normalizer_fn'] is None and
            pointwise.is_single_pixel_pointwise(inputs, kernel_size, stride,
                                                rate))
  if groups == 1 and batch_norm is None and not matmul:
    return slim.conv2d(inputs, num_outputs, kernel_size, stride=stride,
                       rate=rate, padding=padding, scope=scope, **explicit)
  return _written_conv2d(inputs, weights_shape, params, batch_norm, scope,
                         conv_args)


def _foldable_batch_norm(inputs, weights_shape, params, conv_args):
  """slim.batch_norm's arguments if it folds into this conv, else None."""
  if (params['normalizer_fn'] is not slim.batch_norm or
      params['data_format'] not in (None, 'NHWC')):
    return None
  batch_norm = scoped.arguments(slim.batch_norm,
                                **(params['normalizer_params'] or {}))
  defaults = scoped.defaults(slim.batch_norm)
  unfoldable = [
      name for name, value in batch_norm.items()
      if name not in _FOLDABLE_BATCH_NORM_ARGUMENTS and
      not scoped.is_default(value, defaults.get(name))]
  if (unfoldable or
      not batch_norm_folding.is_inference(batch_norm['is_training']) or
      not batch_norm_folding.worth_folding(
          inputs, weights_shape, conv_args['stride'], conv_args['rate'],
          conv_args['padding'], params['activation_fn'])):
    return None
  return batch_norm


def _written_conv2d(inputs, weights_shape, params, batch_norm, scope,
                    conv_args):
  """`slim.conv2d` (arguments `params`) written out; `batch_norm` folded."""
  dtype = inputs.dtype.base_dtype
  grouped.check_groups(inputs.shape.as_list()[-1], weights_shape[-1],
                       conv_args['groups'])
  with tf.compat.v1.variable_scope(scope, 'Conv', [inputs],
                                   reuse=params['reuse']) as sc:
    weights = slim.model_variable(
        'weights', shape=weights_shape, dtype=dtype,
        initializer=params['weights_initializer'],
        regularizer=params['weights_regularizer'],
        trainable=params['trainable'],
        collections=_collections(params, 'weights'))
    if batch_norm is not None:
      outputs = _folded_conv(inputs, weights, batch_norm, conv_args)
    elif params['normalizer_fn'] is not None:
      outputs = params['normalizer_fn'](
          conv_ops.convolution(inputs, weights, **conv_args),
          **(params['normalizer_params'] or {}))
    else:
      outputs = conv_ops.convolution(
          inputs, weights, biases=_biases(params, weights_shape[-1], dtype),
          **conv_args)
    if params['activation_fn'] is not None:
      outputs = params['activation_fn'](outputs)
    return slim.utils.collect_named_outputs(params['outputs_collections'],
                                            sc.name, outputs)


def _biases(params, num_outputs, dtype):
  if params['biases_initializer'] is None:
    return None
  return slim.model_variable(
      'biases', shape=[num_outputs], dtype=dtype,
      initializer=params['biases_initializer'],
      regularizer=params['biases_regularizer'],
      trainable=params['trainable'],
      collections=_collections(params, 'biases'))


def _folded_conv(inputs, weights, batch_norm, conv_args):
  """conv -> slim.batch_norm (inference) as conv(x, W * s) + b.

  The variables are those `slim.batch_norm` makes: `BatchNorm/beta` (with
  `center`), `gamma` (with `scale`), `moving_mean`, `moving_variance`, with
  its initializers, regularizers, collections and trainability.
  """
  depth = weights.shape.as_list()[-1]
  initializers = batch_norm['param_initializers'] or {}
  regularizers = batch_norm['param_regularizers'] or {}

  def variable(name, default_initializer, trainable, regularizer=None):
    return slim.model_variable(
        name, shape=[depth], dtype=tf.float32,
        initializer=initializers.get(name, default_initializer),
        regularizer=regularizer, trainable=trainable,
        collections=slim.utils.get_variable_collections(
            batch_norm['variables_collections'], name))

  with tf.compat.v1.variable_scope(batch_norm['scope'], 'BatchNorm', [inputs],
                                   reuse=batch_norm['reuse']):
    trainable = batch_norm['trainable']
    beta = (variable('beta', tf.compat.v1.zeros_initializer(), trainable,
                     regularizers.get('beta'))
            if batch_norm['center'] else None)
    gamma = (variable('gamma', tf.compat.v1.ones_initializer(), trainable,
                      regularizers.get('gamma'))
             if batch_norm['scale'] else None)
    moving_mean = variable('moving_mean', tf.compat.v1.zeros_initializer(),
                           False)
    moving_variance = variable('moving_variance',
                               tf.compat.v1.ones_initializer(), False)
  return batch_norm_folding.folded_convolution(
      inputs, weights, gamma, beta, moving_mean, moving_variance,
      batch_norm['epsilon'], **conv_args)


def _collections(params, name):
  # slim.conv2d's `variables_collections`: a list, or a dict by variable name.
  return slim.utils.get_variable_collections(
      params['variables_collections'], name)


@slim.add_arg_scope
def batch_norm(inputs, is_training=True, activation_fn=None, scope=None):
  return slim.batch_norm(inputs, is_training=is_training,
                         activation_fn=activation_fn, scope=scope)


def max_pool2d(inputs, kernel_size, stride, padding, scope):
  # padding=None leaves it to slim.max_pool2d's own arg_scope (or 'VALID').
  return slim.max_pool2d(inputs, kernel_size, stride=stride, scope=scope,
                         **_overrides(padding=padding or _UNSET))


def global_avg_pool(inputs, keepdims, scope):
  return tf.reduce_mean(inputs, [1, 2], keepdims=keepdims,
                        name=scope or 'global_pool')


def fully_connected(inputs, num_outputs, activation_fn=tf.nn.relu,
                    use_biases=True, biases_initializer_value=0.0, scope=None):
  biases_initializer = (
      tf.compat.v1.constant_initializer(biases_initializer_value)
      if use_biases else None)
  return slim.fully_connected(inputs, num_outputs, activation_fn=activation_fn,
                              biases_initializer=biases_initializer,
                              scope=scope)


def flatten(inputs, scope):
  return slim.flatten(inputs, scope=scope)


def multiply(inputs, gates, scope):
  return tf.multiply(inputs, gates[:, tf.newaxis, tf.newaxis, :],
                     name=scope or 'multiply')
