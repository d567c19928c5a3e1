"""Shared helpers for the ResNet v1 / layer-style tests (not a test module).

The tests build the same network in the three layer styles, give it one set of
weights through a Slim-named checkpoint, and compare what comes out. These
helpers hold the pieces every such test needs.
"""
import numpy as np

from checkpointing import checkpoints
from nets import layers
from nets import resnet_v1
from runtime.tf_compat import slim, tf

v1 = tf.compat.v1

STYLES = layers.STYLES

# Bottleneck widths of the tiny test ResNet (outputs 4x) and its units per
# block: cheap to build and run, and still every kind of unit: projection
# shortcut with stride 1 (block1/unit_1) and 2 (block2), pooled shortcut
# (block1/unit_2), identity shortcut (block4).
TINY_BASE_DEPTHS = (2, 4, 8, 8)
TINY_UNITS = (2, 1, 1, 1)


def tiny_blocks():
  """Four blocks like ResNet v1's, with widths 2..8 and 1-2 units each."""
  return [
      resnet_v1.resnet_v1_block('block%d' % (i + 1), base, units, stride)
      for i, (base, units, stride) in enumerate(
          zip(TINY_BASE_DEPTHS, TINY_UNITS, resnet_v1.BLOCK_STRIDES))
  ]


def tiny_resnet(inputs, num_classes=None, is_training=False, scope='tiny',
                **kwargs):
  """`resnet_v1.resnet_v1` on `tiny_blocks()`; kwargs as `resnet_v1`."""
  return resnet_v1.resnet_v1(inputs, tiny_blocks(), num_classes,
                             is_training=is_training, scope=scope, **kwargs)


def build_in_style(style, network_fn, *args, weight_decay=0.0001, **kwargs):
  """Calls `network_fn(*args, **kwargs)` in the ResNet arg scope of `style`."""
  with slim.arg_scope(resnet_v1.resnet_arg_scope(style=style,
                                                 weight_decay=weight_decay)):
    return network_fn(*args, **kwargs)


def ramp_images(batch, height, width, channels=3):
  """Slim's `create_input`: pixel (y, x) holds y + x, scaled to ~[0, 1]."""
  ramp = np.arange(height)[:, None] + np.arange(width)[None, :]
  ramp = ramp / float(height + width)
  return np.tile(ramp[None, :, :, None],
                 [batch, 1, 1, channels]).astype(np.float32)


def random_images(shape, seed=0):
  return np.random.RandomState(seed).uniform(-1, 1, shape).astype(np.float32)


def signature(variables):
  """Sorted [(slim name, shape)] of `variables` (Keras names mapped)."""
  return sorted((checkpoints.slim_name(v), tuple(v.shape.as_list()))
                for v in variables)


def graph_summary(graph):
  """Slim-named variables of the collections the style contract covers."""
  with graph.as_default():
    return {
        'global': signature(v1.global_variables()),
        'model': signature(v1.model_variables()),
        'trainable': signature(v1.trainable_variables()),
        'update_ops': len(v1.get_collection(v1.GraphKeys.UPDATE_OPS)),
        'regularization_losses': len(
            v1.get_collection(v1.GraphKeys.REGULARIZATION_LOSSES)),
    }


def load_values(session, values):
  """Assigns {variable: numpy value} in one session run.

  One run, not one per variable: every new fetch on a large graph costs a
  fresh executor (~0.2 s on ResNet-101).
  """
  if not values:
    return
  feeds = {v.initializer.inputs[1]: x for v, x in values.items()}
  session.run([v.initializer for v in values], feeds)


def set_batch_norm_statistics(session, variables, seed=0):
  """Gives every batch-norm variable a non-trivial value.

  After initialisation gamma=1, beta=0, mean=0, variance=1: a network that
  read them in the wrong place, or not at all, would still agree. The values
  keep activations of a deep ResNet at order 1 (gamma < 1 damps each
  residual branch).
  """
  rng = np.random.RandomState(seed)
  ranges = {'gamma': (0.2, 0.6), 'beta': (-0.2, 0.2),
            'moving_mean': (-0.2, 0.2), 'moving_variance': (0.5, 2.0)}
  values = {}
  for variable in variables:
    kind = variable.op.name.rsplit('/', 1)[-1]
    if '/BatchNorm/' in variable.op.name and kind in ranges:
      low, high = ranges[kind]
      values[variable] = rng.uniform(
          low, high, variable.shape.as_list()).astype(np.float32)
  assert values, 'no batch-norm variables among %d' % len(variables)
  load_values(session, values)


def set_all_variables(session, variables, seed=0, scale=0.3):
  """Loads random values into every variable (BN ones as above)."""
  rng = np.random.RandomState(seed)
  load_values(session, {
      v: rng.normal(0.0, scale, v.shape.as_list()).astype(np.float32)
      for v in variables if '/BatchNorm/' not in v.op.name})
  set_batch_norm_statistics(session, variables, seed)


def save_slim_checkpoint(session, variables, path):
  """Saves `variables` of any style under their Slim names; returns the path."""
  saver = v1.train.Saver(checkpoints.slim_named_variables(variables))
  return saver.save(session, path, write_meta_graph=False,
                    write_state=False)


def restore_exactly(session, checkpoint, variables=None):
  """Restores every variable, failing unless the checkpoint fits exactly."""
  report = checkpoints.restore(session, checkpoint, variables)
  assert not report.fresh, report.summary()
  assert not report.unused, report.summary()
  assert not report.excluded, report.summary()
  assert not report.mismatched, report.summary()
  return report


def relative_difference(value, reference):
  """max|value - reference| / max|reference| (shapes must agree)."""
  value = np.asarray(value)
  reference = np.asarray(reference)
  assert value.shape == reference.shape, (value.shape, reference.shape)
  scale = np.abs(reference).max()
  assert scale > 0, 'reference is all zeros: nothing is compared'
  return float(np.abs(value - reference).max() / scale)


def by_slim_name(variables, values):
  """{slim name: value} from parallel lists of variables and values."""
  return {checkpoints.slim_name(v): x for v, x in zip(variables, values)}
