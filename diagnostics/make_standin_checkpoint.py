r"""Writes a stand-in for a trained checkpoint, to try everything offline.

Slim's trained ResNets (`resnet_v1_50.ckpt` & co.) are downloads. The stand-in
has the same variables, names and shapes as the real file, as tf_slim's
`resnet_v1_50` makes them under its `resnet_arg_scope` (convs without biases,
each followed by batch norm; 267 variables for ResNet-50), with random (He)
weights and batch norm statistics calibrated on a batch of noise, so its
logits are finite and varied. Every command that takes the real file takes
the stand-in; only the predictions mean nothing.

    python -m diagnostics.make_standin_checkpoint --model_name=resnet_v1_50 \
        --output=/tmp/slim/resnet_v1_50.ckpt

It writes `<output>.index` and `<output>.data-00000-of-00001` (TensorFlow's
current format; Slim's 2016 file is one `resnet_v1_50.ckpt` in the older
format), read by the same prefix. A network building option of the factory
such as `--depth_multiplier` is not offered: the stand-in is of the
published networks. Exit status: 0, 2 for a bad flag.

Library use: `write_standin('resnet_v1_50', '/tmp/slim/resnet_v1_50.ckpt')`.
"""
import os

from absl import flags

from nets import names

_CALIBRATION_BATCH = 2


def define_flags():
  flags.DEFINE_string('model_name', 'resnet_v1_50',
                      'Network whose trained checkpoint to stand in for.')
  flags.DEFINE_string('output', None,
                      'Checkpoint prefix to write, e.g. '
                      '/tmp/slim/resnet_v1_50.ckpt (directories are made).')
  flags.DEFINE_integer('num_classes', 1000,
                       'Logits (1000 for Slim\'s ImageNet ResNets).')
  flags.DEFINE_integer('image_size', 64,
                       'Size of the noise images the batch norm statistics '
                       'are calibrated on (the variables do not depend on '
                       'it).')
  flags.DEFINE_integer('seed', 0, 'Seed of the weights and the noise.')
  flags.mark_flag_as_required('output')


def _check_flags():
  f = flags.FLAGS
  names.check_network(f.model_name)
  if f.num_classes < 1:
    raise ValueError('--num_classes must be at least 1, got %d' %
                     f.num_classes)
  if f.image_size < 32:
    raise ValueError('--image_size must be at least 32, got %d' %
                     f.image_size)
  if not os.path.basename(f.output):
    raise ValueError('--output must name a file prefix, got %r' % f.output)


if __name__ == '__main__':
  # A bad flag is reported before TensorFlow loads (the imports below).
  from runtime import script_util  # pylint: disable=g-import-not-at-top
  script_util.check_flags_early(define_flags, _check_flags)

# pylint: disable=g-import-not-at-top,wrong-import-position
import numpy as np

from diagnostics import warm_start_distance
from runtime.tf_compat import tf
# pylint: enable=g-import-not-at-top,wrong-import-position


def write_standin(model_name, output, num_classes=1000, image_size=64,
                  seed=0):
  """Writes a random checkpoint with the variables of `model_name`.

  Args:
    model_name: a network name, e.g. 'resnet_v1_50'.
    output: checkpoint prefix to write; its directory is made if missing.
    num_classes: logits of the network.
    image_size: size of the noise the batch norm statistics come from.
    seed: seed of the weights and the noise.

  Returns:
    `(prefix, number of variables)`.

  Example:
    prefix, count = write_standin('resnet_v1_50', '/tmp/slim/resnet_v1_50.ckpt')
  """
  directory = os.path.dirname(os.path.abspath(output))
  os.makedirs(directory, exist_ok=True)
  images = np.random.RandomState(seed).uniform(
      -1, 1, [_CALIBRATION_BATCH, image_size, image_size, 3]).astype(
          np.float32)
  prefix = warm_start_distance.synthetic_checkpoint(
      model_name, output, images, num_classes=num_classes, seed=seed,
      write_state=False)
  return prefix, len(tf.train.list_variables(prefix))


def main(argv):
  from runtime import script_util  # pylint: disable=g-import-not-at-top
  f = flags.FLAGS

  def write():
    prefix, count = write_standin(f.model_name, f.output, f.num_classes,
                                  f.image_size, f.seed)
    print('Wrote a stand-in %s checkpoint (random weights, batch norm '
          'calibrated on noise): %d variables -> %s' % (
              f.model_name, count, prefix))

  return script_util.graph_mode_main(argv, write, check=_check_flags)


if __name__ == '__main__':
  # pylint: disable=g-import-not-at-top
  from absl import app
  # pylint: enable=g-import-not-at-top
  app.run(main, flags_parser=script_util.parse_flags)
