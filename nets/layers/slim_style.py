"""The layer vocabulary written with tf-slim layers under `slim.arg_scope`.

Hyper-parameters live where Slim keeps them: in the arg_scope of
`slim.conv2d`, `slim.batch_norm` and `slim.fully_connected` (see `arg_scope`).
The functions here only translate the vocabulary's arguments.
"""
import inspect

from nets.layers import grouped
from nets.layers import pointwise
from runtime.tf_compat import slim, tf

_UNSET = object()
_CONV2D_DEFAULTS = {
    name: parameter.default
    for name, parameter in inspect.signature(slim.conv2d).parameters.items()
    if parameter.default is not inspect.Parameter.empty}


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
           outputs_collections=None, scope=None, groups=1):
  if groups != 1:
    return _grouped_conv2d(inputs, num_outputs, kernel_size, stride, rate,
                           padding, groups, activation_fn, normalizer_fn,
                           outputs_collections, scope)
  if normalizer_fn is None and pointwise.is_single_pixel_pointwise(
      inputs, kernel_size, stride, rate):
    return _pointwise_conv2d(inputs, num_outputs, activation_fn,
                             outputs_collections, scope)
  if normalizer_fn not in (None, _UNSET):
    normalizer_fn = slim.batch_norm
  return slim.conv2d(inputs, num_outputs, kernel_size, stride=stride,
                     rate=rate, padding=padding, scope=scope,
                     outputs_collections=outputs_collections,
                     **_overrides(activation_fn=activation_fn,
                                  normalizer_fn=normalizer_fn))


def _conv2d_params(activation_fn):
  """slim.conv2d's keywords under the current arg_scope, with overrides."""
  params = dict(_CONV2D_DEFAULTS)
  params.update(slim.current_arg_scope().get(
      slim.arg_scope_func_key(slim.conv2d), {}))
  params.update(_overrides(activation_fn=activation_fn))
  return params


def _conv2d_weights(params, shape, dtype):
  return slim.model_variable(
      'weights', shape=shape, dtype=dtype,
      initializer=params['weights_initializer'],
      regularizer=params['weights_regularizer'],
      trainable=params['trainable'],
      collections=_collections(params, 'weights'))


def _conv2d_biases(params, num_outputs, dtype):
  if params['biases_initializer'] is None:
    return None
  return slim.model_variable(
      'biases', shape=[num_outputs], dtype=dtype,
      initializer=params['biases_initializer'],
      regularizer=params['biases_regularizer'],
      trainable=params['trainable'],
      collections=_collections(params, 'biases'))


def _pointwise_conv2d(inputs, num_outputs, activation_fn, outputs_collections,
                      scope):
  """`slim.conv2d` without a normalizer on a [N,1,1,C] input, 1x1 kernel.

  The same variables (`weights` [1,1,C,K], `biases`), initializers,
  regularizers and collections as `slim.conv2d` under the current arg_scope,
  computed as a matmul (`nets.layers.pointwise`: oneDNN runs this conv shape,
  the logits, several times slower).
  """
  params = _conv2d_params(activation_fn)
  dtype = inputs.dtype.base_dtype
  with tf.compat.v1.variable_scope(scope, 'Conv', [inputs],
                                   reuse=params['reuse']) as sc:
    weights = _conv2d_weights(
        params, [1, 1, inputs.shape.as_list()[-1], num_outputs], dtype)
    biases = _conv2d_biases(params, num_outputs, dtype)
    outputs = pointwise.conv(inputs, weights, biases)
    if params['activation_fn'] is not None:
      outputs = params['activation_fn'](outputs)
    return slim.utils.collect_named_outputs(outputs_collections, sc.name,
                                            outputs)


def _grouped_conv2d(inputs, num_outputs, kernel_size, stride, rate, padding,
                    groups, activation_fn, normalizer_fn, outputs_collections,
                    scope):
  """`slim.conv2d` with `groups` (which tf-slim's conv2d does not take).

  Written as a Slim user writes a layer Slim lacks: `slim.model_variable`
  `weights` [kh, kw, C / groups, K] with the initializer, regularizer and
  collections of `slim.conv2d`'s arg_scope, the grouped convolution
  (`nets.layers.grouped`), then `slim.conv2d`'s normalizer (its
  `slim.batch_norm` with `normalizer_params`, in the conv's scope) or
  biases, then its activation: the variables of a `slim.conv2d`.
  """
  params = _conv2d_params(activation_fn)
  if normalizer_fn is not _UNSET:  # As conv2d: any normalizer is Slim's BN.
    params['normalizer_fn'] = normalizer_fn and slim.batch_norm
  dtype = inputs.dtype.base_dtype
  in_depth = inputs.shape.as_list()[-1]
  grouped.check_groups(in_depth, num_outputs, groups)
  size = list(kernel_size) if isinstance(kernel_size, (list, tuple)) else [
      kernel_size, kernel_size]
  with tf.compat.v1.variable_scope(scope, 'Conv', [inputs],
                                   reuse=params['reuse']) as sc:
    weights = _conv2d_weights(
        params, size + [in_depth // groups, num_outputs], dtype)
    outputs = grouped.convolution(inputs, weights, groups, strides=stride,
                                  padding=padding, dilations=rate)
    if params['normalizer_fn'] is not None:
      outputs = params['normalizer_fn'](
          outputs, **(params['normalizer_params'] or {}))
    else:
      biases = _conv2d_biases(params, num_outputs, dtype)
      if biases is not None:
        outputs = tf.nn.bias_add(outputs, biases)
    if params['activation_fn'] is not None:
      outputs = params['activation_fn'](outputs)
    return slim.utils.collect_named_outputs(outputs_collections, sc.name,
                                            outputs)


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
