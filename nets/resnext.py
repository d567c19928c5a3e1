"""ResNeXt and SE-ResNeXt v1 (32x4d), written with ResNet v1's units.

ResNeXt (Xie et al., "Aggregated Residual Transformations", CVPR 2017) is
ResNet v1 whose bottleneck 3x3 conv is grouped: 32 groups ("cardinality")
of 4 channels per group at the first block's width, so a unit of `planes`
(64, 128, 256, 512 per block) has a bottleneck width of
`floor(planes * 4 / 64) * 32` (128, 256, 512, 1024) and outputs
`4 * planes` channels. SE-ResNeXt adds a squeeze-and-excitation block to
every unit (Hu et al.), options as `nets.resnet_v1.se_spec`.

Variables are those of `nets.resnet_v1` (`<scope>/block1/unit_1/
bottleneck_v1/conv2/weights` [3, 3, 4, 128] for 50_32x4d, ...). The default
topology is `torch` (torchvision's and timm's ResNeXts: the first unit of
blocks 2-4 strides on its 3x3, the stem pool pads 1); the SENet authors'
SE-ResNeXts are `topology='caffe_resnext'` (stem pool in ceil mode). See
`nets.topology`. Depths 14 and 26 (units 1/1/1/1, 2/2/2/2) are small ones
for tests.

Example:

    from nets import resnext
    with slim.arg_scope(resnext.resnet_arg_scope(style='keras')):
      logits, end_points = resnext.se_resnext_50_32x4d(
          images, num_classes=1000, is_training=False,
          topology='caffe_resnext')
"""
from nets import resnet_v1

resnet_arg_scope = resnet_v1.resnet_arg_scope

DEPTHS = (14, 26, 50, 101)
CARDINALITY = 32
WIDTH_PER_GROUP = 4
DEFAULT_TOPOLOGY = 'torch'


def _make(depth, with_se):
  name = '%sresnext_%d_%dx%dd' % ('se_' if with_se else '', depth,
                                  CARDINALITY, WIDTH_PER_GROUP)
  return resnet_v1.make_builder(
      name, depth, with_se, default_topology=DEFAULT_TOPOLOGY,
      cardinality=CARDINALITY, width_per_group=WIDTH_PER_GROUP,
      description='ResNeXt v1 %dx%dd' % (CARDINALITY, WIDTH_PER_GROUP))


resnext_14_32x4d = _make(14, with_se=False)
resnext_26_32x4d = _make(26, with_se=False)
resnext_50_32x4d = _make(50, with_se=False)
resnext_101_32x4d = _make(101, with_se=False)
se_resnext_14_32x4d = _make(14, with_se=True)
se_resnext_26_32x4d = _make(26, with_se=True)
se_resnext_50_32x4d = _make(50, with_se=True)
se_resnext_101_32x4d = _make(101, with_se=True)

# name -> builder, for the factory.
BUILDERS = {fn.__name__: fn for fn in (
    resnext_14_32x4d, resnext_26_32x4d, resnext_50_32x4d, resnext_101_32x4d,
    se_resnext_14_32x4d, se_resnext_26_32x4d, se_resnext_50_32x4d,
    se_resnext_101_32x4d)}
