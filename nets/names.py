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
NETWORK_NAMES = tuple(sorted(RESNET_NAMES + SE_RESNET_NAMES +
                             ('simple_cnn',)))


def is_se_network(name):
  """Whether `name` is a squeeze-and-excitation network."""
  return name.startswith('se_')


def has_depth_multiplier(name):
  """Whether the network takes `depth_multiplier` (the ResNets do)."""
  return name in RESNET_NAMES or name in SE_RESNET_NAMES


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
