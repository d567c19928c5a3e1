"""Picks the preprocessing for a model (or style) name, as Slim's factory.

    fn = get_preprocessing('se_resnet_v1_50', is_training=True)
    image = fn(uint8_image, 224, 224)          # VGG-style, means subtracted

Styles:
* vgg: `vgg`, `vgg_a`, `vgg_16`, `vgg_19` and every `resnet_v1_*`,
  `se_resnet_v1_*` and `resnet_v2_*` name (Slim's ResNet checkpoints were
  trained with it);
* torch: `torch`, `pytorch` and every `resnext_*` and `se_resnext_*` name
  (RGB in [0, 1] normalised by ImageNet's mean and std, as torchvision, timm
  and pretrainedmodels networks; see `torch_preprocessing`);
* inception: `inception`, `inception_v1..v4`, `inception_resnet_v2`,
  `mobilenet_v1`, `mobilenet_v2` (any `inception*`/`mobilenet*` name);
* small images (digits/MNIST/CIFAR to the network's size, grayscale to RGB,
  values in [-1, 1]): `small`, `digits`, `mnist`, `lenet`, `simple_cnn`;
  and `cifarnet`/`cifar10`, which also flip at random when training.
"""
import functools

from preprocessing import inception_preprocessing
from preprocessing import names
from preprocessing import small_image_preprocessing
from preprocessing import torch_preprocessing
from preprocessing import vgg_preprocessing

_SMALL = small_image_preprocessing.preprocess_image

# The functions of the styles of `preprocessing.names`.
STYLE_FNS = {
    names.VGG: vgg_preprocessing.preprocess_image,
    names.INCEPTION: inception_preprocessing.preprocess_image,
    names.SMALL: _SMALL,
    names.SMALL_FLIP: functools.partial(_SMALL, random_flip=True),
    names.TORCH: torch_preprocessing.preprocess_image,
}

PREPROCESSING_FNS = {name: STYLE_FNS[style]
                     for name, style in names.STYLE_OF.items()}
PREFIX_RULES = tuple((prefix, STYLE_FNS[style])
                     for prefix, style in names.PREFIX_RULES)
PREPROCESSING_NAMES = names.PREPROCESSING_NAMES


def _lookup(name):
  return STYLE_FNS[names.style(name)]


def get_preprocessing(name, is_training=False, use_grayscale=False):
  """Returns `fn(image, output_height, output_width, **kwargs)` for a name.

  Args:
    name: a model name (e.g. 'se_resnet_v1_50') or a style name ('vgg',
      'inception', 'small', 'digits', 'cifarnet', 'simple_cnn', ...).
    is_training: training (random) or evaluation (deterministic) mode.
    use_grayscale: produce one channel instead of RGB.

  Returns:
    A function taking a uint8 [H, W, 1 or 3] image and the output size, and
    returning float32 [output_height, output_width, C]. Extra keyword
    arguments go to the style's `preprocess_image` (e.g. `channels=1` for the
    small style, `resize_side_min=...` for VGG).

  Raises:
    ValueError: for an unknown name, listing the valid ones.

  Example:
    fn = get_preprocessing('digits', is_training=True)
    image = fn(digit, 32, 32)     # float32 [32, 32, 3] in [-1, 1]
  """
  style_fn = _lookup(name)

  def preprocessing_fn(image, output_height, output_width, **kwargs):
    return style_fn(image, output_height, output_width,
                    is_training=is_training, use_grayscale=use_grayscale,
                    **kwargs)

  preprocessing_fn.__name__ = '%s_preprocessing' % name
  return preprocessing_fn
