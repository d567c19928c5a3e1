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
collections and the same end points, and compute with the same ops
(`nets.layers.conv_ops`: a 1x1 conv of a 1x1 map as a matmul, grouped convs
as one op). In a graph, each style's conv2d folds an inference batch norm
into the convolution while building it, where that pays
(`nets.layers.batch_norm_folding`; `fold_batch_norm=False` in `arg_scope`
keeps Slim's Conv2D -> FusedBatchNorm op for op). Nothing is rewritten after
a layer is built.

SE blocks in a graph: `squeeze_excitation(..., addend=shortcut)` is a
residual unit's whole tail, relu(x * gates + shortcut), run as one compiled op
where it can (`nets.layers.se_tail`; `custom_ops=False` writes TensorFlow's
ops, as exported graphs must); `squeeze_before` squeezes a 1x1 conv's input
instead of its output in inference; `se_gradient` ('one_pass' or 'autodiff')
chooses the block's gradient. `arg_scope(..., se_gradient=, custom_ops=)` or
`slim.arg_scope([squeeze_excitation], ...)` set them; see
docs/performance.md.

Example:

    from nets import layers
    with slim.arg_scope(layers.arg_scope('raw', weight_decay=1e-4)):
      with slim.arg_scope(layers.training_scope(is_training=False)):
        net = layers.conv2d(images, 64, 7, stride=2, scope='conv1')
"""
import importlib

from nets import names
from nets.layers import se_tail
from runtime.tf_compat import slim, tf

# The names live in nets.names, which scripts import before TensorFlow.
STYLES = names.STYLES
DEFAULT_STYLE = names.DEFAULT_STYLE
SE_PLACEMENTS = names.SE_PLACEMENTS
# How a graph-mode SE block's gradient is computed: 'one_pass' (the input's
# gradient, squeeze included, in one broadcast pass; see
# `squeeze_excitation`) or 'autodiff' (TensorFlow's, the reference).
SE_GRADIENTS = ('one_pass', 'autodiff')

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
              fold_batch_norm=True,
              se_gradient=None,
              custom_ops=None):
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
    se_gradient: 'one_pass' or 'autodiff', how SE blocks in graphs compute
      their gradient (see `squeeze_excitation`); None leaves it to an outer
      `slim.arg_scope([layers.squeeze_excitation], ...)` ('one_pass' if
      none).
    custom_ops: whether SE units may run their tail (scale, residual add,
      ReLU) as the project's compiled op (`nets.layers.se_tail`) where it is
      available; False writes standard TensorFlow ops only, as exported
      graphs must. None: as `se_gradient` (True if no outer scope).

  Returns:
    An arg_scope dict to enter with `slim.arg_scope(...)`.
  """
  module = get(style)
  se_options = {}
  if se_gradient is not None:
    _check_se_gradient(se_gradient)
    se_options['se_gradient'] = se_gradient
  if custom_ops is not None:
    se_options['custom_ops'] = bool(custom_ops)
  # SAME pooling keeps features aligned, as in Slim's resnet_arg_scope.
  with slim.arg_scope(_DISPATCHERS, style=style), \
       slim.arg_scope([conv2d], fold_batch_norm=fold_batch_norm), \
       slim.arg_scope([squeeze_excitation], **se_options), \
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
  functions = ([slim.batch_norm, squeeze_before] +
               [get(style).batch_norm for style in STYLES])
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
  `outputs_collections` collects the output under the layer's scope name
  (None: none, or in the slim style whatever `slim.conv2d`'s arg_scope
  says, as in Slim).
  In a graph, the style folds an inference batch norm (moving statistics)
  into the convolution while building it, where that pays
  (`nets.layers.batch_norm_folding`: the same variables and values, up to
  float rounding; no batch norm op), unless `fold_batch_norm=False`.
  """
  return get(style).conv2d(
      inputs, num_outputs, kernel_size, stride=stride, rate=rate,
      padding=padding, scope=scope, outputs_collections=outputs_collections,
      groups=groups, fold_batch_norm=fold_batch_norm and _is_graph_tensor(
          inputs), **kwargs)


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


@slim.add_arg_scope
def squeeze_excitation(inputs, ratio=16, use_biases=True, fc2_bias_init=0.0,
                       scope='se', addend=None, squeezed=None,
                       se_gradient='one_pass', custom_ops=True):
  """Squeeze-and-excitation (Hu et al. 2018), written over the vocabulary.

  gates = sigmoid(fc2(relu(fc1(mean_HW(inputs))))); output = inputs * gates,
  with fc1 of `C // ratio` units (at least 1) and fc2 of C units. With
  `addend`, the residual unit's tail: output = relu(inputs * gates + addend).

  In a graph (not eager, not a Keras functional model) the squeeze is one
  full-window average pool (`_squeeze`; the mean up to float rounding);
  `se_gradient='one_pass'` computes the gradient w.r.t. `inputs`
  in one pass (the values of autodiff, see `_excite_with_squeeze_gradient`);
  with `addend` and `custom_ops`, the tail and its gradient run as compiled
  ops (`nets.layers.se_tail`; TensorFlow's ops where the library is not
  available). `layers.arg_scope` sets `se_gradient` and `custom_ops`.

  Example (a residual unit's SE tail, TensorFlow's ops only):

    with slim.arg_scope([layers.squeeze_excitation], custom_ops=False):
      output = layers.squeeze_excitation(residual, ratio=16, addend=shortcut)

  Args:
    inputs: [N, H, W, C] tensor.
    ratio: reduction ratio r.
    use_biases: whether fc1 and fc2 carry biases.
    fc2_bias_init: initial value of fc2's biases; a large positive value makes
      the gates start near 1 (the block starts as the identity).
    scope: variable scope; variables are `<scope>/fc1/{weights,biases}` and
      `<scope>/fc2/{weights,biases}`.
    addend: None, or an [N, H, W, C] tensor added before a final ReLU.
    squeezed: None, or mean_HW(inputs) [N, C] computed by the caller in
      another way (`squeeze_before`); its gradient is the caller's.
    se_gradient: 'one_pass' or 'autodiff' (graphs only).
    custom_ops: whether the tail with `addend` may run as the compiled op.

  Returns:
    The re-weighted tensor (or the tail's output), shaped like `inputs`.
  """
  _check_se_gradient(se_gradient)
  channels = inputs.shape.as_list()[-1]
  hidden = max(1, channels // ratio)
  in_graph = _is_graph_tensor(inputs)
  one_pass_gradient = se_gradient == 'one_pass' and in_graph
  fused = (custom_ops and in_graph and addend is not None and
           se_tail.available(inputs.dtype))
  with tf.compat.v1.variable_scope(scope, default_name='se', values=[inputs]):
    own_squeeze = squeezed is None
    if not own_squeeze:
      pass
    elif in_graph:
      squeezed = _squeeze(inputs, 'squeeze')
    else:
      squeezed = global_avg_pool(inputs, keepdims=False, scope='squeeze')
    if one_pass_gradient and own_squeeze:
      # The excite gradient below adds the squeeze's gradient itself.
      squeezed = tf.stop_gradient(squeezed)
    excited = fully_connected(squeezed, hidden, activation_fn=tf.nn.relu,
                              use_biases=use_biases, scope='fc1')
    gates = fully_connected(excited, channels, activation_fn=tf.sigmoid,
                            use_biases=use_biases,
                            biases_initializer_value=fc2_bias_init,
                            scope='fc2')
    from_inputs = squeezed if own_squeeze else None
    if fused and one_pass_gradient:
      return _tail_with_squeeze_gradient(inputs, gates, addend, from_inputs,
                                         'excite')
    if fused:
      return se_tail.scale_add_relu(inputs, gates, addend, name='excite')
    if one_pass_gradient:
      outputs = _excite_with_squeeze_gradient(inputs, gates, from_inputs,
                                              'excite')
    else:
      outputs = multiply(inputs, gates, scope='excite')
    if addend is None:
      return outputs
    return tf.nn.relu(addend + outputs)


@slim.add_arg_scope
def squeeze_before(inputs, layer, output_channels, is_training=True,
                   enabled=True):
  """mean_HW(layer(inputs)) computed as layer(mean_HW(inputs)), or None.

  A 1x1, stride-1 conv followed by an inference batch norm (or biases) and
  no activation commutes with the mean over H and W:
  mean_HW(BN(W h + b)) = BN(W mean_HW(h) + b) exactly (up to float
  rounding). An SE block after such a conv can then squeeze its input,
  often a quarter of the channels, instead of its output. The layer runs a
  second time on the [N, 1, 1, C_in] mean, which costs a read of its
  weights, so this pays only when the output it saves reading is larger:
  3 * N * H * W > output_channels (N = 1 when unknown).

  Example (see `nets.resnet_v1.bottleneck`):

    squeezed = layers.squeeze_before(
        h, lambda pooled: conv3_again(pooled), depth)  # None: squeeze later
    out = layers.squeeze_excitation(conv3(h), addend=shortcut,
                                    squeezed=squeezed)

  Args:
    inputs: [N, H, W, C_in], the layer's input.
    layer: `layer(tensor)` applies the same layer (reusing its variables) to
      another [N, 1, 1, C_in] tensor; it must not collect outputs.
    output_channels: the layer's output channels.
    is_training: batch norm's mode (`training_scope` sets it); in training
      (True or None) the batch statistics do not commute: None is returned.
    enabled: False always returns None.

  Returns:
    [N, output_channels], or None: the caller squeezes the layer's output.
  """
  if not (enabled and is_training is False and _is_graph_tensor(inputs)):
    return None
  batch, height, width = inputs.shape.as_list()[:3]
  if height is None or width is None:
    return None
  if 3 * (batch or 1) * height * width <= output_channels:
    return None
  pooled = _squeeze(inputs, 'squeeze_input')[:, tf.newaxis, tf.newaxis, :]
  return tf.squeeze(layer(pooled), [1, 2])


def _check_se_gradient(se_gradient):
  if se_gradient not in SE_GRADIENTS:
    raise ValueError('Unknown se_gradient %r; valid: %s' % (
        se_gradient, ', '.join(SE_GRADIENTS)))


def _is_graph_tensor(value):
  # KerasTensors of an eager functional model are not tf.Tensors.
  return not tf.executing_eagerly() and isinstance(value, tf.Tensor)


def _squeeze(inputs, scope):
  """Mean over H and W, [N, H, W, C] -> [N, C], as one full-window avg pool.

  With oneDNN ops on, the pool runs as a oneDNN primitive, faster than
  `reduce_mean` on ResNet-50's SE inputs (the same values up to float
  rounding). Unknown H or W: `reduce_mean`.
  """
  height, width = inputs.shape.as_list()[1:3]
  if height is None or width is None:
    return tf.reduce_mean(inputs, [1, 2], name=scope)
  with tf.compat.v1.name_scope(scope):
    pooled = tf.nn.avg_pool2d(inputs, [height, width], [height, width],
                              'VALID')
    return tf.squeeze(pooled, [1, 2])


def _squeeze_shift(gates, squeezed, d_gates, area):
  """The squeeze's share of the input gradient, d_squeezed / (H*W), [N, C].

  None when the caller squeezed another tensor (`squeezed` None)."""
  if squeezed is None:
    return None
  d_squeezed, = tf.gradients(gates, squeezed, grad_ys=d_gates)
  return d_squeezed / area


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
    squeezed: `stop_gradient(mean_HW(inputs))`, [N, C]; or None when the
      gates do not depend on `inputs`.
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
      # oneDNN ops the pool is faster than Sum over the middle axes.
      d_gates = _squeeze(x * dy, 'gates_gradient') * area
      shift = _squeeze_shift(g, squeezed, d_gates, area)
      d_x = dy * g[:, tf.newaxis, tf.newaxis, :]
      if shift is not None:
        d_x += shift[:, tf.newaxis, tf.newaxis, :]
      return d_x, d_gates
    return multiply(x, g, scope=scope), gradient

  return excite(inputs, gates)


def _tail_with_squeeze_gradient(inputs, gates, addend, squeezed, scope):
  """relu(inputs * gates + addend) as compiled ops, squeeze gradient included.

  Forward, one pass (`se_tail.scale_add_relu`). Backward, two: the first
  gives d_addend = dy * (y > 0) and d_gates = sum_HW(d_addend * inputs)
  together, the second d_inputs = d_addend * gates + d_squeezed / (H*W)
  (`se_tail.channel_affine`), where TensorFlow's ops take ReluGrad, two Mul,
  a sum, and the squeeze's Tile and AddN.

  Args:
    inputs: [N, H, W, C].
    gates: [N, C], a function of `squeezed` only.
    addend: [N, H, W, C].
    squeezed: `stop_gradient(mean_HW(inputs))`, or None when the gates do
      not depend on `inputs`.
    scope: the op's name.

  Returns:
    The tail's output, shaped like `inputs`.
  """

  @tf.custom_gradient
  def tail(x, g, s):
    y = se_tail.scale_add_relu(x, g, s, name=scope)

    def gradient(dy):
      shape = tf.shape(x)
      area = tf.cast(shape[1] * shape[2], dy.dtype)
      d_s, d_g = se_tail.scale_add_relu_gradients(dy, y, x, g)
      shift = _squeeze_shift(g, squeezed, d_g, area)
      d_x = se_tail.channel_affine(
          d_s, g, tf.zeros_like(g) if shift is None else shift)
      return d_x, d_g, d_s
    return y, gradient

  return tail(inputs, gates, addend)


_DISPATCHERS = [conv2d, batch_norm, max_pool2d, global_avg_pool,
                fully_connected, flatten, multiply]
