"""Shared helpers of the SE-ResNet, warm-start and Keras-model tests.

Tiny networks (`se_resnet_v1_14` with `TINY` options: bottleneck widths
8/16/32/64, outputs 32..256 channels) keep structure tests fast; random,
non-trivial values for every variable (batch norm statistics included) make
the comparisons sensitive to any wiring mistake.
"""
import numpy as np

from checkpointing import checkpoints
from nets import nets_factory
from runtime.tf_compat import tf

v1 = tf.compat.v1

TINY = {'depth_multiplier': 0.125}
STYLES = ('slim', 'raw', 'keras')


def random_value(name, shape, rng):
  """A plausible random value for a Slim-named variable."""
  leaf = name.rsplit('/', 1)[-1]
  if leaf == 'weights':
    fan_in = int(np.prod(shape[:-1]))
    return rng.normal(0.0, np.sqrt(2.0 / fan_in), shape)
  if leaf in ('gamma', 'moving_variance'):
    return rng.uniform(0.5, 1.5, shape)
  if leaf in ('beta', 'moving_mean', 'biases'):
    return rng.normal(0.0, 0.1, shape)
  raise ValueError('No random rule for variable %s' % name)


def randomize(session, variables, seed=0):
  """Loads random values into `variables`; returns {slim name: value}."""
  rng = np.random.RandomState(seed)
  values = {}
  for variable in sorted(variables, key=checkpoints.slim_name):
    name = checkpoints.slim_name(variable)
    value = random_value(name, variable.shape.as_list(), rng).astype(
        np.float32)
    variable.load(value, session)
    values[name] = value
  return values


def build(model_name, images, num_classes, style='slim', is_training=False,
          weight_decay=0.0, **model_options):
  """Builds `model_name` on `images` in the current graph."""
  network_fn = nets_factory.get_network_fn(
      model_name, num_classes, weight_decay=weight_decay,
      is_training=is_training, style=style, **model_options)
  return network_fn(images)


def write_random_checkpoint(prefix, model_name, num_classes, image_size=32,
                            seed=0, **model_options):
  """Writes a Slim-named checkpoint of random values; returns (path, values)."""
  with tf.Graph().as_default():
    images = v1.placeholder(tf.float32, [None, image_size, image_size, 3])
    build(model_name, images, num_classes, **model_options)
    variables = v1.global_variables()
    saver = v1.train.Saver(checkpoints.slim_named_variables(variables))
    with v1.Session() as session:
      values = randomize(session, variables, seed)
      path = saver.save(session, prefix, write_meta_graph=False)
  return path, values


def images(batch, size, seed=0):
  return np.random.RandomState(seed).uniform(
      -1.0, 1.0, [batch, size, size, 3]).astype(np.float32)


def restored_logits(style, model_name, checkpoint, inputs, num_classes,
                    **model_options):
  """Inference logits of `model_name` in `style` restored from `checkpoint`."""
  with tf.Graph().as_default():
    logits, _ = build(model_name, tf.constant(inputs), num_classes,
                      style=style, **model_options)
    with v1.Session() as session:
      report = checkpoints.restore(session, checkpoint)
      assert not report.fresh and not report.unused, report.summary()
      return session.run(logits)


def relative_difference(a, b):
  """max |a - b| / max |b| (DESIGN's tolerance convention)."""
  return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))
