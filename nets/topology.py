"""Where a ResNet strides and how its stem pools: the topology presets, as data.

No TensorFlow here: the scripts check `--topology` before TensorFlow loads;
the stem pools are built by `resnet_utils.stem_pool`.

ResNets of the same depth and widths (and so the same variables) exist in
several arrangements that change every activation:

| preset          | strided unit        | strides | stem pool        | shortcut |
|-----------------|---------------------|---------|------------------|----------|
| `slim`          | last of blocks 1-3  | 3x3     | 3x3/2 `SAME`     | subsample|
| `caffe`         | first of blocks 2-4 | 1x1     | 3x3/2, ceil mode | project  |
| `caffe_resnext` | first of blocks 2-4 | 3x3     | 3x3/2, ceil mode | project  |
| `torch`         | first of blocks 2-4 | 3x3     | 3x3/2, padding 1 | project  |

("strides": the unit's conv that carries the stride; "shortcut": that of a
strided unit whose depth does not change, a 1x1 max pool with the stride or
a strided 1x1 conv; a unit whose depth changes always has the conv.)

`slim` is Slim's `resnet_v1_*` (and so its checkpoints); `caffe` the SENet
authors' SE-ResNets (released for Caffe; the PyTorch ports keep it) and the
original ResNet paper's, whose multiply-adds the papers quote; `caffe_resnext`
their SE-ResNeXts; `torch` torchvision's and timm's ResNets, ResNeXts and
SE-ResNe(X)ts ("ResNet v1.5"). A strided conv with a kernel larger than 1
pads (k - 1) // 2 on every side, as torch's `padding=k // 2` does (Slim's
`conv2d_same`), in every preset.

The stem pools:
- `same`: TF's `SAME` max pool (windows at 0, 2, ...; an odd size pads one
  pixel on each side, an even one at the bottom/right).
- `ceil`: no padding, output `ceil((H - 3) / 2) + 1` (Caffe, and torch's
  `ceil_mode=True`): an even input gets one pixel of the lowest value at the
  bottom/right, i.e. the same windows as `same`; an odd one none.
- `pad1`: one pixel of the lowest value on every side, output
  `floor((H - 1) / 2) + 1` (torch's `padding=1`).

Example:

    from nets import topology
    preset = topology.get('torch')
    preset.block_strides            # (1, 2, 2, 2)
    net = resnet_utils.stem_pool(net, preset.stem_pool)
"""
import collections

STRIDE_UNITS = ('last', 'first')
STRIDE_CONVS = ('conv2', 'conv1')
STEM_POOLS = ('same', 'ceil', 'pad1')
SHORTCUTS = ('subsample', 'projection')


class Topology(collections.namedtuple(
    'Topology', ['name', 'stride_unit', 'stride_conv', 'stem_pool',
                 'shortcut'])):
  """One arrangement of a ResNet (data, no code).

  Attributes:
    name: the preset's name.
    stride_unit: 'last' (the last unit of blocks 1-3 strides, Slim) or
      'first' (the first unit of blocks 2-4).
    stride_conv: the conv of a strided unit that strides: 'conv2' (the 3x3)
      or 'conv1' (the first 1x1).
    stem_pool: the 3x3/2 max pool after conv1: 'same', 'ceil' or 'pad1'.
    shortcut: a strided unit whose depth does not change: 'subsample' (a 1x1
      max pool with the stride, no variables; Slim) or 'projection' (a 1x1
      conv with the stride, as every unit whose depth changes).
  """

  def __new__(cls, name, stride_unit, stride_conv, stem_pool, shortcut):
    for field, value, valid in (('stride_unit', stride_unit, STRIDE_UNITS),
                                ('stride_conv', stride_conv, STRIDE_CONVS),
                                ('stem_pool', stem_pool, STEM_POOLS),
                                ('shortcut', shortcut, SHORTCUTS)):
      if value not in valid:
        raise ValueError('Unknown %s %r; valid: %s' % (field, value,
                                                       ', '.join(valid)))
    return super().__new__(cls, name, stride_unit, stride_conv, stem_pool,
                           shortcut)

  @property
  def block_strides(self):
    """Strides of blocks 1-4 (each carried by one unit, see `stride_unit`)."""
    return (2, 2, 2, 1) if self.stride_unit == 'last' else (1, 2, 2, 2)


TOPOLOGIES = collections.OrderedDict((t.name, t) for t in (
    Topology('slim', 'last', 'conv2', 'same', 'subsample'),
    Topology('caffe', 'first', 'conv1', 'ceil', 'projection'),
    Topology('caffe_resnext', 'first', 'conv2', 'ceil', 'projection'),
    Topology('torch', 'first', 'conv2', 'pad1', 'projection'),
))
NAMES = tuple(TOPOLOGIES)
# Slim's arrangement, the default of resnet_v1_* and se_resnet_v1_*.
DEFAULT = 'slim'


def get(name):
  """The `Topology` called `name` (a `Topology` passes through).

  Raises:
    ValueError: unknown name, listing the valid ones.
  """
  if isinstance(name, Topology):
    return name
  if name not in TOPOLOGIES:
    raise ValueError('Unknown topology %r; valid topologies: %s' %
                     (name, ', '.join(NAMES)))
  return TOPOLOGIES[name]
