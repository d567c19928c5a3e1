"""The model flags shared by the scripts, with Slim's names where Slim has them.

A script defines them at import time and turns them into a `ModelConfig`:

    from absl import flags
    from modeling import model_flags
    model_flags.define_model_flags()
    ...
    config = model_flags.model_config_from_flags(flags.FLAGS,
                                                 image_size=FLAGS.eval_image_size)

Flags: `model_name`, `layer_style`, `preprocessing_name`, `labels_offset`,
`use_grayscale` (Slim's), and one flag per model option of `nets.options`
under the builder keyword's name (`depth_multiplier`, `se_ratio`,
`topology`, ...). Unset option flags leave the builder's default (so plain
ResNets get no SE option).
"""
import dataclasses

from absl import flags

from modeling import model_config
from nets import names
from nets import options as options_lib


def define_model_flags(default_model_name='se_resnet_v1_50',
                       flag_values=flags.FLAGS):
  """Defines the model flags on `flag_values`: the `ModelConfig` fields and
  one flag per row of `nets.options`."""
  fv = dict(flag_values=flag_values)
  flags.DEFINE_string(
      'model_name', default_model_name,
      'The network, e.g. se_resnet_v1_50, resnet_v1_50, simple_cnn.', **fv)
  flags.DEFINE_enum(
      'layer_style', names.DEFAULT_STYLE, list(names.STYLES),
      'How the layers are written: slim, raw or keras (same variables).', **fv)
  flags.DEFINE_string(
      'preprocessing_name', None,
      'The preprocessing; default: the dataset\'s for digits, mnist and '
      'cifar10 (small images), else the one of --model_name.', **fv)
  flags.DEFINE_integer(
      'labels_offset', 0,
      'Subtracted from the dataset labels; the network has num_classes - '
      'labels_offset logits (1 for Slim ResNet checkpoints on ImageNet).',
      **fv)
  flags.DEFINE_bool('use_grayscale', False,
                    'Feed grayscale (one channel) images to the network.',
                    **fv)
  options_lib.define_flags(flag_values)


def model_options_from_flags(flag_values):
  """The set builder/arg-scope options, e.g. {'se_ratio': 8}."""
  return options_lib.from_flags(flag_values)


def model_config_from_flags(flag_values, image_size=None, weight_decay=0.0):
  """A `ModelConfig` from the flags of `define_model_flags`."""
  return model_config.ModelConfig(
      model_name=flag_values.model_name,
      layer_style=flag_values.layer_style,
      preprocessing_name=flag_values.preprocessing_name,
      labels_offset=flag_values.labels_offset,
      image_size=image_size,
      use_grayscale=flag_values.use_grayscale,
      weight_decay=weight_decay,
      model_options=model_options_from_flags(flag_values))


# Sidecar entry -> model flag, for the flags a converted checkpoint sets.
_SIDECAR_FLAGS = ('model_name', 'topology', 'labels_offset')
# The torch preprocessing's keywords that a sidecar records.
_SIDECAR_PREPROCESSING_OPTIONS = ('mean', 'std', 'crop_pct', 'interpolation')


def apply_checkpoint_sidecar(flag_values, checkpoint_path,
                             take_labels_offset=True):
  """Takes the unset model flags from a converted checkpoint's sidecar.

  `convert_torch_checkpoint.py` writes `<prefix>.json` beside the checkpoint:
  the network, its topology and options, the labels offset and the input
  preprocessing it was trained with. A flag given on the command line wins
  (and is reported when it differs); the others are set from the sidecar.

  Args:
    flag_values: parsed flags of `define_model_flags` (changed in place).
    checkpoint_path: `--checkpoint_path`; only a checkpoint prefix can have a
      sidecar (a directory of this project's checkpoints has none).
    take_labels_offset: False when the logits are not restored (fine-tuning
      new logits: the sidecar's offset is about its own classes); or a
      function of the flags, called once the network is set from the sidecar.

  Returns:
    (preprocessing_options, messages): the preprocessing keywords for
    `ModelConfig.preprocessing_options` ({} without a sidecar; `image_size`
    is the input size the network was trained at, not a keyword) and one log
    line per decision.

  Raises:
    ValueError: the sidecar is unreadable or names an option no flag takes.

  Example:
    options, messages = apply_checkpoint_sidecar(FLAGS, FLAGS.checkpoint_path)
  """
  # pylint: disable=g-import-not-at-top
  from torch_checkpoints import sidecar as sidecar_lib
  # pylint: enable=g-import-not-at-top
  if not checkpoint_path:
    return {}, []
  data = sidecar_lib.read_sidecar(checkpoint_path)
  if data is None:
    return {}, []
  source = sidecar_lib.sidecar_path(checkpoint_path)
  messages = []

  def take(name, value):
    flag = flag_values[name]
    if flag.present:
      if flag.value != value:
        messages.append('--%s=%s overrides %s=%r of %s' %
                        (name, flag.value, name, value, source))
      return
    flag.value = value
    messages.append('%s=%r from %s' % (name, value, source))

  wanted = {name: data[name] for name in _SIDECAR_FLAGS if name in data}
  labels_offset = wanted.pop('labels_offset', None)
  wanted.update(data.get('model_options', {}))
  preprocessing = dict(data.get('preprocessing') or {})
  if preprocessing.get('name'):
    wanted['preprocessing_name'] = preprocessing['name']
  for name, value in wanted.items():
    if name not in flag_values:
      raise ValueError('%s sets %s, which no flag of this script takes' %
                       (source, name))
    take(name, value)
  if callable(take_labels_offset):  # Decided on the network now chosen.
    take_labels_offset = take_labels_offset(flag_values)
  if labels_offset is not None and take_labels_offset:
    take('labels_offset', labels_offset)
  if flag_values.preprocessing_name != preprocessing.get('name'):
    return {}, messages  # Another preprocessing was asked for.
  options = {k: preprocessing[k] for k in _SIDECAR_PREPROCESSING_OPTIONS
             if k in preprocessing}
  if 'image_size' in preprocessing:
    options['image_size'] = preprocessing['image_size']
  return options, messages


def model_config_from_flags_and_sidecar(flag_values, checkpoint_path,
                                        image_size=None, weight_decay=0.0,
                                        log=print):
  """`model_config_from_flags` after `apply_checkpoint_sidecar`.

  Example:
    config = model_config_from_flags_and_sidecar(
        FLAGS, FLAGS.checkpoint_path, image_size=FLAGS.eval_image_size,
        log=logging.info)
  """
  options, messages = apply_checkpoint_sidecar(flag_values, checkpoint_path)
  trained_size = options.pop('image_size', None)
  if image_size is None and trained_size:
    image_size = trained_size
    messages.append('image size %d from the sidecar of %s' %
                    (image_size, checkpoint_path))
  for message in messages:
    log(message)
  config = model_config_from_flags(flag_values, image_size=image_size,
                                   weight_decay=weight_decay)
  return dataclasses.replace(config, preprocessing_options=options)
