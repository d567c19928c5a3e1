"""Recognises torch ResNet-family state dicts and maps them to Slim names.

Key layouts (names of a torch `state_dict`):

* pretrainedmodels (and timm's `legacy_se*`): stem `layer0.conv1`,
  `layer0.bn1`; SE blocks `layer<L>.<i>.se_module.{fc1,fc2}`; head
  `last_linear`. Default topology 'caffe' ('caffe_resnext' when grouped).
* timm (`seresnet*`, `seresnext*`): stem `conv1`, `bn1`; SE blocks
  `layer<L>.<i>.se.{fc1,fc2}`; head `fc`. Default topology 'torch'.
* torchvision (and timm's plain ResNets): as timm without SE blocks.

Every unit has `conv1/bn1` (1x1), `conv2/bn2` (3x3, grouped in ResNeXt),
`conv3/bn3` (1x1) and, in the first unit of each layer, `downsample.{0,1}`
(1x1 conv, BN). SE blocks are 1x1 convs with biases.

The network is inferred from the shapes: SE keys give `se_`, 32 groups in
conv2 (weight [O, I/g, 3, 3] with I/g != I) give ResNeXt 32x4d, units per layer
give the depth, layer widths the depth multiplier and floor
(`planes_i = max(int(base_i * dm), min_base_depth)`, base 64/128/256/512,
conv3 has 4 * planes_i outputs; dm is the smallest that fits), SE hidden widths the reduction ratio (C // 16 unless
they say otherwise), the head's rows the number of classes.

Names map to the Slim scopes of `nets.resnet_v1`: `layer<L>.<i>.conv<k>` ->
`<model>/block<L>/unit_<i+1>/bottleneck_v1/conv<k>`, `bn<k>` -> its
`/BatchNorm`, `downsample` -> `shortcut`, `se(_module).fc<k>` -> `se/fc<k>`,
the stem -> `<model>/conv1`, the head -> `<model>/logits`. Conv kernels OIHW
become HWIO, FC weights [out, in] become [in, out] (the logits [1, 1, in,
out]); BN `weight, bias, running_mean, running_var` become `gamma, beta,
moving_mean, moving_variance`; `num_batches_tracked` is dropped.

Example:

    state, file_format, sha256 = reader.read_state_dict(path)
    layout = layouts.recognise(state)
    network = layouts.infer_network(state, layout)   # network.model_name
    tensors = layouts.to_slim(state, layout, network) # {slim name: array}
"""
import collections
import re

import numpy as np

from nets import resnet_v1
from torch_checkpoints import reader
from torch_checkpoints.errors import ConversionError

BASE_DEPTHS = resnet_v1.BASE_DEPTHS
MIN_BASE_DEPTH = 8
CARDINALITY = 32
WIDTH_PER_GROUP = 4
DEFAULT_SE_RATIO = 16

Layout = collections.namedtuple('Layout', [
    'name',      # 'pretrainedmodels', 'timm' or 'torchvision'
    'stem',      # 'layer0.' or ''
    'se',        # 'se_module', 'se' or None (no SE blocks)
    'head',      # 'last_linear' or 'fc'
])

Network = collections.namedtuple('Network', [
    'model_name',        # e.g. 'se_resnet_v1_50'
    'family',            # 'resnet', 'se_resnet', 'resnext', 'se_resnext'
    'depth',             # 50
    'units',             # (3, 4, 6, 3)
    'depth_multiplier',  # 1.0
    'min_base_depth',    # 8
    'se_ratio',          # 16 (None without SE)
    'num_classes',       # 1000
    'topology',          # default topology of the layout
])

_BN_PARAMS = collections.OrderedDict([
    ('weight', 'gamma'), ('bias', 'beta'), ('running_mean', 'moving_mean'),
    ('running_var', 'moving_variance')])
_UNIT_KEY = re.compile(r'^layer([1-4])\.(\d+)\.(.+)$')

FAMILY_TITLES = {'resnet': 'ResNet', 'se_resnet': 'SE-ResNet',
                 'resnext': 'ResNeXt 32x4d', 'se_resnext': 'SE-ResNeXt 32x4d'}


def model_name_of(family, depth):
  """('se_resnext', 50) -> 'se_resnext_50_32x4d'."""
  if family in ('resnext', 'se_resnext'):
    return '%s_%d_32x4d' % (family, depth)
  return '%s_v1_%d' % (family, depth)


def parse_model_name(name):
  """'se_resnet_v1_50' -> ('se_resnet', 50); None if not a ResNet name."""
  match = (re.match(r'^((?:se_)?resnet)_v1_(\d+)$', name) or
           re.match(r'^((?:se_)?resnext)_(\d+)_32x4d$', name))
  if not match:
    return None
  return match.group(1), int(match.group(2))


def recognise(state):
  """The `Layout` of a state dict; ConversionError if it is not a ResNet's."""
  if 'layer0.conv1.weight' in state:
    stem, name = 'layer0.', 'pretrainedmodels'
  elif 'conv1.weight' in state:
    stem, name = '', None
  elif 'conv1.0.weight' in state:
    raise ConversionError(
        'a ResNet with a deep stem (conv1.0, conv1.1, ...: timm\'s *d / *t '
        'variants); only the 7x7 stem (conv1.weight) is supported')
  else:
    raise ConversionError(
        'not a ResNet-family state dict: it has neither conv1.weight '
        '(timm/torchvision) nor layer0.conv1.weight (pretrainedmodels); its '
        'first keys are %s' % reader.short_list(state, 5))
  if not any(k.startswith('layer1.0.') for k in state):
    raise ConversionError('not a ResNet-family state dict: no layer1.0.* '
                          'keys; its first keys are %s' %
                          reader.short_list(state, 5))
  has = lambda part: any(('.%s.' % part) in k for k in state)
  se = 'se_module' if has('se_module') else 'se' if has('se') else None
  if name is None:
    name = 'timm' if se else 'torchvision'
  heads = [h for h in ('last_linear', 'fc') if h + '.weight' in state]
  if len(heads) != 1:
    raise ConversionError(
        'no classifier head: expected last_linear.weight or fc.weight '
        '(features-only state dicts are not supported)' if not heads else
        'two classifier heads (last_linear and fc)')
  return Layout(name, stem, se, heads[0])


def _shape(state, key):
  if key not in state:
    raise ConversionError('missing key %s' % key)
  return state[key].shape


def _units(state):
  """Units per layer, (n1, n2, n3, n4), from the layer<L>.<i>. keys."""
  indices = collections.defaultdict(set)
  for key in state:
    match = _UNIT_KEY.match(key)
    if match:
      indices[int(match.group(1))].add(int(match.group(2)))
  units = []
  for layer in range(1, 5):
    found = sorted(indices[layer])
    if not found or found != list(range(len(found))):
      raise ConversionError(
          'layer%d has units %s; a ResNet has layer1..layer4 with units '
          '0..n-1' % (layer, found or 'none'))
    units.append(len(found))
  return tuple(units)


def _groups(state, units):
  """Groups of the 3x3 convs (1 or 32), the same in every unit."""
  found = {}
  for layer, count in enumerate(units, 1):
    for i in range(count):
      prefix = 'layer%d.%d.' % (layer, i)
      width = _shape(state, prefix + 'conv1.weight')[0]
      conv2 = _shape(state, prefix + 'conv2.weight')
      if len(conv2) != 4 or conv2[1] == 0 or width % conv2[1]:
        raise ConversionError('%sconv2.weight has shape %s, not [O, I/groups, '
                              '3, 3] with I = %d' % (prefix, list(conv2),
                                                     width))
      found[prefix + 'conv2.weight'] = width // conv2[1]
  groups = sorted(set(found.values()))
  if len(groups) != 1:
    raise ConversionError('the 3x3 convs have different group counts %s' %
                          groups)
  if groups[0] not in (1, CARDINALITY):
    raise ConversionError('the 3x3 convs have %d groups; only plain (1) and '
                          'ResNeXt 32x4d (32) bottlenecks are supported' %
                          groups[0])
  return groups[0]


def _widths(planes):
  """(dm, min_base_depth) with planes_i = max(int(base_i * dm), min), or an
  error. min_base_depth is 8 (the builders' default) unless the first layers
  are clamped to a larger floor."""
  for floor in [MIN_BASE_DEPTH] + [planes[0]] * (planes[0] != MIN_BASE_DEPTH):
    free = [(p, b) for p, b in zip(planes, BASE_DEPTHS) if p > floor]
    dm = free[0][0] / free[0][1] if free else floor / BASE_DEPTHS[0]
    if [max(int(b * dm), floor) for b in BASE_DEPTHS] == list(planes):
      return float(dm), floor
  dm = planes[-1] / BASE_DEPTHS[-1]
  raise ConversionError(
      'the layer widths (planes %s, conv3 outputs / 4) are not those of a '
      'depth multiplier (planes_i = max(int(base_i * dm), min_base_depth), '
      'base %s): dm=%g gives %s' % (
          list(planes), list(BASE_DEPTHS), dm,
          [max(int(b * dm), MIN_BASE_DEPTH) for b in BASE_DEPTHS]))


def _bottleneck_width(planes, groups):
  if groups == 1:
    return planes
  return (planes * WIDTH_PER_GROUP // 64) * CARDINALITY


def _se_ratio(state, layout, units, planes):
  """The SE reduction ratio r with hidden = max(1, C // r) in every unit."""
  pairs = []
  for layer, count in enumerate(units, 1):
    for i in range(count):
      key = 'layer%d.%d.%s.fc1.weight' % (layer, i, layout.se)
      if key in state:
        pairs.append((key, 4 * planes[layer - 1], _shape(state, key)[0]))
  if not pairs:
    return None
  fit = lambda r: all(max(1, c // r) == h for _, c, h in pairs)
  if fit(DEFAULT_SE_RATIO):
    return DEFAULT_SE_RATIO
  ratios = [r for r in range(1, max(c for _, c, _ in pairs) + 1) if fit(r)]
  if not ratios:
    raise ConversionError(
        'the SE hidden widths follow no reduction ratio r (hidden = C // r): '
        '%s' % reader.short_list('%s: C=%d hidden=%d' % p for p in pairs[:4]))
  target = pairs[0][1] / pairs[0][2]
  return min(ratios, key=lambda r: (abs(r - target), r))


def _depth_of(units):
  for depth, table_units in sorted(resnet_v1.UNITS_PER_BLOCK.items()):
    if tuple(table_units) == tuple(units):
      return depth
  raise ConversionError(
      'units per layer %s match no known depth (%s)' % (
          list(units), ', '.join('%d: %s' % (d, list(u)) for d, u in sorted(
              resnet_v1.UNITS_PER_BLOCK.items()))))


def infer_network(state, layout):
  """The `Network` a state dict holds (family, depth, widths, classes)."""
  units = _units(state)
  groups = _groups(state, units)
  planes = []
  for layer in range(1, 5):
    conv3 = _shape(state, 'layer%d.0.conv3.weight' % layer)
    if conv3[0] % 4:
      raise ConversionError('layer%d.0.conv3.weight has %d outputs, not a '
                            'multiple of 4 (bottleneck expansion)' %
                            (layer, conv3[0]))
    planes.append(conv3[0] // 4)
  depth_multiplier, min_base_depth = _widths(planes)
  for layer in range(1, 5):
    width = _shape(state, 'layer%d.0.conv1.weight' % layer)[0]
    expected = _bottleneck_width(planes[layer - 1], groups)
    if width != expected:
      raise ConversionError(
          'layer%d.0.conv1.weight has %d outputs; a %s bottleneck of %d '
          'planes has %d (other widths per group are not supported)' % (
              layer, width, 'ResNeXt 32x4d' if groups > 1 else 'ResNet',
              planes[layer - 1], expected))
  se_ratio = _se_ratio(state, layout, units, planes) if layout.se else None
  family = ('se_' if layout.se else '') + (
      'resnext' if groups > 1 else 'resnet')
  depth = _depth_of(units)
  head = _shape(state, layout.head + '.weight')
  if len(head) not in (2, 4) or head[2:] not in ((), (1, 1)):
    raise ConversionError('%s.weight has shape %s, not [classes, features]' %
                          (layout.head, list(head)))
  if layout.stem:
    topology = 'caffe_resnext' if groups > 1 else 'caffe'
  else:
    topology = 'torch'
  return Network(model_name_of(family, depth), family, depth, units,
                 depth_multiplier, min_base_depth, se_ratio, int(head[0]),
                 topology)


def describe(network):
  """'SE-ResNet-50 (se_resnet_v1_50, units per layer [3, 4, 6, 3])'."""
  title = FAMILY_TITLES[network.family].split(' ')
  return '%s-%d%s (%s, units per layer %s)' % (
      title[0], network.depth, ' ' + title[1] if len(title) > 1 else '',
      network.model_name, list(network.units))


def _a(title):
  return ('an ' if title.startswith('SE') else 'a ') + title


def check_request(network, model_name=None, num_classes=None):
  """Fails if the file's network is not the one asked for."""
  if model_name and model_name != network.model_name:
    family, depth = parse_model_name(model_name)
    if family != network.family:
      what = []
      if family.startswith('se_') != network.family.startswith('se_'):
        what.append('it has SE blocks' if network.family.startswith('se_')
                    else 'it has no SE blocks')
      if ('resnext' in family) != ('resnext' in network.family):
        what.append('its 3x3 convs are grouped (32 groups)'
                    if 'resnext' in network.family else
                    'its 3x3 convs are not grouped')
      raise ConversionError(
          'the file holds %s, not %s (--model_name=%s): %s; pass '
          '--model_name=%s or leave it out' % (
              _a(describe(network)), _a(FAMILY_TITLES[family]), model_name,
              ' and '.join(what), network.model_name))
    raise ConversionError(
        'the file holds %s, but --model_name=%s has depth %d (units per '
        'layer %s); pass --model_name=%s or leave it out' % (
            _a(describe(network)), model_name, depth,
            list(resnet_v1.UNITS_PER_BLOCK.get(depth, ())),
            network.model_name))
  if num_classes is not None and num_classes != network.num_classes:
    raise ConversionError(
        'the file\'s classifier has %d classes, --num_classes=%d' %
        (network.num_classes, num_classes))


def _module_map(state, layout, network):
  """{torch module: (slim scope, kind)} for the modules the file has."""
  scope = network.model_name
  modules = collections.OrderedDict()
  modules[layout.stem + 'conv1'] = (scope + '/conv1', 'conv')
  modules[layout.stem + 'bn1'] = (scope + '/conv1/BatchNorm', 'bn')
  for layer, count in enumerate(network.units, 1):
    for i in range(count):
      torch_unit = 'layer%d.%d.' % (layer, i)
      unit = '%s/block%d/unit_%d/bottleneck_v1/' % (scope, layer, i + 1)
      for k in (1, 2, 3):
        modules[torch_unit + 'conv%d' % k] = (unit + 'conv%d' % k, 'conv')
        modules[torch_unit + 'bn%d' % k] = (unit + 'conv%d/BatchNorm' % k,
                                            'bn')
      if torch_unit + 'downsample.0.weight' in state:
        modules[torch_unit + 'downsample.0'] = (unit + 'shortcut', 'conv')
        modules[torch_unit + 'downsample.1'] = (unit + 'shortcut/BatchNorm',
                                                'bn')
      if layout.se and torch_unit + layout.se + '.fc1.weight' in state:
        for k in (1, 2):
          modules[torch_unit + '%s.fc%d' % (layout.se, k)] = (
              unit + 'se/fc%d' % k, 'fc')
  modules[layout.head] = (scope + '/logits', 'logits')
  return modules


_PARAMS = {
    'conv': [('weight', 'weights')],
    'bn': list(_BN_PARAMS.items()),
    'fc': [('weight', 'weights'), ('bias', 'biases')],
    'logits': [('weight', 'weights'), ('bias', 'biases')],
}


def _convert(array, kind, param):
  """One torch tensor -> our layout (float32), or None if its rank is wrong."""
  array = np.asarray(array, dtype=np.float32)
  if param != 'weight' or kind == 'bn':
    return array if array.ndim == 1 else None
  if kind == 'conv':
    return array.transpose(2, 3, 1, 0) if array.ndim == 4 else None
  if array.ndim == 4 and array.shape[2:] == (1, 1):
    array = array[:, :, 0, 0]
  if array.ndim != 2:
    return None
  if kind == 'fc':
    return array.T
  return array.T[np.newaxis, np.newaxis]


def to_slim(state, layout, network):
  """{slim name: float32 array in our layout}, with the torch key of each.

  Returns:
    (tensors, sources): `tensors` {slim name: array}; `sources` {slim name:
    (torch key, torch shape)} for error messages.

  Raises:
    ConversionError: keys the layout does not have (unexpected), keys it
      needs (missing), or tensors of the wrong rank, all named in one line.
  """
  modules = _module_map(state, layout, network)
  expected = {}
  for module, (slim_scope, kind) in modules.items():
    for param, slim_param in _PARAMS[kind]:
      expected['%s.%s' % (module, param)] = ('%s/%s' % (slim_scope,
                                                        slim_param), kind,
                                             param)
  ignored = {'%s.num_batches_tracked' % m for m, (_, kind) in modules.items()
             if kind == 'bn'}
  unexpected = [k for k in state if k not in expected and k not in ignored]
  missing = [k for k in expected if k not in state]
  problems = []
  if missing:
    problems.append('missing keys %s' % reader.short_list(missing))
  if unexpected:
    problems.append('unexpected keys %s' % reader.short_list(unexpected))
  if problems:
    raise ConversionError('the %s layout (%s) does not fit: %s' % (
        layout.name, describe(network), '; '.join(problems)))
  tensors, sources, bad_rank = collections.OrderedDict(), {}, []
  for key, (slim, kind, param) in expected.items():
    converted = _convert(state[key], kind, param)
    if converted is None:
      bad_rank.append('%s %s' % (key, list(state[key].shape)))
      continue
    tensors[slim] = np.ascontiguousarray(converted)
    sources[slim] = (key, list(state[key].shape))
  if bad_rank:
    raise ConversionError('tensors of the wrong rank: %s' %
                          reader.short_list(bad_rank))
  return tensors, sources
