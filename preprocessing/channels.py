"""Channel-count helpers shared by the preprocessing styles.

    image = to_channels(gray_image, 3)   # [H, W, 1] -> [H, W, 3]
"""
from runtime.tf_compat import tf


def static_channels(image):
  """The static channel count of an [H, W, C] image.

  Raises:
    ValueError: if the rank or channel count is not known statically.

  Example:
    static_channels(tf.zeros([8, 8, 1]))  # 1
  """
  shape = image.shape
  if shape.rank != 3 or tf.compat.dimension_value(shape[-1]) is None:
    raise ValueError('preprocessing needs an [H, W, C] image with a known C, '
                     'got shape %s' % shape)
  return tf.compat.dimension_value(shape[-1])


def to_channels(image, channels):
  """Converts an image to 1 (grayscale) or 3 (RGB) channels.

  Grayscale is replicated to RGB; RGB goes to grayscale with ITU-R 601 luma
  weights (`tf.image.rgb_to_grayscale`). Works on uint8 or float images.

  Example:
    rgb = to_channels(digit, 3)
  """
  have = static_channels(image)
  if have == channels:
    return image
  if have == 1 and channels == 3:
    return tf.image.grayscale_to_rgb(image)
  if have == 3 and channels == 1:
    return tf.image.rgb_to_grayscale(image)
  if have == 4 and channels in (1, 3):  # Drop alpha.
    return to_channels(image[:, :, :3], channels)
  raise ValueError('cannot convert a %d-channel image to %d channels' %
                   (have, channels))
