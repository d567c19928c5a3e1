"""Inception-style preprocessing (Slim's, for Inception/MobileNet checkpoints).

Training: a random crop covering 5%..100% of the image with aspect ratio in
[3/4, 4/3] (`sample_distorted_bounding_box`, at least 10% of the box
covered), resized to the output size (bilinear; a random one of four methods
when `fast_mode=False`), random left-right flip, random colour distortion
(brightness, saturation, hue, contrast in a random order), values in [-1, 1].
Evaluation: central crop of 87.5% of the area's sides, bilinear resize, values
in [-1, 1].

    image = preprocess_image(image, 299, 299, is_training=True)
"""
from runtime.tf_compat import tf, v1
from preprocessing import channels

CENTRAL_FRACTION = 0.875


def _to_unit_float(image):
  image = channels.to_channels(image, 3)
  if image.dtype != tf.float32:
    image = tf.image.convert_image_dtype(image, tf.float32)
  return image


def _to_signed_unit(image):
  return (image - 0.5) * 2.0


def distort_color(image, color_ordering=0, fast_mode=True):
  """One of Slim's colour-distortion orderings; `image` in [0, 1].

  Example:
    image = distort_color(image, color_ordering=1)
  """
  brightness = lambda x: tf.image.random_brightness(x, max_delta=32. / 255.)
  saturation = lambda x: tf.image.random_saturation(x, 0.5, 1.5)
  hue = lambda x: tf.image.random_hue(x, max_delta=0.2)
  contrast = lambda x: tf.image.random_contrast(x, 0.5, 1.5)
  if fast_mode:
    orders = [[brightness, saturation], [saturation, brightness]]
  else:
    orders = [[brightness, saturation, hue, contrast],
              [saturation, brightness, contrast, hue],
              [contrast, hue, brightness, saturation],
              [hue, saturation, contrast, brightness]]
  for op in orders[color_ordering]:
    image = op(image)
  return tf.clip_by_value(image, 0.0, 1.0)


def _random_choice(image, num_cases, fn):
  """Applies `fn(image, case)` for a uniformly random case in [0, num_cases)."""
  if num_cases == 1:
    return fn(image, 0)
  selector = tf.random.uniform([], maxval=num_cases, dtype=tf.int32)
  return tf.switch_case(selector,
                        [lambda case=case: fn(image, case)
                         for case in range(num_cases)])


def distorted_bounding_box_crop(image, bbox, min_object_covered=0.1,
                                aspect_ratio_range=(0.75, 1.33),
                                area_range=(0.05, 1.0), max_attempts=100):
  """A random crop of `image` (Slim's defaults)."""
  begin, size, _ = tf.image.sample_distorted_bounding_box(
      tf.shape(image), bounding_boxes=bbox,
      min_object_covered=min_object_covered,
      aspect_ratio_range=aspect_ratio_range, area_range=area_range,
      max_attempts=max_attempts, use_image_if_no_bounding_boxes=True)
  return tf.slice(image, begin, size)


def preprocess_for_train(image, height, width, bbox=None, fast_mode=True,
                         use_grayscale=False):
  """Random crop, resize, flip and colour distortion; values in [-1, 1].

  Example:
    image = preprocess_for_train(image, 224, 224)
  """
  image = _to_unit_float(image)
  if bbox is None:
    bbox = tf.constant([0.0, 0.0, 1.0, 1.0], tf.float32, shape=[1, 1, 4])
  image = distorted_bounding_box_crop(image, bbox)
  methods = [v1.image.ResizeMethod.BILINEAR,
             v1.image.ResizeMethod.NEAREST_NEIGHBOR,
             v1.image.ResizeMethod.BICUBIC,
             v1.image.ResizeMethod.AREA]
  image = _random_choice(
      image, 1 if fast_mode else 4,
      lambda x, m: v1.image.resize_images(x, [height, width], methods[m]))
  image.set_shape([height, width, 3])
  image = tf.image.random_flip_left_right(image)
  image = _random_choice(
      image, 2 if fast_mode else 4,
      lambda x, order: distort_color(x, order, fast_mode))
  if use_grayscale:
    image = tf.image.rgb_to_grayscale(image)
  return _to_signed_unit(image)


def preprocess_for_eval(image, height, width,
                        central_fraction=CENTRAL_FRACTION,
                        use_grayscale=False):
  """Central crop, bilinear resize; values in [-1, 1] (deterministic).

  Example:
    image = preprocess_for_eval(image, 299, 299)
  """
  image = _to_unit_float(image)
  if central_fraction:
    image = tf.image.central_crop(image, central_fraction=central_fraction)
  image = v1.image.resize_bilinear(tf.expand_dims(image, 0), [height, width],
                                   align_corners=False)
  image = tf.squeeze(image, [0])
  image.set_shape([height, width, 3])
  if use_grayscale:
    image = tf.image.rgb_to_grayscale(image)
  return _to_signed_unit(image)


def preprocess_image(image, height, width, is_training=False, bbox=None,
                     fast_mode=True, use_grayscale=False,
                     central_fraction=CENTRAL_FRACTION):
  """Inception preprocessing of one [H, W, 1 or 3] image.

  Args:
    image: uint8 image (or float in [0, 1]).
    height: output height.
    width: output width.
    is_training: random crop/colour if True, else central crop.
    bbox: training boxes [1, N, 4] (ymin, xmin, ymax, xmax), default whole.
    fast_mode: one resize method and two colour orderings.
    use_grayscale: one output channel.
    central_fraction: eval's central crop fraction.

  Returns:
    float32 [height, width, 3 (or 1)] in [-1, 1].

  Example:
    image = preprocess_image(image, 299, 299, is_training=False)
  """
  if is_training:
    return preprocess_for_train(image, height, width, bbox, fast_mode,
                                use_grayscale)
  return preprocess_for_eval(image, height, width, central_fraction,
                             use_grayscale)
