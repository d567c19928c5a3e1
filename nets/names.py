"""The names the scripts accept, without importing TensorFlow.

Flags are parsed and checked before TensorFlow loads (which takes seconds),
so the names a flag may take live here: the networks, the layer styles and
the SE placements. `nets_factory`, `nets.layers` and `resnet_v1` use these
same tuples (a test checks that they agree).

    from nets import names
    names.check_network('se_resnet_v1_50')     # ValueError if unknown
    names.STYLES                               # ('slim', 'raw', 'keras')
"""

STYLES = ('slim', 'raw', 'keras')
DEFAULT_STYLE = 'slim'
SE_PLACEMENTS = ('standard', 'pre', 'post', 'identity')

RESNET_DEPTHS = (14, 26, 50, 101, 152, 200)
RESNET_NAMES = tuple('resnet_v1_%d' % d for d in RESNET_DEPTHS)
SE_RESNET_NAMES = tuple('se_' + n for n in RESNET_NAMES)
RESNEXT_DEPTHS = (14, 26, 50, 101)
RESNEXT_NAMES = tuple('resnext_%d_32x4d' % d for d in RESNEXT_DEPTHS)
SE_RESNEXT_NAMES = tuple('se_' + n for n in RESNEXT_NAMES)
# Every ResNet-family network: depth_multiplier and topology options.
RESNET_FAMILY_NAMES = (RESNET_NAMES + SE_RESNET_NAMES + RESNEXT_NAMES +
                       SE_RESNEXT_NAMES)
NETWORK_NAMES = tuple(sorted(RESNET_FAMILY_NAMES + ('simple_cnn',)))


def is_se_network(name):
  """Whether `name` is a squeeze-and-excitation network."""
  return name.startswith('se_')


def has_depth_multiplier(name):
  """Whether the network takes `depth_multiplier` (the ResNets do)."""
  return name in RESNET_FAMILY_NAMES


def has_topology(name):
  """Whether the network takes the `topology` option (the ResNets do)."""
  return name in RESNET_FAMILY_NAMES


def default_topology(name):
  """The topology `name` builds without the option (None: it has none).

  `slim` for resnet_v1_* and se_resnet_v1_* (Slim's checkpoints), `torch` for
  resnext_* and se_resnext_* (torchvision's and timm's).
  """
  if name in RESNET_NAMES or name in SE_RESNET_NAMES:
    return 'slim'
  if name in RESNEXT_NAMES or name in SE_RESNEXT_NAMES:
    return 'torch'
  return None


def check_network(name):
  """Raises ValueError naming the valid networks if `name` is unknown."""
  if name not in NETWORK_NAMES:
    raise ValueError('Unknown network name %r; valid names: %s' %
                     (name, ', '.join(NETWORK_NAMES)))


def check_style(style):
  """Raises ValueError naming the valid styles if `style` is unknown."""
  if style not in STYLES:
    raise ValueError('Unknown layer style %r; valid styles: %s' %
                     (style, ', '.join(STYLES)))
