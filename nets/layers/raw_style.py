"""The layer vocabulary written with raw `tf.nn` ops and explicit variables.

Every variable is made with `tf.compat.v1.get_variable`, under the names and in
the collections `slim` uses (`MODEL_VARIABLES`, `TRAINABLE_VARIABLES`,
`REGULARIZATION_LOSSES`), and batch norm is written out: explicit
`gamma/beta/moving_mean/moving_variance`, the fused kernel, and moving-average
assign ops in `UPDATE_OPS`. Hyper-parameters come from `slim.arg_scope`
(see `arg_scope`), so networks set them exactly as they do for Slim.
"""
from nets.layers import batch_norm_folding
from nets.layers import conv_ops
from nets.layers import grouped
from nets.layers import scoped
from runtime.tf_compat import slim, tf

v1 = tf.compat.v1

_MODEL_COLLECTIONS = (v1.GraphKeys.GLOBAL_VARIABLES,
                      v1.GraphKeys.MODEL_VARIABLES)


def arg_scope(**hyper_parameters):
  """Sets this style's hyper-parameters on its layer functions."""
  return scoped.style_arg_scope(conv2d, fully_connected, batch_norm,
                                **hyper_parameters)


def _model_variable(name, shape, initializer, trainable=True,
                    weight_decay=0.0):
  regularizer = None
  if weight_decay and trainable:
    def regularizer(tensor):
      return tf.multiply(weight_decay, tf.nn.l2_loss(tensor),
                         name='l2_regularizer')
  return v1.get_variable(name, shape, initializer=initializer,
                         regularizer=regularizer, trainable=trainable,
                         collections=list(_MODEL_COLLECTIONS))


def _he_normal():
  # Slim's variance_scaling_initializer(): factor 2, fan-in, truncated normal.
  return v1.initializers.variance_scaling(
      scale=2.0, mode='fan_in', distribution='truncated_normal')


def _pair(value):
  return list(value) if isinstance(value, (list, tuple)) else [value, value]


@slim.add_arg_scope
def conv2d(inputs, num_outputs, kernel_size, stride=1, rate=1, padding='SAME',
           activation_fn=tf.nn.relu, normalizer_fn=None, weight_decay=0.0,
           outputs_collections=None, scope=None, groups=1,
           fold_batch_norm=False):
  """Conv (HWIO `weights`), then `BatchNorm` or `biases`, then activation.

  `groups` > 1: a grouped conv, `weights` [kh, kw, C / groups, K]. The ops
  come from `nets.layers.conv_ops`. With `fold_batch_norm`, an inference
  batch norm is folded into the conv where that pays
  (`nets.layers.batch_norm_folding`): the same variables, no batch norm op.
  """
  with v1.variable_scope(scope, 'Conv', [inputs]) as sc:
    in_depth = inputs.shape.as_list()[-1]
    grouped.check_groups(in_depth, num_outputs, groups)
    weights = _model_variable(
        'weights', _pair(kernel_size) + [in_depth // groups, num_outputs],
        _he_normal(), weight_decay=weight_decay)
    conv_args = dict(stride=stride, padding=padding, rate=rate, groups=groups)
    if normalizer_fn and fold_batch_norm and _folds(
        inputs, weights, activation_fn, conv_args):
      outputs = _folded_conv(inputs, weights, conv_args)
    elif normalizer_fn:
      outputs = batch_norm(conv_ops.convolution(inputs, weights, **conv_args))
    else:
      biases = _model_variable('biases', [num_outputs], v1.zeros_initializer())
      outputs = conv_ops.convolution(inputs, weights, biases=biases,
                                     **conv_args)
    if activation_fn is not None:
      outputs = activation_fn(outputs)
    return slim.utils.collect_named_outputs(outputs_collections, sc.name,
                                            outputs)


def _folds(inputs, weights, activation_fn, conv_args):
  """Whether `batch_norm`, as scoped here, folds into this conv."""
  params = scoped.arguments(batch_norm)
  return (batch_norm_folding.is_inference(params['is_training']) and
          params['activation_fn'] is None and
          batch_norm_folding.worth_folding(
              inputs, weights.shape, conv_args['stride'], conv_args['rate'],
              conv_args['padding'], activation_fn))


def _folded_conv(inputs, weights, conv_args):
  """`batch_norm(conv)` in inference, as conv(x, W * s) + b."""
  params = scoped.arguments(batch_norm)
  with v1.variable_scope(params['scope'], 'BatchNorm', [inputs]):
    gamma, beta, moving_mean, moving_variance = _batch_norm_variables(
        weights.shape.as_list()[-1], params['scale'])
  return batch_norm_folding.folded_convolution(
      inputs, weights, gamma, beta, moving_mean, moving_variance,
      params['epsilon'], **conv_args)


def _batch_norm_variables(depth, scale):
  """gamma (None without `scale`), beta, moving_mean, moving_variance."""
  beta = _model_variable('beta', [depth], v1.zeros_initializer())
  gamma = (_model_variable('gamma', [depth], v1.ones_initializer())
           if scale else None)
  moving_mean = _model_variable('moving_mean', [depth],
                                v1.zeros_initializer(), trainable=False)
  moving_variance = _model_variable('moving_variance', [depth],
                                    v1.ones_initializer(), trainable=False)
  return gamma, beta, moving_mean, moving_variance


@slim.add_arg_scope
def batch_norm(inputs, decay=0.999, epsilon=0.001, scale=False,
               is_training=True, activation_fn=None, scope=None):
  """Fused batch norm with Slim's variables and moving-average updates."""
  if is_training is None:
    raise ValueError('is_training=None (batch norm following Keras\' '
                     '`training` argument) needs the keras style; pass True '
                     'or False with the raw style')
  with v1.variable_scope(scope, 'BatchNorm', [inputs]):
    depth = inputs.shape.as_list()[-1]
    gamma, beta, moving_mean, moving_variance = _batch_norm_variables(
        depth, scale)
    if gamma is None:
      gamma = tf.ones([depth])
    if is_training:
      outputs, mean, variance = v1.nn.fused_batch_norm(
          inputs, gamma, beta, epsilon=epsilon, is_training=True)
      for moving, batch_value in ((moving_mean, mean),
                                  (moving_variance, variance)):
        update = v1.assign_sub(moving, (moving - batch_value) * (1.0 - decay))
        v1.add_to_collection(v1.GraphKeys.UPDATE_OPS, update)
    else:
      outputs, _, _ = v1.nn.fused_batch_norm(
          inputs, gamma, beta, mean=moving_mean, variance=moving_variance,
          epsilon=epsilon, is_training=False)
    if activation_fn is not None:
      outputs = activation_fn(outputs)
    return outputs


def max_pool2d(inputs, kernel_size, stride, padding, scope):
  padding = padding or 'VALID'
  with v1.name_scope(scope, 'MaxPool2D', [inputs]):
    return tf.nn.max_pool2d(inputs, _pair(kernel_size), _pair(stride),
                            padding)


def global_avg_pool(inputs, keepdims, scope):
  return tf.reduce_mean(inputs, [1, 2], keepdims=keepdims,
                        name=scope or 'global_pool')


@slim.add_arg_scope
def fully_connected(inputs, num_outputs, activation_fn=tf.nn.relu,
                    use_biases=True, biases_initializer_value=0.0,
                    weight_decay=0.0, scope=None):
  """matmul with `weights` [in, out] (+ `biases`), then activation."""
  with v1.variable_scope(scope, 'fully_connected', [inputs]):
    weights = _model_variable(
        'weights', [inputs.shape.as_list()[-1], num_outputs],
        v1.glorot_uniform_initializer(), weight_decay=weight_decay)
    outputs = tf.matmul(inputs, weights)
    if use_biases:
      biases = _model_variable(
          'biases', [num_outputs],
          v1.constant_initializer(biases_initializer_value))
      outputs = tf.nn.bias_add(outputs, biases)
    if activation_fn is not None:
      outputs = activation_fn(outputs)
    return outputs


def flatten(inputs, scope):
  with v1.name_scope(scope, 'Flatten', [inputs]):
    features = 1
    for dim in inputs.shape.as_list()[1:]:
      features *= dim
    return tf.reshape(inputs, [-1, features])


def multiply(inputs, gates, scope):
  return tf.multiply(inputs, gates[:, tf.newaxis, tf.newaxis, :],
                     name=scope or 'multiply')
