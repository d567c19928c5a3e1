"""How far a warm-started SE-ResNet starts from the plain ResNet it came from.

Warm-starting `se_resnet_v1_50` from `resnet_v1_50.ckpt` restores every
non-SE variable; the SE gates `sigmoid(fc2(...))` start at their initial
values, and the larger fc2's initial bias, the closer the gates are to 1 and
the SE network to the plain network's function. `logit_distances` measures
that at step 0 for a list of fc2 bias values: both networks are built in one
graph from the same checkpoint, the SE blocks are initialised once (fixed
seed) and only fc2's biases are set to each value in turn.

Without a trained checkpoint, `synthetic_checkpoint` writes a stand-in:
random (He) weights with batch norm calibrated on the input batch, so every
layer sees normalised activations as in a trained network.

    python -m diagnostics.warm_start_distance --checkpoint_path=resnet_v1_50.ckpt \\
        --fc2_bias_values=0,2,5,10,20

Library use:

    rows = warm_start_distance.logit_distances(
        'resnet_v1_50.ckpt', 'se_resnet_v1_50', [0.0, 5.0, 10.0], images)
    rows[1].relative   # max |logits_se - logits_plain| / max |logits_plain|
"""
import collections
import os
import tempfile

import numpy as np

from nets import names
from nets import options as options_lib

# The model options this tool takes (the others are the sweep's, or fixed).
_OPTIONS = ('depth_multiplier', 'topology')


def _define_flags():
  # pylint: disable=g-import-not-at-top
  from absl import flags
  # pylint: enable=g-import-not-at-top
  flags.DEFINE_string('checkpoint_path', None, 'Plain ResNet checkpoint; '
                      'default: a synthetic one (random, BN calibrated).')
  flags.DEFINE_string('model_name', 'se_resnet_v1_50', 'SE network name.')
  flags.DEFINE_list('fc2_bias_values', ['0', '1', '2', '3', '5', '10', '20'],
                    'fc2 initial biases to measure.')
  flags.DEFINE_enum('style', names.DEFAULT_STYLE, list(names.STYLES),
                    'Layer style.')
  flags.DEFINE_integer('image_size', 224, 'Input size.')
  flags.DEFINE_integer('batch_size', 2, 'Images (uniform noise in [-1, 1]).')
  flags.DEFINE_integer('num_classes', 1000, 'Logits size of the checkpoint.')
  flags.DEFINE_integer('seed', 0, 'Seed of images and initial weights.')
  options_lib.define_flags(flags.FLAGS, only=_OPTIONS,
                           defaults={'depth_multiplier': 1.0})


def _check_flags():
  from absl import flags  # pylint: disable=g-import-not-at-top
  names.check_network(flags.FLAGS.model_name)
  if not names.is_se_network(flags.FLAGS.model_name):
    raise ValueError('--model_name=%s is not an SE network; valid SE names: '
                     '%s' % (flags.FLAGS.model_name,
                             ', '.join(names.SE_RESNET_NAMES)))
  options_lib.check(flags.FLAGS.model_name,
                    options_lib.from_flags(flags.FLAGS, only=_OPTIONS),
                    prefix='--')


if __name__ == '__main__':
  # A bad flag is reported before TensorFlow loads (the imports below).
  from runtime import script_util  # pylint: disable=g-import-not-at-top
  script_util.check_flags_early(_define_flags, _check_flags)

# pylint: disable=g-import-not-at-top,wrong-import-position
from checkpointing import checkpoints
from nets import nets_factory
from runtime.tf_compat import tf
# pylint: enable=g-import-not-at-top,wrong-import-position

v1 = tf.compat.v1

Distance = collections.namedtuple('Distance', [
    'fc2_bias', 'max_abs', 'relative', 'top1_agreement', 'mean_gate',
    'min_gate'])
Distance.__doc__ = """Step-0 distance of the SE network's logits to the plain one's.

Attributes:
  fc2_bias: fc2's bias in every SE block.
  max_abs: max |logits_se - logits_plain|.
  relative: `max_abs / max |logits_plain|`.
  top1_agreement: fraction of images with the same arg-max class.
  mean_gate, min_gate: over all SE gates of all images.
"""


def plain_name(se_model_name):
  """'se_resnet_v1_50' -> 'resnet_v1_50'."""
  if not se_model_name.startswith('se_'):
    raise ValueError('%r is not an SE network name; valid SE names: %s' % (
        se_model_name, ', '.join(n for n in nets_factory.network_names()
                                 if nets_factory.is_se_network(n))))
  return se_model_name[len('se_'):]


def synthetic_checkpoint(model_name, checkpoint_prefix, images, style='slim',
                         num_classes=1000, seed=0, write_state=True,
                         **model_options):
  """Writes random weights with batch norm calibrated on `images`.

  The moving mean and variance of every batch norm are set to the statistics
  of `images` in that layer (one training-mode pass with decay 0), so the
  network in inference mode normalises its activations as a trained one does.

  Example:

    path = synthetic_checkpoint('resnet_v1_50', '/tmp/r50/model.ckpt',
                                np.random.rand(2, 224, 224, 3))

  Args:
    model_name: a network name of `nets_factory`.
    checkpoint_prefix: where to write (the saver's prefix).
    images: [N, H, W, 3] array the batch norm statistics are taken from.
    style: layer style of the graph (the names are Slim's in every style).
    num_classes: logits of the network.
    seed: graph seed of the random weights.
    write_state: also write the directory's `checkpoint` state file.
    **model_options: builder options (e.g. depth_multiplier).

  Returns:
    The checkpoint prefix, written with Slim names.
  """
  with tf.Graph().as_default():
    v1.set_random_seed(seed)
    network_fn = nets_factory.get_network_fn(
        model_name, num_classes, is_training=True, style=style,
        batch_norm_decay=0.0, **model_options)
    network_fn(tf.constant(images, tf.float32))
    updates = v1.get_collection(v1.GraphKeys.UPDATE_OPS)
    saver = v1.train.Saver(
        checkpoints.slim_named_variables(v1.global_variables()))
    with v1.Session() as session:
      session.run(v1.global_variables_initializer())
      session.run(updates)
      return saver.save(session, checkpoint_prefix, write_meta_graph=False,
                        write_state=write_state)


def logit_distances(checkpoint_path, se_model_name, fc2_bias_values, images,
                    style='slim', num_classes=1000, seed=0, **model_options):
  """Step-0 logit distance of a warm-started SE network, per fc2 bias.

  Args:
    checkpoint_path: the plain network's checkpoint.
    se_model_name: e.g. 'se_resnet_v1_50'; the plain network is the same
      name without 'se_'.
    fc2_bias_values: the fc2 biases to try.
    images: [N, H, W, 3] array.
    style: layer style of both networks.
    num_classes: logits size (that of the checkpoint).
    seed: graph seed of the SE blocks' initial weights.
    **model_options: options of both networks (e.g. depth_multiplier) and
      SE options (e.g. se_ratio) of the SE network.

  Returns:
    A list of `Distance`, one per bias value.
  """
  plain_options = {k: v for k, v in model_options.items()
                   if k not in options_lib.SE_NAMES}
  with tf.Graph().as_default():
    v1.set_random_seed(seed)
    inputs = tf.constant(images, tf.float32)
    plain_logits, _ = nets_factory.get_network_fn(
        plain_name(se_model_name), num_classes, style=style,
        **plain_options)(inputs)
    se_logits, _ = nets_factory.get_network_fn(
        se_model_name, num_classes, style=style, **model_options)(inputs)
    plain_vars = v1.global_variables(plain_name(se_model_name) + '/')
    se_vars = v1.global_variables(se_model_name + '/')
    plain_init, _ = checkpoints.warm_start_fn(checkpoint_path, plain_vars)
    se_init, _ = checkpoints.warm_start_from_resnet(
        checkpoint_path, se_vars, model_scope=se_model_name)
    gates = [op.outputs[0] for op in v1.get_default_graph().get_operations()
             if op.type == 'Sigmoid' and op.name.startswith(se_model_name)
             and '/se/' in op.name]
    fc2_biases = [v for v in se_vars
                  if checkpoints.slim_name(v).endswith('/se/fc2/biases')]
    if not fc2_biases:
      raise ValueError('%s has no SE fc2 biases (se_use_biases=False?)' %
                       se_model_name)
    rows = []
    with v1.Session() as session:
      session.run(v1.global_variables_initializer())
      plain_init(session)
      se_init(session)
      plain = session.run(plain_logits)
      for bias in fc2_bias_values:
        for variable in fc2_biases:
          variable.load(np.full(variable.shape.as_list(), bias), session)
        se, gate_values = session.run([se_logits, gates])
        gate_values = np.concatenate([g.ravel() for g in gate_values])
        max_abs = float(np.max(np.abs(se - plain)))
        rows.append(Distance(
            fc2_bias=float(bias), max_abs=max_abs,
            relative=max_abs / float(np.max(np.abs(plain))),
            top1_agreement=float(np.mean(
                np.argmax(se, -1) == np.argmax(plain, -1))),
            mean_gate=float(gate_values.mean()),
            min_gate=float(gate_values.min())))
  return rows


def format_table(rows):
  """The distances as printable text."""
  lines = ['%9s %12s %12s %8s %10s %10s' % (
      'fc2 bias', 'max |dlogit|', 'relative', 'top-1 =', 'mean gate',
      'min gate')]
  for row in rows:
    lines.append('%9g %12.4g %12.4g %8.2f %10.6f %10.6f' % row)
  return '\n'.join(lines)


def main(argv):
  # pylint: disable=g-import-not-at-top
  from absl import flags
  from runtime import script_util
  # pylint: enable=g-import-not-at-top
  if len(argv) > 1:
    return script_util.fail('unexpected arguments: %s' % ' '.join(argv[1:]),
                            script_util.FLAG_ERROR)
  f = flags.FLAGS
  images = np.random.RandomState(f.seed).uniform(
      -1, 1, [f.batch_size, f.image_size, f.image_size, 3]).astype(np.float32)
  options = options_lib.from_flags(f, only=_OPTIONS)
  with tempfile.TemporaryDirectory() as tmp:
    checkpoint = f.checkpoint_path or synthetic_checkpoint(
        plain_name(f.model_name), os.path.join(tmp, 'model.ckpt'), images,
        style=f.style, num_classes=f.num_classes, seed=f.seed, **options)
    rows = logit_distances(checkpoint, f.model_name,
                           [float(b) for b in f.fc2_bias_values], images,
                           style=f.style, num_classes=f.num_classes,
                           seed=f.seed, **options)
  print('%s warm-started from %s, %d images of %dx%d' % (
      f.model_name, f.checkpoint_path or 'a synthetic %s checkpoint' %
      plain_name(f.model_name), f.batch_size, f.image_size, f.image_size))
  print(format_table(rows))


if __name__ == '__main__':
  # pylint: disable=g-import-not-at-top
  from absl import app
  # pylint: enable=g-import-not-at-top
  app.run(main, flags_parser=script_util.parse_flags)
