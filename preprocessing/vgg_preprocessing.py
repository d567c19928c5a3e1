"""VGG-style preprocessing, the one Slim's ResNet v1 checkpoints expect.

Training: resize the shorter side to a random length in [256, 512] (aspect
ratio kept), take a random crop of the output size, flip left-right at
random, subtract the ImageNet RGB means (123.68, 116.78, 103.94).
Evaluation: resize the shorter side to 256, take the central crop, subtract
the means. Pixel values stay on the 0..255 scale (minus the means), as Slim's
checkpoints were trained. Resizing is TF1's bilinear (no half-pixel centres),
as in Slim.

Grayscale input (e.g. digits) is replicated to RGB first; `use_grayscale`
turns the output into one channel minus the luma of the means.

    image = preprocess_image(jpeg_decoded_uint8, 224, 224, is_training=True)
"""
from runtime.tf_compat import tf, v1
from preprocessing import channels

R_MEAN = 123.68
G_MEAN = 116.78
B_MEAN = 103.94
MEANS = (R_MEAN, G_MEAN, B_MEAN)
# tf.image.rgb_to_grayscale's weights, applied to the means.
GRAY_MEAN = 0.2989 * R_MEAN + 0.5870 * G_MEAN + 0.1140 * B_MEAN

RESIZE_SIDE_MIN = 256
RESIZE_SIDE_MAX = 512


def smallest_size_at_least(height, width, smallest_side):
  """(new_height, new_width) int32 with the shorter side = `smallest_side`."""
  height = tf.cast(height, tf.float32)
  width = tf.cast(width, tf.float32)
  side = tf.cast(smallest_side, tf.float32)
  scale = tf.where(tf.greater(height, width), side / width, side / height)
  return (tf.cast(tf.math.rint(height * scale), tf.int32),
          tf.cast(tf.math.rint(width * scale), tf.int32))


def aspect_preserving_resize(image, smallest_side):
  """Resizes (bilinear, TF1 convention) so the shorter side is `smallest_side`.

  Returns a float32 [H', W', C] image.

  Example:
    image = aspect_preserving_resize(image, 256)
  """
  shape = tf.shape(image)
  new_height, new_width = smallest_size_at_least(shape[0], shape[1],
                                                 smallest_side)
  resized = v1.image.resize_bilinear(tf.expand_dims(image, 0),
                                     tf.stack([new_height, new_width]),
                                     align_corners=False)
  resized = tf.squeeze(resized, [0])
  resized.set_shape([None, None, image.shape[-1]])
  return resized


def central_crop(image, crop_height, crop_width):
  """The central `crop_height` x `crop_width` window (Slim's offsets)."""
  shape = tf.shape(image)
  top = (shape[0] - crop_height) // 2
  left = (shape[1] - crop_width) // 2
  return tf.slice(image, tf.stack([top, left, 0]),
                  tf.stack([crop_height, crop_width, -1]))


def mean_image_subtraction(image, means):
  """Subtracts one mean per channel.

  Example:
    image = mean_image_subtraction(image, MEANS)
  """
  num_channels = channels.static_channels(image)
  if len(means) != num_channels:
    raise ValueError('%d means for %d channels' % (len(means), num_channels))
  return image - tf.constant(means, tf.float32, shape=[1, 1, num_channels])


def _finish(image, output_height, output_width, use_grayscale):
  image = tf.cast(image, tf.float32)
  image.set_shape([output_height, output_width, 3])
  if use_grayscale:
    image = tf.image.rgb_to_grayscale(image)
    return mean_image_subtraction(image, (GRAY_MEAN,))
  return mean_image_subtraction(image, MEANS)


def preprocess_for_train(image, output_height, output_width,
                         resize_side_min=RESIZE_SIDE_MIN,
                         resize_side_max=RESIZE_SIDE_MAX,
                         use_grayscale=False):
  """Random scale in [min, max], random crop, random flip, minus means.

  Example:
    image = preprocess_for_train(image, 224, 224)
  """
  image = channels.to_channels(image, 3)
  low = max(resize_side_min, output_height, output_width)
  high = max(resize_side_max, low)
  resize_side = tf.random.uniform([], minval=low, maxval=high + 1,
                                  dtype=tf.int32)
  image = aspect_preserving_resize(image, resize_side)
  image = tf.image.random_crop(image, [output_height, output_width, 3])
  image = tf.image.random_flip_left_right(image)
  return _finish(image, output_height, output_width, use_grayscale)


def preprocess_for_eval(image, output_height, output_width,
                        resize_side=RESIZE_SIDE_MIN, use_grayscale=False):
  """Shorter side to `resize_side`, central crop, minus means (deterministic).

  `resize_side` is raised to the output size when smaller (Slim would fail).

  Example:
    image = preprocess_for_eval(image, 224, 224)
  """
  image = channels.to_channels(image, 3)
  image = aspect_preserving_resize(
      image, max(resize_side, output_height, output_width))
  image = central_crop(image, output_height, output_width)
  return _finish(image, output_height, output_width, use_grayscale)


def preprocess_image(image, output_height, output_width, is_training=False,
                     resize_side_min=RESIZE_SIDE_MIN,
                     resize_side_max=RESIZE_SIDE_MAX, use_grayscale=False):
  """VGG preprocessing of one uint8 [H, W, 1 or 3] image.

  Args:
    image: the decoded image, uint8 (or float on the 0..255 scale).
    output_height: output height.
    output_width: output width.
    is_training: random scale/crop/flip if True, else resize + central crop.
    resize_side_min: training's smallest shorter side; eval's shorter side.
    resize_side_max: training's largest shorter side.
    use_grayscale: one output channel instead of RGB.

  Returns:
    float32 [output_height, output_width, 3 (or 1)], means subtracted.

  Example:
    image = preprocess_image(image, 224, 224, is_training=False)
  """
  if is_training:
    return preprocess_for_train(image, output_height, output_width,
                                resize_side_min, resize_side_max,
                                use_grayscale)
  return preprocess_for_eval(image, output_height, output_width,
                             resize_side_min, use_grayscale)
