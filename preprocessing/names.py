"""Preprocessing names and the style each one means, without TensorFlow.

The scripts check `--preprocessing_name` before TensorFlow loads; the
factory (`preprocessing_factory`) maps each style to its function.

    style('se_resnet_v1_50')   # 'vgg'
    style('cifarnet')          # 'small_flip'
    style('nope')              # ValueError listing the valid names
"""
VGG = 'vgg'
INCEPTION = 'inception'
SMALL = 'small'
SMALL_FLIP = 'small_flip'  # small, and a random flip when training
TORCH = 'torch'

STYLE_OF = {
    'vgg': VGG,
    'vgg_a': VGG,
    'vgg_16': VGG,
    'vgg_19': VGG,
    'inception': INCEPTION,
    'inception_v1': INCEPTION,
    'inception_v2': INCEPTION,
    'inception_v3': INCEPTION,
    'inception_v4': INCEPTION,
    'inception_resnet_v2': INCEPTION,
    'mobilenet_v1': INCEPTION,
    'mobilenet_v2': INCEPTION,
    'small': SMALL,
    'digits': SMALL,
    'mnist': SMALL,
    'lenet': SMALL,
    'simple_cnn': SMALL,
    'cifarnet': SMALL_FLIP,
    'cifar10': SMALL_FLIP,
    'torch': TORCH,
    'pytorch': TORCH,
}
STYLE_OF.update({
    '%s_%d' % (family, depth): VGG
    for family in ('resnet_v1', 'se_resnet_v1', 'resnet_v2')
    for depth in (50, 101, 152, 200)
})

# Any name with one of these prefixes is served by that style.
PREFIX_RULES = (
    ('resnet_v1_', VGG),
    ('se_resnet_v1_', VGG),
    ('resnet_v2_', VGG),
    ('resnext_', TORCH),
    ('se_resnext_', TORCH),
    ('inception', INCEPTION),
    ('mobilenet', INCEPTION),
)

PREPROCESSING_NAMES = sorted(STYLE_OF)


def style(name):
  """The style of a preprocessing (or model) name.

  Raises:
    ValueError: for an unknown name, listing the valid ones.
  """
  if name in STYLE_OF:
    return STYLE_OF[name]
  for prefix, prefix_style in PREFIX_RULES:
    if name.startswith(prefix):
      return prefix_style
  raise ValueError(
      'unknown preprocessing %r; valid names: %s (and any name starting with '
      '%s)' % (name, ', '.join(PREPROCESSING_NAMES),
               ', '.join(p for p, _ in PREFIX_RULES)))
