"""PyTorch-style preprocessing, the one torchvision, timm and pretrainedmodels
ImageNet networks were trained and evaluated with.

Evaluation: resize the shorter side to `resize_size` (default
`floor(size / crop_pct)`, 256 for 224 at timm's `crop_pct=0.875`; the longer
side in proportion, truncated as torchvision does), take the central crop
(torchvision's rounding of the offsets), scale to [0, 1] and normalise each
channel by `mean` and `std` (ImageNet's by default). Resizing uses half-pixel
centres with antialiasing when shrinking, as PIL does.
Training: a random crop of 8%..100% of the area with aspect ratio in
[3/4, 4/3] resized to the output size (torchvision's `RandomResizedCrop`),
a random left-right flip, then the same scaling and normalisation.

The values come from a converted checkpoint's sidecar (see
`converters.sidecar`) or from flags; the defaults are ImageNet's.

    image = preprocess_image(uint8_image, 224, 224, is_training=False,
                             crop_pct=0.875, interpolation='bicubic')
"""
import math

from runtime.tf_compat import tf
from preprocessing import channels

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
DEFAULT_CROP_PCT = 0.875
INTERPOLATIONS = {
    'bilinear': tf.image.ResizeMethod.BILINEAR,
    'bicubic': tf.image.ResizeMethod.BICUBIC,
    'nearest': tf.image.ResizeMethod.NEAREST_NEIGHBOR,
    'area': tf.image.ResizeMethod.AREA,
}


def resize_size_for(size, crop_pct=DEFAULT_CROP_PCT):
  """The shorter side before the central crop: `floor(size / crop_pct)`.

  Example:
    resize_size_for(224)          # 256
    resize_size_for(224, 0.95)    # 235
  """
  if not 0 < crop_pct <= 1:
    raise ValueError('crop_pct must be in (0, 1], got %r' % (crop_pct,))
  return int(math.floor(size / crop_pct))


def _resize(image, height, width, interpolation):
  if interpolation not in INTERPOLATIONS:
    raise ValueError('unknown interpolation %r; valid: %s' %
                     (interpolation, ', '.join(sorted(INTERPOLATIONS))))
  method = INTERPOLATIONS[interpolation]
  antialias = method in (tf.image.ResizeMethod.BILINEAR,
                         tf.image.ResizeMethod.BICUBIC)
  return tf.image.resize(image, tf.stack([height, width]), method=method,
                         antialias=antialias)


def resize_shorter_side(image, side, interpolation='bilinear'):
  """Resizes so the shorter side is `side`; the longer one is truncated.

  Example:
    image = resize_shorter_side(image, 256)   # 480x640 -> 256x341
  """
  shape = tf.shape(image)
  height, width = shape[0], shape[1]
  shorter = tf.minimum(height, width)
  scale = tf.cast(side, tf.float64) / tf.cast(shorter, tf.float64)
  new_height = tf.where(height <= width, side,
                        tf.cast(tf.cast(height, tf.float64) * scale,
                                tf.int32))
  new_width = tf.where(width < height, side,
                       tf.cast(tf.cast(width, tf.float64) * scale, tf.int32))
  return _resize(image, new_height, new_width, interpolation)


def central_crop(image, crop_height, crop_width):
  """The central window, offsets rounded half to even as torchvision's.

  Example:
    image = central_crop(image, 224, 224)
  """
  shape = tf.shape(image)
  top = tf.cast(tf.round(tf.cast(shape[0] - crop_height, tf.float32) / 2.0),
                tf.int32)
  left = tf.cast(tf.round(tf.cast(shape[1] - crop_width, tf.float32) / 2.0),
                 tf.int32)
  return tf.slice(image, tf.stack([top, left, 0]),
                  tf.stack([crop_height, crop_width, -1]))


def normalize(image, mean=IMAGENET_MEAN, std=IMAGENET_STD):
  """(image - mean) / std per channel; `image` float in [0, 1]."""
  return (image - tf.constant(mean, tf.float32)) / tf.constant(std,
                                                               tf.float32)


def _random_resized_crop(image, height, width, interpolation):
  begin, size, _ = tf.image.sample_distorted_bounding_box(
      tf.shape(image),
      bounding_boxes=tf.constant([0.0, 0.0, 1.0, 1.0], shape=[1, 1, 4]),
      min_object_covered=0.0, aspect_ratio_range=(0.75, 4.0 / 3.0),
      area_range=(0.08, 1.0), max_attempts=10,
      use_image_if_no_bounding_boxes=True)
  return _resize(tf.slice(image, begin, size), height, width, interpolation)


def preprocess_image(image, height, width, is_training=False,
                     use_grayscale=False, mean=IMAGENET_MEAN, std=IMAGENET_STD,
                     crop_pct=DEFAULT_CROP_PCT, resize_size=None,
                     interpolation='bilinear'):
  """PyTorch-style preprocessing of one [H, W, 1 or 3] image.

  Args:
    image: uint8 image (or float in [0, 1]); grayscale is replicated to RGB.
    height: output height.
    width: output width.
    is_training: random resized crop and flip if True, else resize + central
      crop.
    use_grayscale: not supported (the networks take RGB); must be False.
    mean: per-channel mean of [0, 1] RGB values.
    std: per-channel standard deviation.
    crop_pct: evaluation's crop fraction, giving the resize size
      `floor(min(height, width) / crop_pct)` unless `resize_size` is set.
    resize_size: evaluation's shorter side before the crop.
    interpolation: 'bilinear' (default), 'bicubic', 'nearest' or 'area'.

  Returns:
    float32 [height, width, 3], normalised.

  Example:
    image = preprocess_image(image, 224, 224, is_training=False)
  """
  if use_grayscale:
    raise ValueError('the torch preprocessing feeds RGB; use_grayscale is '
                     'not supported')
  image = channels.to_channels(image, 3)
  quantized = image.dtype == tf.uint8
  if image.dtype != tf.float32:
    image = tf.image.convert_image_dtype(image, tf.float32)
  if is_training:
    image = _random_resized_crop(image, height, width, interpolation)
    image = tf.image.random_flip_left_right(image)
  else:
    side = resize_size or resize_size_for(min(height, width), crop_pct)
    image = resize_shorter_side(image, side, interpolation)
    image = central_crop(image, height, width)
  image = tf.clip_by_value(image, 0.0, 1.0)
  if quantized:
    # PIL resizes 8-bit images to 8 bits: round as torchvision's input was.
    image = tf.round(image * 255.0) / 255.0
  image.set_shape([height, width, 3])
  return normalize(image, mean, std)
