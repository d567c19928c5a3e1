r"""Makes tests/fixtures/torch/: small PyTorch SE-ResNet / SE-ResNeXt / ResNet state dicts.

The converter tests (convert_torch_checkpoint.py) compare our logits with torch's without
needing torch: this script, run once where torch lives, builds small networks FROM THE REAL
CLASSES of pretrainedmodels, timm and torchvision, gives them random weights with calibrated
batch-norm statistics, and writes what the tests read:

  <name>.pth            torch.save(state_dict) in torch's zip format (torch >= 1.6),
  <name>_legacy.pth     the same in torch's legacy format (_use_new_zipfile_serialization=False,
                        as the 2018 pretrainedmodels files),
  <name>.safetensors    safetensors.torch.save_file(state_dict) (as timm files on model hubs),
  <name>.npz            inputs_<H> (batch 2, NCHW float32 RGB, already normalised with the
                        ImageNet mean/std) and logits_<H> ([2, num_classes] float32) for H in
                        IMAGE_SIZES, torch in eval mode,
  manifest.json         per fixture: files, source package/class/layout, our model_name,
                        topology, model_options (builder keywords), num_classes, widths, sizes.

Each fixture has at least one of the three weight formats; one has all three (FORMATS below).
Everything is float32 and adds up to under 3,000,000 bytes (--max_total_bytes; 2.92 MB
as committed).

Fixtures (units per block (1, 1, 1, 1), i.e. our *_14 models, 10 classes):

  pretrainedmodels_se_resnet_14   pretrainedmodels SENet + SEResNetBottleneck (the SENet
                                  authors' Caffe SE-ResNet: stride on the first 1x1, stem pool
                                  3x3/2 ceil mode) -> se_resnet_v1_14, topology caffe;
                                  legacy .pth, as the released files.
  pretrainedmodels_se_resnext_14  pretrainedmodels SENet + SEResNeXtBottleneck (32 groups,
                                  stride on the grouped 3x3) -> se_resnext_14_32x4d, topology
                                  caffe_resnext; legacy .pth.
  timm_seresnet_14                timm ResNet(Bottleneck, SE attn_layer) -> se_resnet_v1_14,
                                  topology torch (stem pool padding 1, stride on the 3x3);
                                  all three formats.
  torchvision_resnet_14           torchvision ResNet(Bottleneck) -> resnet_v1_14, topology
                                  torch; zip .pth holding a training checkpoint
                                  {'arch', 'epoch', 'state_dict'} whose keys carry the
                                  'module.' prefix of nn.DataParallel.
  timm_seresnext_14               timm ResNet(Bottleneck, cardinality 32, base_width 4, SE)
                                  -> se_resnext_14_32x4d, topology torch; safetensors.

Widths follow our builders: planes_i = max(int(base_i * depth_multiplier), min_base_depth)
with base = (64, 128, 256, 512); unit output 4 * planes_i; plain/SE bottleneck width planes_i;
ResNeXt width floor(planes_i * 4 / 64) * 32; SE hidden units max(1, C // 16); the stem stays
64 filters 7x7/2. The torch models are built with those planes: pretrainedmodels' SENet and
torchvision's ResNet hard-code planes 64..512, so their layer1..4 are rebuilt with the class's
own `_make_layer` at the small planes; timm's ResNet takes them as `channels=`.
The unit depth must change from block to block (torch gives every strided unit a projection
shortcut, Slim only units whose depth changes), so:
  * SE-ResNet / ResNet: depth_multiplier 0.072 -> planes (8, 9, 18, 36), unit depths
    (32, 36, 72, 144), SE hidden (2, 2, 4, 9); nothing but --depth_multiplier is needed to
    build them.
  * SE-ResNeXt: a 32x4d width needs planes >= 16 (32 groups of 1 channel), and a plain
    depth_multiplier >= 0.25 would take 2 MB, so depth_multiplier 0.133 with min_base_depth
    16 -> planes (16, 17, 34, 68), widths (32, 32, 64, 128) (1, 1, 2, 4 channels per group),
    unit depths (64, 68, 136, 272), SE hidden (4, 4, 8, 17); block1 keeps the stem's 64
    channels, so it has no projection shortcut.
The manifest's model_options holds the builder keywords (min_base_depth only where it is not
the default 8).

Deviations from the stock models, each identical at full size or irrelevant to the weights:
  * pretrainedmodels' SENet ends with a fixed nn.AvgPool2d(7); it is replaced by a global
    average (nn.AdaptiveAvgPool2d(1)), which is what AvgPool2d(7) computes at 224x224.
  * timm's SE rounds its hidden width to a multiple of 8 (rd_divisor); ours is C // 16, so the
    timm fixtures pass timm's own SEModule with rd_channels = C // 16. For every stock timm
    seresnet*/seresnext* (C = 256..2048) both give C / 16.
  * timm's zero_init_last (bn3 gamma = 0) is undone: every BN gamma is randomised.

Weights: each package's default init for convs and the classifier; BN gamma uniform in
[0.6, 1.4], beta normal with std 0.2; SE weights normal with std 2 / sqrt(fan_in) and biases
with std 0.5, so that the gates spread over (0, 1) (the manifest records their range). BN
statistics are then calibrated: cumulative averages (momentum None) over
CALIBRATION_BATCHES train-mode batches of random normalised images, then eval mode, so
activations keep their scale and no unit is trivially zero. The reference logits are computed in float64 from the float32 weights;
the manifest also records how far torch's own float32 forward is from them.

Image sizes 48 and 49 (small, to keep the .npz files small): at 48 the stem conv gives 24 rows
and blocks 2 and 3 get 12 and 6, even sizes, where a symmetric 3x3/2 conv and torch's stem pool
(padding 1) differ from SAME padding and Caffe's ceil-mode pool pads one row; at 49 the stem
conv gives 25 rows, where Caffe's ceil-mode pool (12 windows, no padding) differs from SAME
(13). Block 4 ends at 2x2 at both sizes. So a network built with the wrong stem pool or
stride placement misses the logits at one size or both by far more than float32 rounding.

Run where torch, torchvision, timm, pretrainedmodels, safetensors and numpy are installed, a
scratch virtualenv outside the checkout (torch is not a dependency of this project), from the
repository root:

  python3 -m venv /path/to/torchenv
  /path/to/torchenv/bin/pip install torch torchvision timm pretrainedmodels safetensors numpy six
  /path/to/torchenv/bin/python tools/make_torch_fixtures.py --output_dir tests/fixtures/torch

The script reloads every file it wrote (torch.load with weights_only=True, safetensors) and
checks it against the model before writing the manifest. The values depend on the torch
version's random streams, so regenerated fixtures differ in their numbers, not in their form.
"""
import argparse
import collections
import copy
import functools
import hashlib
import json
import math
import os
import sys

import numpy as np
import pretrainedmodels
from pretrainedmodels.models import senet as pm_senet
import safetensors
import safetensors.torch
import timm
from timm.layers import squeeze_excite as timm_se
from timm.models import resnet as timm_resnet
import torch
from torch import nn
import torchvision
from torchvision.models import resnet as tv_resnet

BASE_PLANES = (64, 128, 256, 512)
UNITS = (1, 1, 1, 1)
SE_RATIO = 16
NUM_CLASSES = 10
IMAGE_SIZES = (48, 49)
BATCH_SIZE = 2
CALIBRATION_BATCHES = 6
CALIBRATION_BATCH_SIZE = 8
CALIBRATION_SIZE = 64
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
MAX_TOTAL_BYTES = 3 * 1000 * 1000

FORMATS = ('zip', 'legacy', 'safetensors')
SUFFIXES = {'zip': '.pth', 'legacy': '_legacy.pth', 'safetensors': '.safetensors'}
FORMAT_NAMES = {'zip': 'torch-zip', 'legacy': 'torch-legacy', 'safetensors': 'safetensors'}

Fixture = collections.namedtuple('Fixture', [
    'name', 'package', 'cls', 'block', 'layout', 'model_name', 'topology', 'depth_multiplier',
    'min_base_depth', 'resnext', 'with_se', 'formats', 'build', 'wrapper', 'seed'])


def planes(depth_multiplier, min_base_depth):
  """Per-block planes as our builders compute them."""
  return [max(int(base * depth_multiplier), min_base_depth) for base in BASE_PLANES]


def resnext_width(planes_i):
  """Bottleneck width of a 32x4d unit: floor(planes * 4 / 64) groups-of-4 times 32."""
  return int(math.floor(planes_i * 4 / 64)) * 32


def se_hidden(channels):
  return max(1, channels // SE_RATIO)


def timm_se_layer(channels, **kwargs):
  """timm's own SEModule with our hidden width C // 16 (timm rounds to multiples of 8)."""
  return timm_se.SEModule(channels, rd_channels=se_hidden(channels), **kwargs)


def build_pretrainedmodels(fixture):
  """pretrainedmodels SENet as its se_resnet50 / se_resnext50_32x4d, at small planes."""
  block = pm_senet.SEResNeXtBottleneck if fixture.resnext else pm_senet.SEResNetBottleneck
  groups = 32 if fixture.resnext else 1
  model = pm_senet.SENet(block, list(UNITS), groups=groups, reduction=SE_RATIO,
                         dropout_p=None, inplanes=64, input_3x3=False,
                         downsample_kernel_size=1, downsample_padding=0,
                         num_classes=NUM_CLASSES)
  model.inplanes = 64
  for i, p in enumerate(planes(fixture.depth_multiplier, fixture.min_base_depth)):
    layer = model._make_layer(block, planes=p, blocks=UNITS[i], groups=groups,
                              reduction=SE_RATIO, stride=1 if i == 0 else 2,
                              downsample_kernel_size=1, downsample_padding=0)
    setattr(model, 'layer%d' % (i + 1), layer)
  model.avg_pool = nn.AdaptiveAvgPool2d(1)
  model.last_linear = nn.Linear(model.inplanes, NUM_CLASSES)
  return model


def build_timm(fixture):
  """timm ResNet as its seresnet50 / seresnext50_32x4d, at small planes."""
  kwargs = dict(block=timm_resnet.Bottleneck, layers=UNITS, num_classes=NUM_CLASSES,
                channels=tuple(planes(fixture.depth_multiplier, fixture.min_base_depth)))
  if fixture.resnext:
    kwargs.update(cardinality=32, base_width=4)
  if fixture.with_se:
    kwargs['block_args'] = dict(attn_layer=timm_se_layer)
  return timm_resnet.ResNet(**kwargs)


def build_torchvision(fixture):
  """torchvision ResNet(Bottleneck) with its layer1..4 rebuilt at small planes."""
  model = tv_resnet.ResNet(tv_resnet.Bottleneck, list(UNITS), num_classes=NUM_CLASSES)
  model.inplanes = 64
  for i, p in enumerate(planes(fixture.depth_multiplier, fixture.min_base_depth)):
    setattr(model, 'layer%d' % (i + 1),
            model._make_layer(tv_resnet.Bottleneck, p, UNITS[i], stride=1 if i == 0 else 2))
  model.fc = nn.Linear(model.inplanes, NUM_CLASSES)
  return model


FIXTURES = (
    Fixture('pretrainedmodels_se_resnet_14', 'pretrainedmodels', 'SENet',
            'SEResNetBottleneck', 'pretrainedmodels', 'se_resnet_v1_14', 'caffe', 0.072, 8,
            False, True, ('legacy',), build_pretrainedmodels, None, 1),
    Fixture('pretrainedmodels_se_resnext_14', 'pretrainedmodels', 'SENet',
            'SEResNeXtBottleneck', 'pretrainedmodels', 'se_resnext_14_32x4d', 'caffe_resnext',
            0.133, 16, True, True, ('legacy',), build_pretrainedmodels, None, 2),
    Fixture('timm_seresnet_14', 'timm', 'ResNet', 'Bottleneck', 'timm', 'se_resnet_v1_14',
            'torch', 0.072, 8, False, True, FORMATS, build_timm, None, 3),
    Fixture('torchvision_resnet_14', 'torchvision', 'ResNet', 'Bottleneck', 'torchvision',
            'resnet_v1_14', 'torch', 0.072, 8, False, False, ('zip',), build_torchvision,
            'training_checkpoint', 4),
    Fixture('timm_seresnext_14', 'timm', 'ResNet', 'Bottleneck', 'timm', 'se_resnext_14_32x4d',
            'torch', 0.133, 16, True, True, ('safetensors',), build_timm, None, 5),
)

MODULES = {'pretrainedmodels': pm_senet, 'timm': timm_resnet, 'torchvision': tv_resnet}


def normalised_images(generator, batch, size):
  """Random 8-bit RGB images in [0, 1], normalised by the ImageNet mean/std, NCHW float32."""
  pixels = torch.randint(0, 256, (batch, 3, size, size), generator=generator)
  images = pixels.to(torch.float32) / 255.0
  mean = torch.tensor(MEAN).view(1, 3, 1, 1)
  std = torch.tensor(STD).view(1, 3, 1, 1)
  return ((images - mean) / std).to(torch.float32)


def se_modules(model):
  return [m for m in model.modules()
          if isinstance(m, (pm_senet.SEModule, timm_se.SEModule))]


def randomise(model, generator):
  """BN affine and SE parameters away from their defaults, so none is trivially 0 or 1."""
  with torch.no_grad():
    for module in model.modules():
      if isinstance(module, nn.BatchNorm2d):
        module.weight.copy_(torch.rand(module.weight.shape, generator=generator) * 0.8 + 0.6)
        module.bias.copy_(torch.randn(module.bias.shape, generator=generator) * 0.2)
    # SE: the same init for every package (timm's own conv init saturates the gates), scaled
    # so that weights and biases both move the gates, which then spread over (0, 1).
    for se in se_modules(model):
      for fc in (se.fc1, se.fc2):
        fan_in = fc.weight.shape[1]
        fc.weight.copy_(torch.randn(fc.weight.shape, generator=generator) * 2 / fan_in**0.5)
        fc.bias.copy_(torch.randn(fc.bias.shape, generator=generator) * 0.5)


def calibrate(model, generator, image_size=CALIBRATION_SIZE):
  """Batch-norm statistics as cumulative averages over train-mode batches, then eval mode."""
  bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
  for bn in bns:
    bn.reset_running_stats()
    bn.momentum = None
  model.train()
  with torch.no_grad():
    for _ in range(CALIBRATION_BATCHES):
      model(normalised_images(generator, CALIBRATION_BATCH_SIZE, image_size))
  for bn in bns:
    bn.momentum = 0.1
  model.eval()


def gate_spread(model, images):
  """Statistics of the SE gates over the images: shows they are neither saturated nor ~0.5."""
  gates = []

  def hook(module, inputs, output):
    # SE multiplies its input by the gates: read them back where the input is not ~0.
    positive = inputs[0] > 1e-3
    gates.append((output[positive] / inputs[0][positive]).flatten())

  handles = [se.register_forward_hook(hook) for se in se_modules(model)]
  with torch.no_grad():
    model(images)
  for h in handles:
    h.remove()
  if not gates:
    return None
  values = torch.cat(gates)
  middle = ((values > 0.05) & (values < 0.95)).to(torch.float64).mean()
  return {'min': round(float(values.min()), 4), 'max': round(float(values.max()), 4),
          'mean': round(float(values.mean()), 4), 'between_0.05_and_0.95': round(float(middle), 3)}


def sha256(path):
  digest = hashlib.sha256()
  with open(path, 'rb') as f:
    for chunk in iter(functools.partial(f.read, 1 << 20), b''):
      digest.update(chunk)
  return digest.hexdigest()


def save_weights(state_dict, fmt, path):
  if fmt == 'zip':
    torch.save(state_dict, path)
  elif fmt == 'legacy':
    torch.save(state_dict, path, _use_new_zipfile_serialization=False)
  else:
    safetensors.torch.save_file(
        collections.OrderedDict((k, v.contiguous()) for k, v in state_dict.items()), path)


def load_weights(fmt, path):
  if fmt == 'safetensors':
    return safetensors.torch.load_file(path)
  return torch.load(path, map_location='cpu', weights_only=True)


def training_checkpoint(state_dict, arch):
  """What an ImageNet training script saves for a model wrapped in nn.DataParallel."""
  return {'arch': arch, 'epoch': 1,
          'state_dict': collections.OrderedDict(
              ('module.' + k, v) for k, v in state_dict.items())}


def unwrap(saved):
  state_dict = saved['state_dict']
  return collections.OrderedDict((k[len('module.'):], v) for k, v in state_dict.items())


def check_same(expected, actual, path):
  if set(expected) != set(actual):
    raise SystemExit('error: %s: keys differ from the model\'s state dict' % path)
  for key, value in expected.items():
    if not torch.equal(value, actual[key]):
      raise SystemExit('error: %s: %s differs from the model\'s value' % (path, key))


def make_fixture(fixture, output_dir):
  torch.manual_seed(fixture.seed)
  generator = torch.Generator().manual_seed(1000 + fixture.seed)
  model = fixture.build(fixture)
  randomise(model, generator)
  calibrate(model, generator)
  state_dict = model.state_dict()

  files = {}
  for fmt in fixture.formats:
    filename = fixture.name + SUFFIXES[fmt]
    path = os.path.join(output_dir, filename)
    if fixture.wrapper:
      save_weights(training_checkpoint(state_dict, fixture.model_name), fmt, path)
      check_same(state_dict, unwrap(load_weights(fmt, path)), path)
    else:
      save_weights(state_dict, fmt, path)
      check_same(state_dict, load_weights(fmt, path), path)
    files[FORMAT_NAMES[fmt]] = {'file': filename, 'bytes': os.path.getsize(path),
                                'sha256': sha256(path)}
    if fixture.wrapper:
      files[FORMAT_NAMES[fmt]]['wrapper'] = {
          'kind': fixture.wrapper, 'state_dict_key': 'state_dict', 'key_prefix': 'module.',
          'other_keys': {'arch': fixture.model_name, 'epoch': 1}}

  # Fixed inputs: one generator per fixture, seeded by the fixture (same for every run).
  input_generator = torch.Generator().manual_seed(2000 + fixture.seed)
  model64 = copy.deepcopy(model).double().eval()
  arrays, float32_error, max_logit, spread = {}, 0.0, {}, {}
  for size in IMAGE_SIZES:
    images = normalised_images(input_generator, BATCH_SIZE, size)
    with torch.no_grad():
      reference = model64(images.double())
      single = model(images).double()
    scale = float(reference.abs().max())
    float32_error = max(float32_error, float((single - reference).abs().max()) / scale)
    max_logit[str(size)] = round(scale, 6)
    spread[str(size)] = gate_spread(model, images)
    arrays['inputs_%d' % size] = images.numpy()
    arrays['logits_%d' % size] = reference.to(torch.float32).numpy()
  npz_name = fixture.name + '.npz'
  npz_path = os.path.join(output_dir, npz_name)
  np.savez_compressed(npz_path, **arrays)

  plane_list = planes(fixture.depth_multiplier, fixture.min_base_depth)
  widths = [resnext_width(p) if fixture.resnext else p for p in plane_list]
  if min(widths) < 32 and fixture.resnext:
    raise SystemExit('error: %s: a ResNeXt width below 32 (planes %s)' % (
        fixture.name, plane_list))
  model_options = {'depth_multiplier': fixture.depth_multiplier}
  if fixture.min_base_depth != 8:
    model_options['min_base_depth'] = fixture.min_base_depth
  module = MODULES[fixture.package]
  return {
      'name': fixture.name,
      'source': {
          'package': fixture.package,
          'class': '%s.%s' % (module.__name__, fixture.cls),
          'block': '%s.%s' % (module.__name__, fixture.block),
          'layout': fixture.layout,
      },
      'model_name': fixture.model_name,
      'topology': fixture.topology,
      'model_options': model_options,
      'num_classes': NUM_CLASSES,
      'units_per_block': list(UNITS),
      'planes': plane_list,
      'unit_depths': [4 * p for p in plane_list],
      'bottleneck_widths': widths,
      'groups': 32 if fixture.resnext else 1,
      'se_hidden': [se_hidden(4 * p) for p in plane_list] if fixture.with_se else None,
      'parameters': sum(v.numel() for k, v in state_dict.items()
                        if not k.endswith(('running_mean', 'running_var',
                                           'num_batches_tracked'))),
      'state_dict_keys': len(state_dict),
      'files': files,
      'logits': {'file': npz_name, 'bytes': os.path.getsize(npz_path), 'sha256': sha256(npz_path),
                 'image_sizes': list(IMAGE_SIZES), 'batch_size': BATCH_SIZE,
                 'max_abs_logit': max_logit,
                 'torch_float32_max_rel_error': float('%.3g' % float32_error)},
      'se_gate_range': spread if fixture.with_se else None,
  }


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
  parser.add_argument('--output_dir', default=os.path.join('tests', 'fixtures', 'torch'),
                      help='Directory to write the fixtures and manifest.json into.')
  parser.add_argument('--max_total_bytes', type=int, default=MAX_TOTAL_BYTES,
                      help='Fail if the fixtures add up to more than this.')
  args = parser.parse_args(argv)
  os.makedirs(args.output_dir, exist_ok=True)
  torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))

  entries = []
  for fixture in FIXTURES:
    entry = make_fixture(fixture, args.output_dir)
    entries.append(entry)
    print('%-32s %-22s %-14s params %7d  %s  max rel fp32 %.2g' % (
        fixture.name, fixture.model_name, fixture.topology, entry['parameters'],
        ' '.join('%s %d B' % (k, v['bytes']) for k, v in entry['files'].items()),
        entry['logits']['torch_float32_max_rel_error']))

  manifest = {
      'format': 'slim-senet-torch-fixtures',
      'version': 1,
      'generator': 'tools/make_torch_fixtures.py',
      'versions': {
          'torch': torch.__version__, 'torchvision': torchvision.__version__,
          'timm': timm.__version__, 'pretrainedmodels': pretrainedmodels.__version__,
          'safetensors': safetensors.__version__, 'numpy': np.__version__,
      },
      'preprocessing': {'mean': list(MEAN), 'std': list(STD), 'input_range': [0, 1],
                        'layout': 'NCHW', 'channels': 'RGB'},
      'logits_dtype': 'float32 (computed in float64 from the float32 weights)',
      'fixtures': entries,
  }
  manifest_path = os.path.join(args.output_dir, 'manifest.json')
  with open(manifest_path, 'w') as f:
    json.dump(manifest, f, indent=2, sort_keys=False)
    f.write('\n')
  total = os.path.getsize(manifest_path) + sum(
      e['logits']['bytes'] + sum(v['bytes'] for v in e['files'].values()) for e in entries)
  print('total %d bytes (%.2f MB) in %s' % (total, total / 2**20, args.output_dir))
  if total > args.max_total_bytes:
    print('error: the fixtures take %d bytes, more than --max_total_bytes=%d; use smaller '
          'widths or fewer formats' % (total, args.max_total_bytes), file=sys.stderr)
    return 1
  return 0


if __name__ == '__main__':
  sys.exit(main())
