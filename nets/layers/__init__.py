"""The layer vocabulary that every network in `nets/` is written against.

A network calls the functions of this module (`conv2d`, `batch_norm`,
`max_pool2d`, `global_avg_pool`, `fully_connected`, `flatten`,
`squeeze_excitation`) and never names a style. Which implementation runs is
chosen by the `style` keyword, which `arg_scope()` sets for all of them at once
through `slim.arg_scope`, together with the style's hyper-parameters:

| style   | module                     | how a conv layer is written                |
|---------|----------------------------|--------------------------------------------|
| `slim`  | `nets/layers/slim_style.py`  | `slim.conv2d` under Slim's `arg_scope`   |
| `raw`   | `nets/layers/raw_style.py`   | `get_variable` + `tf.nn.convolution`     |
| `keras` | `nets/layers/keras_style.py` | `tf_keras.layers.Conv2D` etc.            |

`conv2d(..., groups=g)` is a grouped convolution (ResNeXt) in each style as
that style writes one: `tf.nn.convolution` with grouped filters (raw),
`slim.model_variable` + `slim.batch_norm` under `slim.conv2d`'s arg scope
(slim; tf-slim's conv2d has no groups), `Conv2D(groups=g)` (keras); see
`nets.layers.grouped`.

All three give the same variable names (Keras' `kernel`/`bias` map to
`weights`/`biases`, see `checkpointing.checkpoints.keras_to_slim_name`), the same
collections and the same end points. In a graph, `conv2d` then folds an
inference batch norm into the convolution where that pays, in whichever style
built it (`nets.layers.batch_norm_folding`; `fold_batch_norm=False` in
`arg_scope` keeps Slim's Conv2D -> FusedBatchNorm op for op).

Example:

    from nets import layers
    with slim.arg_scope(layers.arg_scope('raw', weight_decay=1e-4)):
      with slim.arg_scope(layers.training_scope(is_training=False)):
        net = layers.conv2d(images, 64, 7, stride=2, scope='conv1')
"""
import importlib

from nets import names
from nets.layers import batch_norm_folding
from runtime.tf_compat import slim, tf

# The names live in nets.names, which scripts import before TensorFlow.
STYLES = names.STYLES
DEFAULT_STYLE = names.DEFAULT_STYLE
SE_PLACEMENTS = names.SE_PLACEMENTS
# Whether graph-mode SE blocks use the one-pass input gradient
# (`_excite_with_squeeze_gradient`); tests switch it off to compare with
# autodiff.
FUSED_SE_GRADIENT = True

_STYLE_MODULES = {
    'slim': 'nets.layers.slim_style',
    'raw': 'nets.layers.raw_style',
    'keras': 'nets.layers.keras_style',
}


def get(style):
  """Returns the module implementing `style` ('slim', 'raw' or 'keras')."""
  names.check_style(style)
  return importlib.import_module(_STYLE_MODULES[style])


def arg_scope(style=DEFAULT_STYLE,
              weight_decay=0.0001,
              batch_norm_decay=0.997,
              batch_norm_epsilon=1e-5,
              batch_norm_scale=True,
              activation_fn=tf.nn.relu,
              use_batch_norm=True,
              fold_batch_norm=True):
  """Selects a style and sets its hyper-parameters (Slim's resnet defaults).

  Args:
    style: 'slim', 'raw' or 'keras'.
    weight_decay: L2 coefficient of conv and fully connected weights, as in
      `slim.l2_regularizer` (loss = weight_decay * sum(w**2) / 2).
    batch_norm_decay: moving-average decay of the batch norm statistics.
    batch_norm_epsilon: added to the variance in batch norm.
    batch_norm_scale: whether batch norm has a `gamma`.
    activation_fn: activation after conv layers unless a call overrides it.
    use_batch_norm: whether conv layers carry batch norm (then no biases).
    fold_batch_norm: in graphs, compute inference batch norm (moving
      statistics) folded into the conv before it where that pays (see
      `conv2d`); False keeps Conv2D -> FusedBatchNorm, op for op as Slim's
      own networks.

  Returns:
    An arg_scope dict to enter with `slim.arg_scope(...)`.
  """
  module = get(style)
  # SAME pooling keeps features aligned, as in Slim's resnet_arg_scope.
  with slim.arg_scope(_DISPATCHERS, style=style), \
       slim.arg_scope([conv2d], fold_batch_norm=fold_batch_norm), \
       slim.arg_scope([max_pool2d], padding='SAME'):
    with slim.arg_scope(
        module.arg_scope(weight_decay=weight_decay,
                         batch_norm_decay=batch_norm_decay,
                         batch_norm_epsilon=batch_norm_epsilon,
                         batch_norm_scale=batch_norm_scale,
                         activation_fn=activation_fn,
                         use_batch_norm=use_batch_norm)) as scope:
      return scope


def training_scope(is_training):
  """An arg_scope that sets batch norm's mode in every style.

  Args:
    is_training: True (batch statistics, moving averages updated through
      `UPDATE_OPS`), False (moving statistics), or None, which only the keras
      style takes: batch norm then follows Keras' `training` argument, as in a
      functional `tf_keras.Model` that `fit` trains and `predict` runs in
      inference mode (see `nets.keras_model`).

  Returns:
    An arg_scope dict for `slim.arg_scope`.
  """
  # slim.batch_norm too: slim.conv2d calls it as its normalizer_fn.
  functions = [slim.batch_norm] + [get(style).batch_norm for style in STYLES]
  with slim.arg_scope(functions, is_training=is_training) as scope:
    return scope


@slim.add_arg_scope
def conv2d(inputs, num_outputs, kernel_size, stride=1, rate=1, padding='SAME',
           scope=None, style=DEFAULT_STYLE, fold_batch_norm=True,
           outputs_collections=None, groups=1, **kwargs):
  """Convolution (+ batch norm or biases, + activation), NHWC, HWIO weights.

  Keyword overrides follow `slim.conv2d`: `activation_fn=None` gives a linear
  output and `normalizer_fn=None` drops batch norm and adds biases.
  `groups` > 1 makes a grouped convolution (ResNeXt's cardinality): input
  and output channels split into `groups` groups, group i of the output
  computed from group i of the input; `weights` [kh, kw, C / groups, K] (see
  `nets.layers.grouped`).
  `outputs_collections` collects the output under the layer's scope name.
  In a graph, an inference batch norm (moving statistics) is folded into the
  convolution where that pays (`nets.layers.batch_norm_folding`: the same
  variables and values, up to float rounding; faster), unless
  `fold_batch_norm=False`.
  """
  module = get(style)
  if not (fold_batch_norm and _is_graph_tensor(inputs)):
    return module.conv2d(inputs, num_outputs, kernel_size, stride=stride,
                         rate=rate, padding=padding, scope=scope,
                         outputs_collections=outputs_collections,
                         groups=groups, **kwargs)
  # The style collects its output under its (uniquified) scope name; a
  # private collection tells us that name, to collect the folded output
  # under it instead.
  graph = tf.compat.v1.get_default_graph()
  probe = '_nets_layers_conv2d_name'
  outputs = module.conv2d(inputs, num_outputs, kernel_size, stride=stride,
                          rate=rate, padding=padding, scope=scope,
                          outputs_collections=probe, groups=groups, **kwargs)
  (collected,) = graph.get_collection(probe)
  graph.clear_collection(probe)
  alias = collected.aliases[-1]
  folded = (batch_norm_folding.fold(outputs)
            if batch_norm_folding.worth_folding(outputs) else None)
  return slim.utils.collect_named_outputs(
      outputs_collections, alias, outputs if folded is None else folded)


@slim.add_arg_scope
def batch_norm(inputs, scope=None, style=DEFAULT_STYLE, **kwargs):
  """Batch normalisation over the last axis with Slim's variable names."""
  return get(style).batch_norm(inputs, scope=scope, **kwargs)


@slim.add_arg_scope
def max_pool2d(inputs, kernel_size, stride=2, padding=None, scope=None,
               style=DEFAULT_STYLE):
  """Max pooling; `padding=None` takes the style's default ('VALID')."""
  return get(style).max_pool2d(inputs, kernel_size, stride=stride,
                               padding=padding, scope=scope)


@slim.add_arg_scope
def global_avg_pool(inputs, keepdims=True, scope=None, style=DEFAULT_STYLE):
  """Mean over height and width."""
  return get(style).global_avg_pool(inputs, keepdims=keepdims, scope=scope)


@slim.add_arg_scope
def fully_connected(inputs, num_outputs, scope=None, style=DEFAULT_STYLE,
                    **kwargs):
  """Dense layer on a [batch, features] tensor; overrides as in Slim.

  `activation_fn` (default ReLU), `use_biases` (default True),
  `biases_initializer_value` (default 0.0).
  """
  return get(style).fully_connected(inputs, num_outputs, scope=scope, **kwargs)


@slim.add_arg_scope
def flatten(inputs, scope=None, style=DEFAULT_STYLE):
  """[batch, ...] -> [batch, features]."""
  return get(style).flatten(inputs, scope=scope)


@slim.add_arg_scope
def multiply(inputs, gates, scope=None, style=DEFAULT_STYLE):
  """Scales `inputs` [N,H,W,C] channel-wise by `gates` [N,C]."""
  return get(style).multiply(inputs, gates, scope=scope)


def squeeze_excitation(inputs, ratio=16, use_biases=True, fc2_bias_init=0.0,
                       scope='se'):
  """Squeeze-and-excitation (Hu et al. 2018), written over the vocabulary.

  gates = sigmoid(fc2(relu(fc1(mean_HW(inputs))))); output = inputs * gates,
  with fc1 of `C // ratio` units (at least 1) and fc2 of C units.

  In a graph (not eager, not a Keras functional model) the squeeze is one
  full-window average pool (`_squeeze`; the mean up to float rounding) and
  the block's gradient w.r.t. `inputs` is computed in one pass
  (`_excite_with_squeeze_gradient`; the values of autodiff).

  Args:
    inputs: [N, H, W, C] tensor.
    ratio: reduction ratio r.
    use_biases: whether fc1 and fc2 carry biases.
    fc2_bias_init: initial value of fc2's biases; a large positive value makes
      the gates start near 1 (the block starts as the identity).
    scope: variable scope; variables are `<scope>/fc1/{weights,biases}` and
      `<scope>/fc2/{weights,biases}`.

  Returns:
    The re-weighted tensor, shaped like `inputs`.
  """
  channels = inputs.shape.as_list()[-1]
  hidden = max(1, channels // ratio)
  in_graph = _is_graph_tensor(inputs)
  one_pass_gradient = FUSED_SE_GRADIENT and in_graph
  with tf.compat.v1.variable_scope(scope, default_name='se', values=[inputs]):
    if in_graph:
      squeezed = _squeeze(inputs, 'squeeze')
    else:
      squeezed = global_avg_pool(inputs, keepdims=False, scope='squeeze')
    if one_pass_gradient:
      # The excite gradient below adds the squeeze's gradient itself.
      squeezed = tf.stop_gradient(squeezed)
    excited = fully_connected(squeezed, hidden, activation_fn=tf.nn.relu,
                              use_biases=use_biases, scope='fc1')
    gates = fully_connected(excited, channels, activation_fn=tf.sigmoid,
                            use_biases=use_biases,
                            biases_initializer_value=fc2_bias_init,
                            scope='fc2')
    if one_pass_gradient:
      return _excite_with_squeeze_gradient(inputs, gates, squeezed, 'excite')
    return multiply(inputs, gates, scope='excite')


def _is_graph_tensor(value):
  # KerasTensors of an eager functional model are not tf.Tensors.
  return not tf.executing_eagerly() and isinstance(value, tf.Tensor)


def _squeeze(inputs, scope):
  """Mean over H and W, [N, H, W, C] -> [N, C], as one full-window avg pool.

  With oneDNN ops on, the pool runs as a oneDNN primitive, measured 1.2-1.6x
  faster than `reduce_mean` on ResNet-50's SE inputs (the same values up to
  float rounding, ~3e-6 relative). Unknown H or W: `reduce_mean`.
  """
  height, width = inputs.shape.as_list()[1:3]
  if height is None or width is None:
    return tf.reduce_mean(inputs, [1, 2], name=scope)
  with tf.compat.v1.name_scope(scope):
    pooled = tf.nn.avg_pool2d(inputs, [height, width], [height, width],
                              'VALID')
    return tf.squeeze(pooled, [1, 2])


def _excite_with_squeeze_gradient(inputs, gates, squeezed, scope):
  """`multiply(inputs, gates)`, whose gradient also carries the squeeze's.

  `inputs` feeds the squeeze (a mean over H, W) and the multiply, so plain
  autodiff gives it the sum of two full-size gradients: the multiply's
  `dy * gates` and the mean's, a Tile of `d_squeezed` divided by H*W, summed
  by AddN: four full-size passes (Mul, Tile, Mul, AddN) where
  `dy * gates + d_squeezed / (H*W)`, broadcast, needs two. The squeeze's
  gradient is found here from d_gates (through fc1 and fc2, [N, C] sized),
  so the caller passes `squeezed` behind a `stop_gradient`. The FC
  variables' gradients still come from autodiff, via the returned d_gates.

  Args:
    inputs: [N, H, W, C].
    gates: [N, C], a function of `squeezed` only.
    squeezed: `stop_gradient(mean_HW(inputs))`, [N, C].
    scope: the multiply's scope.

  Returns:
    inputs * gates, broadcast over H and W.
  """

  @tf.custom_gradient
  def excite(x, g):
    def gradient(dy):
      shape = tf.shape(x)
      area = tf.cast(shape[1] * shape[2], dy.dtype)
      # The sum over H, W as the squeeze's average pool times the area: with
      # oneDNN ops the pool is ~2.5x faster than Sum over the middle axes
      # (ResNet-50, batch 8: 7.7 vs 19.7 ms of op time per step).
      d_gates = _squeeze(x * dy, 'gates_gradient') * area
      d_squeezed, = tf.gradients(g, squeezed, grad_ys=d_gates)
      d_x = (dy * g[:, tf.newaxis, tf.newaxis, :] +
             (d_squeezed / area)[:, tf.newaxis, tf.newaxis, :])
      return d_x, d_gates
    return multiply(x, g, scope=scope), gradient

  return excite(inputs, gates)


_DISPATCHERS = [conv2d, batch_norm, max_pool2d, global_avg_pool,
                fully_connected, flatten, multiply]
