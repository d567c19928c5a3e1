"""Grouped convolution (ResNeXt's cardinality) as one TF op where TF can.

A grouped conv splits the C input channels into `groups` groups of C/g and
the K filters into as many groups of K/g; group i of the output sees group i
of the input only. TF's `Conv2D` computes it when the filter's input depth
is C/g (weights [kh, kw, C/g, K], the layout of torch's [K, C/g, kh, kw]
transposed), forward on every CPU build. Its gradients, however, exist on
CPU only in the oneDNN kernels: with `TF_ENABLE_ONEDNN_OPTS=0` the backward
convolutions fail ("Gradients for grouped convolutions are not supported on
CPU"). `convolution()` then builds the conv as `groups` convolutions of
slices of the input and of the same weights, concatenated (the same values;
slower; batch norm is then not folded into it).

Example:

    outputs = grouped.convolution(inputs, weights, groups=32, strides=[1, 1],
                                  padding='SAME')
"""
import functools

from runtime.tf_compat import tf

v1 = tf.compat.v1


def _pair(value):
  return list(value) if isinstance(value, (list, tuple)) else [value, value]


@functools.lru_cache(maxsize=None)
def native_gradients():
  """Whether this TF computes grouped `Conv2D` gradients (probed once).

  True with oneDNN ops (TensorFlow's default on x86 Linux), False with
  `TF_ENABLE_ONEDNN_OPTS=0` on CPU.
  """
  with tf.Graph().as_default():
    inputs = tf.ones([1, 1, 1, 2])
    weights = tf.ones([1, 1, 1, 2])
    outputs = tf.nn.conv2d(inputs, weights, 1, 'VALID')
    gradients = tf.gradients(outputs, [inputs, weights])
    with v1.Session() as session:
      try:
        session.run(gradients)
      except (tf.errors.InvalidArgumentError, tf.errors.UnimplementedError):
        return False
  return True


def check_groups(in_depth, num_outputs, groups):
  """Raises ValueError unless both depths divide by `groups`."""
  if groups < 1 or in_depth % groups or num_outputs % groups:
    raise ValueError('A grouped convolution needs input depth (%s) and '
                     'output depth (%s) divisible by groups=%s' %
                     (in_depth, num_outputs, groups))


def convolution(inputs, weights, groups=1, strides=1, padding='SAME',
                dilations=1):
  """`tf.nn.convolution` of NHWC `inputs` with grouped HWIO `weights`.

  Args:
    inputs: [N, H, W, C].
    weights: [kh, kw, C / groups, K].
    groups: number of groups.
    strides, padding, dilations: as `tf.nn.convolution`.

  Returns:
    [N, H', W', K]: one Conv2D op, or (no native gradients, see
    `native_gradients`) the concatenation of per-group convolutions.
  """
  kwargs = dict(strides=_pair(strides), padding=padding,
                dilations=_pair(dilations))
  if groups == 1 or native_gradients():
    return tf.nn.convolution(inputs, weights, **kwargs)
  with tf.name_scope('grouped'):
    per_input = inputs.shape[-1] // groups
    per_output = weights.shape[-1] // groups
    outputs = [
        tf.nn.convolution(
            inputs[..., i * per_input:(i + 1) * per_input],
            weights[..., i * per_output:(i + 1) * per_output], **kwargs)
        for i in range(groups)]
    return tf.concat(outputs, axis=-1)
