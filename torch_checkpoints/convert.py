"""Converts a torch ResNet-family state dict into a Slim-named TF checkpoint.

The steps, each of which fails with one line naming the file and the cause:
read the file (safetensors, torch zip or legacy; never executing it), unwrap
the state dict, recognise its key layout, infer the network (or check it
against the requested one), map names and layouts, check every name and shape
against the target network's builder, and write the checkpoint and its sidecar
JSON (all files or none).

Example:

    result = convert.convert('se_resnet50-ce0d4300.pth', '/tmp/se50/model')
    result.sidecar['model_name']   # 'se_resnet_v1_50'
    result.sidecar['topology']     # 'caffe'
"""
import collections
import json
import os

from checkpointing import names
from nets import nets_factory
from nets import topology as topology_lib
from torch_checkpoints import checkpoint_writer
from torch_checkpoints import layouts
from torch_checkpoints import reader
from torch_checkpoints import sidecar as sidecar_lib
from torch_checkpoints import target
from torch_checkpoints.errors import ConversionError, UsageError

LAYER_STYLES = ('slim', 'raw', 'keras')
INTERPOLATIONS = ('bilinear', 'bicubic', 'nearest', 'area')

Result = collections.namedtuple('Result', ['files', 'sidecar', 'network',
                                           'num_tensors'])


def known_topologies():
  """The topology names the builders accept."""
  return topology_lib.NAMES


def resnet_model_names():
  """The ResNet-family network names a state dict can be converted to."""
  return [n for n in nets_factory.network_names()
          if layouts.parse_model_name(n)]


def _timm_config(path):
  """timm's `pretrained_cfg` from a `config.json` beside the file, or {}."""
  config = os.path.join(os.path.dirname(os.path.abspath(path)), 'config.json')
  try:
    with open(config) as f:
      data = json.load(f)
  except (OSError, ValueError):
    return {}
  cfg = data.get('pretrained_cfg') if isinstance(data, dict) else None
  return cfg if isinstance(cfg, dict) else {}


def preprocessing_for(path, layout, image_size=None, crop_pct=None,
                      interpolation=None):
  """The sidecar's preprocessing: flags, else timm's config.json, else the
  ImageNet defaults (224, crop 0.875, bilinear)."""
  cfg = _timm_config(path) if layout.name != 'pretrainedmodels' else {}
  input_size = cfg.get('input_size')
  if image_size is None:
    image_size = (input_size[-1] if isinstance(input_size, list) and
                  input_size else 224)
  if crop_pct is None:
    crop_pct = cfg.get('crop_pct', 0.875)
  if interpolation is None:
    interpolation = cfg.get('interpolation', 'bilinear')
  return sidecar_lib.torch_preprocessing(
      image_size=image_size, crop_pct=crop_pct, interpolation=interpolation,
      mean=cfg.get('mean', sidecar_lib.IMAGENET_MEAN),
      std=cfg.get('std', sidecar_lib.IMAGENET_STD))


def check_arguments(input_path, output_prefix, model_name=None,
                    topology=None, layer_style='slim', num_classes=None,
                    crop_pct=None, interpolation=None, image_size=None):
  """Raises UsageError for a wrong command line (before reading anything)."""
  if not input_path or not output_prefix:
    raise UsageError('--input and --output are required')
  if not os.path.isfile(input_path):
    raise UsageError('%s: no such file (--input)' % input_path)
  existing = os.path.dirname(os.path.abspath(output_prefix))
  while not os.path.exists(existing):  # The writer creates the rest.
    existing = os.path.dirname(existing)
  if not os.path.isdir(existing):
    raise UsageError('%s is a file, not a directory (--output=%s)'
                     % (existing, output_prefix))
  if os.path.isdir(output_prefix):
    raise UsageError('--output=%s is a directory; give a checkpoint prefix '
                     'such as %s' % (output_prefix,
                                     os.path.join(output_prefix, 'model')))
  if layer_style not in LAYER_STYLES:
    raise UsageError('--layer_style=%s is unknown; valid styles: %s' %
                     (layer_style, ', '.join(LAYER_STYLES)))
  if topology is not None and topology not in known_topologies():
    raise UsageError('--topology=%s is unknown; valid topologies: %s' %
                     (topology, ', '.join(known_topologies())))
  if model_name is not None and model_name not in resnet_model_names():
    raise UsageError('--model_name=%s cannot be converted from torch; valid '
                     'names: %s' % (model_name,
                                    ', '.join(resnet_model_names())))
  if num_classes is not None and num_classes < 1:
    raise UsageError('--num_classes=%d must be positive' % num_classes)
  if crop_pct is not None and not 0 < crop_pct <= 1:
    raise UsageError('--crop_pct=%g must be in (0, 1]' % crop_pct)
  if image_size is not None and image_size < 1:
    raise UsageError('--image_size=%d must be positive' % image_size)
  if interpolation is not None and interpolation not in INTERPOLATIONS:
    raise UsageError('--interpolation=%s is unknown; valid: %s' %
                     (interpolation, ', '.join(INTERPOLATIONS)))


def _model_options(network):
  options = {'depth_multiplier': network.depth_multiplier}
  if network.min_base_depth != layouts.MIN_BASE_DEPTH:
    options['min_base_depth'] = network.min_base_depth
  if network.se_ratio not in (None, layouts.DEFAULT_SE_RATIO):
    options['se_ratio'] = network.se_ratio
  return options


def check_against_model(tensors, sources, network, model_options, topology):
  """Every name and shape against the builder's variables (one error line)."""
  try:
    shapes = target.variable_shapes(network.model_name, network.num_classes,
                                    dict(model_options, topology=topology))
  except (ValueError, TypeError) as e:
    raise ConversionError('cannot build %s with %s: %s' % (
        network.model_name, model_options, e)) from None
  missing = [n for n in shapes if n not in tensors]
  unexpected = ['%s (-> %s)' % (sources[n][0], n) for n in tensors
                if n not in shapes]
  misshaped = ['%s %s -> %s %s, the model has %s' % (
      sources[n][0], sources[n][1], n, list(tensors[n].shape), shapes[n])
               for n in tensors if n in shapes and
               list(tensors[n].shape) != shapes[n]]
  problems = []
  if missing:
    problems.append('variables of %s no key maps to: %s' % (
        network.model_name, reader.short_list(missing)))
  if unexpected:
    problems.append('keys with no variable in %s: %s' % (
        network.model_name, reader.short_list(unexpected, 4)))
  if misshaped:
    problems.append('mis-shaped: %s' % reader.short_list(misshaped, 3))
  if problems:
    raise ConversionError('does not fit %s: %s' % (
        layouts.describe(network), '; '.join(problems)))


def convert(input_path, output_prefix, model_name=None, topology=None,
            layer_style='slim', num_classes=None, image_size=None,
            crop_pct=None, interpolation=None, loaded=None):
  """Converts `input_path` and writes `output_prefix`.{index,data-*,json}.

  Args:
    input_path: a `.safetensors`, `.pth`, `.pt` or `.bin` file (the format is
      read from the content).
    output_prefix: checkpoint prefix `DIR/NAME`; DIR must exist.
    model_name: e.g. 'se_resnet_v1_50'; None infers it from the file.
    topology: recorded in the sidecar; None takes the layout's default
      ('caffe' / 'caffe_resnext' for pretrainedmodels, 'torch' otherwise).
    layer_style: naming of the written variables: 'slim' and 'raw' write
      `weights`/`biases`, 'keras' writes `kernel`/`bias`.
    num_classes: if given, the head must have this many classes.
    image_size, crop_pct, interpolation: preprocessing recorded in the
      sidecar (default: timm's config.json beside the file, else 224, 0.875,
      'bilinear').
    loaded: what `reader.read_state_dict(input_path)` returned, if the
      caller has already read the file.

  Returns:
    A `Result` (files written, sidecar dict, the `layouts.Network`, number
    of tensors).

  Raises:
    UsageError: a wrong argument (exit code 2).
    ConversionError: the file cannot be converted as asked (exit code 1);
      the message starts with the input path.
  """
  check_arguments(input_path, output_prefix, model_name, topology,
                  layer_style, num_classes, crop_pct, interpolation,
                  image_size)
  state, file_format, digest = loaded or reader.read_state_dict(input_path)
  try:
    layout = layouts.recognise(state)
    network = layouts.infer_network(state, layout)
    layouts.check_request(network, model_name, num_classes)
    if network.model_name not in resnet_model_names():
      raise ConversionError('the file holds %s, a network this project does '
                            'not have' % layouts.describe(network))
    tensors, sources = layouts.to_slim(state, layout, network)
    del state
    model_options = _model_options(network)
    topology = topology or network.topology
    check_against_model(tensors, sources, network, model_options, topology)
  except UsageError:
    raise
  except ConversionError as e:
    raise ConversionError('%s: %s' % (input_path, e)) from None
  if layer_style == 'keras':
    tensors = collections.OrderedDict(
        (names.slim_to_keras_name(n), a) for n, a in tensors.items())
  sidecar = sidecar_lib.make_sidecar(
      network.model_name, topology, model_options,
      layer_style, network.num_classes,
      preprocessing_for(input_path, layout, image_size, crop_pct,
                        interpolation),
      {'file': os.path.basename(input_path), 'sha256': digest,
       'format': file_format, 'layout': layout.name})
  try:
    files = checkpoint_writer.write(output_prefix, tensors, sidecar)
  except OSError as e:
    raise UsageError('%s: cannot write the checkpoint (%s)' % (
        output_prefix, e.strerror or e)) from None
  return Result(files, sidecar, network, len(tensors))
