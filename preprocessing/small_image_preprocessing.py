"""Preprocessing for small images: digits (8x8x1), MNIST, CIFAR-10.

Converts to float in [0, 1], to the wanted channels (grayscale is replicated
to RGB unless `use_grayscale`), resizes to the network's input size
(bilinear; none when the size already matches), and for training shifts the
image by up to `max_shift_fraction` of its size (zero padding, then a random
crop back) and, if `random_flip` (CIFAR, not digits), flips left-right.
Output values are in [-1, 1]. Evaluation is deterministic.

    image = preprocess_image(digit_uint8_8x8x1, 32, 32)   # [32, 32, 3]
"""
from runtime.tf_compat import tf
from preprocessing import channels as channel_ops

MAX_SHIFT_FRACTION = 0.125


def preprocess_image(image, output_height, output_width, is_training=False,
                     use_grayscale=False, channels=None, random_flip=False,
                     max_shift_fraction=MAX_SHIFT_FRACTION):
  """Small-image preprocessing of one [H, W, 1 or 3] image.

  Args:
    image: uint8 image (or float in [0, 1]).
    output_height: network input height.
    output_width: network input width.
    is_training: random shift (and flip) if True.
    use_grayscale: output one channel (unless `channels` says otherwise).
    channels: output channels, 1 or 3; default 1 if use_grayscale else 3.
    random_flip: random left-right flips when training.
    max_shift_fraction: largest training shift, as a fraction of the size.

  Returns:
    float32 [output_height, output_width, channels] in [-1, 1].

  Example:
    fn = lambda im, h, w: preprocess_image(im, h, w, channels=1)
  """
  if channels is None:
    channels = 1 if use_grayscale else 3
  if image.dtype != tf.float32:
    image = tf.image.convert_image_dtype(image, tf.float32)
  image = channel_ops.to_channels(image, channels)
  if image.shape[:2].as_list() != [output_height, output_width]:
    image = tf.image.resize(image, [output_height, output_width],
                            method=tf.image.ResizeMethod.BILINEAR,
                            antialias=True)
  image.set_shape([output_height, output_width, channels])
  if is_training:
    pad_h = int(round(max_shift_fraction * output_height))
    pad_w = int(round(max_shift_fraction * output_width))
    if pad_h or pad_w:
      image = tf.pad(image, [[pad_h, pad_h], [pad_w, pad_w], [0, 0]])
      image = tf.image.random_crop(image,
                                   [output_height, output_width, channels])
    if random_flip:
      image = tf.image.random_flip_left_right(image)
  image = tf.clip_by_value(image, 0.0, 1.0)
  return (image - 0.5) * 2.0
