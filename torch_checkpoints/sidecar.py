"""The sidecar JSON beside a converted checkpoint: what the scripts need to
use it the way it was trained (network, topology, labels offset, input
preprocessing) and where it came from.

`--output=DIR/NAME` of `convert_torch_checkpoint.py` writes `DIR/NAME.index`,
`DIR/NAME.data-00000-of-00001` and `DIR/NAME.json`:

    {"format": "slim-senet-converted-checkpoint", "version": 1,
     "model_name": "se_resnet_v1_50", "topology": "caffe",
     "model_options": {"depth_multiplier": 1.0}, "layer_style": "slim",
     "num_classes": 1000, "labels_offset": 1,
     "preprocessing": {"name": "torch", "mean": [...], "std": [...],
                       "input_range": [0, 1], "image_size": 224,
                       "resize_size": 256, "crop_pct": 0.875,
                       "interpolation": "bilinear"},
     "source": {"file": "se_resnet50-ce0d4300.pth", "sha256": "...",
                "format": "torch-legacy", "layout": "pretrainedmodels"}}

`labels_offset` is 1 for a 1000-class ImageNet head (Slim's ImageNet
TFRecords have 1001 classes, background first), else 0.

Example:

    options = sidecar.read_sidecar('/tmp/se_resnet50/model')
    if options:
      topology = options['topology']
"""
import json
import math
import os

FORMAT = 'slim-senet-converted-checkpoint'
VERSION = 1
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class SidecarError(ValueError):
  """A sidecar file exists but is not one this code can read."""


def sidecar_path(checkpoint_path):
  """'DIR/NAME' (or 'DIR/NAME.index', 'DIR/NAME.json') -> 'DIR/NAME.json'."""
  for suffix in ('.index', '.json'):
    if checkpoint_path.endswith(suffix):
      checkpoint_path = checkpoint_path[:-len(suffix)]
  return checkpoint_path + '.json'


def torch_preprocessing(image_size=224, crop_pct=0.875,
                        interpolation='bilinear', mean=IMAGENET_MEAN,
                        std=IMAGENET_STD):
  """The sidecar's `preprocessing` entry for torch-style inputs."""
  return {
      'name': 'torch',
      'mean': [float(m) for m in mean],
      'std': [float(s) for s in std],
      'input_range': [0, 1],
      'image_size': int(image_size),
      'resize_size': int(math.floor(image_size / crop_pct)),
      'crop_pct': float(crop_pct),
      'interpolation': interpolation,
  }


def make_sidecar(model_name, topology, model_options, layer_style,
                 num_classes, preprocessing, source):
  """The sidecar dict (see the module docstring)."""
  return {
      'format': FORMAT,
      'version': VERSION,
      'model_name': model_name,
      'topology': topology,
      'model_options': dict(model_options),
      'layer_style': layer_style,
      'num_classes': int(num_classes),
      'labels_offset': 1 if num_classes == 1000 else 0,
      'preprocessing': preprocessing,
      'source': source,
  }


def read_sidecar(checkpoint_prefix):
  """The sidecar dict of a converted checkpoint, or None if it has none.

  Args:
    checkpoint_prefix: the checkpoint as passed to `--checkpoint_path`
      (`DIR/NAME`, not a directory; resolve a directory to its latest
      checkpoint first). A trailing `.index` or `.json` is accepted.

  Returns:
    The dict written by `convert_torch_checkpoint.py`, or None when no
    `<prefix>.json` exists (e.g. a checkpoint this project trained).

  Raises:
    SidecarError: the JSON is unreadable, of another format or of a newer
      version; the message names the file.
  """
  path = sidecar_path(checkpoint_prefix)
  if not os.path.isfile(path):
    return None
  try:
    with open(path) as f:
      data = json.load(f)
  except (OSError, ValueError) as e:
    raise SidecarError('%s: unreadable sidecar JSON (%s)' % (path, e)) from None
  if not isinstance(data, dict) or data.get('format') != FORMAT:
    raise SidecarError('%s: not a converted-checkpoint sidecar (its format is '
                       '%r, expected %r)' % (
                           path, data.get('format') if isinstance(data, dict)
                           else type(data).__name__, FORMAT))
  if not isinstance(data.get('version'), int) or data['version'] > VERSION:
    raise SidecarError('%s: sidecar version %r is newer than this code '
                       'reads (%d)' % (path, data.get('version'), VERSION))
  return data
