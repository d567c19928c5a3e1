"""Decoding Slim-format `tf.train.Example`s into (image, label).

The decoder reads the keys Slim's dataset readers read: `image/encoded`,
`image/format`, `image/class/label` (and `image/height`/`image/width`, used
only for `raw` images of datasets without a fixed shape). Every format spelling
a Slim user may have decodes: `raw`/`RAW` go through `decode_raw`; anything
else (`png`, `jpg`, `jpeg`, `JPEG`, gif, bmp) through `tf.io.decode_image`,
which reads the real format from the data itself, as Slim's decoder falls back
to doing. A record without `image/format` takes the dataset's Slim default
(`raw` for MNIST, so Slim-era raw MNIST records still read).

`check_record` does the same checks in Python on one serialized record, so the
pipeline can name a bad file before training starts.

    decoder = ExampleDecoder(default_format='png', image_channels=3,
                             image_shape=(32, 32, 3))
    image, label = decoder.decode(serialized)   # uint8 [32, 32, 3], int64 []
"""
from datasets import image_codec
from runtime.tf_compat import tf

ENCODED_KEY = 'image/encoded'
FORMAT_KEY = 'image/format'
LABEL_KEY = 'image/class/label'
HEIGHT_KEY = 'image/height'
WIDTH_KEY = 'image/width'

# Every spelling decodes; lower-cased here.
RAW_FORMAT = 'raw'
KNOWN_FORMATS = ('raw', 'png', 'jpg', 'jpeg', 'gif', 'bmp')


class ExampleDecoder(object):
  """Decodes one serialized Slim Example into a uint8 image and an int64 label.

  Attributes:
    default_format: the format assumed when `image/format` is absent.
    image_channels: channels of the decoded image (1 or 3).
    image_shape: (height, width, channels) if every image has it, else None.
  """

  def __init__(self, default_format, image_channels, image_shape=None):
    if default_format.lower() not in KNOWN_FORMATS:
      raise ValueError('unknown image format %r; known: %s' %
                       (default_format, ', '.join(KNOWN_FORMATS)))
    if image_shape is not None and image_shape[-1] != image_channels:
      raise ValueError('image_shape %s does not have %d channels' %
                       (image_shape, image_channels))
    self.default_format = default_format
    self.image_channels = image_channels
    self.image_shape = tuple(image_shape) if image_shape else None

  @property
  def keys_to_features(self):
    """The `tf.io.parse_single_example` feature map (Slim's keys/defaults)."""
    return {
        ENCODED_KEY: tf.io.FixedLenFeature((), tf.string, default_value=''),
        FORMAT_KEY: tf.io.FixedLenFeature(
            (), tf.string, default_value=self.default_format),
        LABEL_KEY: tf.io.FixedLenFeature(
            [], tf.int64, default_value=tf.zeros([], dtype=tf.int64)),
        HEIGHT_KEY: tf.io.FixedLenFeature([], tf.int64, default_value=0),
        WIDTH_KEY: tf.io.FixedLenFeature([], tf.int64, default_value=0),
    }

  def decode(self, serialized):
    """Returns (image uint8 [H, W, C], label int64 []) graph tensors.

    Example:
      ds = tf.data.TFRecordDataset(files).map(decoder.decode)
    """
    features = tf.io.parse_single_example(serialized, self.keys_to_features)
    encoded = features[ENCODED_KEY]
    image_format = tf.strings.lower(features[FORMAT_KEY])
    channels = self.image_channels

    def decode_raw():
      pixels = tf.io.decode_raw(encoded, tf.uint8)
      if self.image_shape:
        shape = tf.constant(self.image_shape, tf.int32)
      else:
        shape = tf.stack([tf.cast(features[HEIGHT_KEY], tf.int32),
                          tf.cast(features[WIDTH_KEY], tf.int32),
                          tf.constant(channels, tf.int32)])
      return tf.reshape(pixels, shape)

    def decode_compressed():
      return tf.io.decode_image(encoded, channels=channels,
                                expand_animations=False)

    image = tf.cond(tf.equal(image_format, RAW_FORMAT), decode_raw,
                    decode_compressed)
    if self.image_shape:
      image = tf.ensure_shape(image, self.image_shape)
    else:
      image.set_shape([None, None, channels])
    return image, features[LABEL_KEY]

  def check_record(self, record, num_classes=None):
    """Checks one serialized record in Python; returns a reason or None.

    Checks that it parses as a `tf.train.Example` with an image and a label,
    that the format is known, that compressed data really is an image (and of
    the dataset's fixed size, for PNG), that raw data has the right length, and
    that the label is in [0, num_classes).

    Example:
      reason = decoder.check_record(first_record, num_classes=10)
    """
    try:
      example = tf.train.Example.FromString(record)
    except Exception as e:  # pylint: disable=broad-except
      return 'the record is not a tf.train.Example (%s)' % e
    feature = example.features.feature
    if ENCODED_KEY not in feature or not feature[ENCODED_KEY].bytes_list.value:
      return 'the record has no %r bytes feature' % ENCODED_KEY
    if LABEL_KEY not in feature or not feature[LABEL_KEY].int64_list.value:
      return 'the record has no %r int64 feature' % LABEL_KEY
    encoded = feature[ENCODED_KEY].bytes_list.value[0]
    label = feature[LABEL_KEY].int64_list.value[0]
    if FORMAT_KEY in feature and feature[FORMAT_KEY].bytes_list.value:
      image_format = feature[FORMAT_KEY].bytes_list.value[0].decode(
          'utf-8', 'replace')
    else:
      image_format = self.default_format
    if image_format.lower() not in KNOWN_FORMATS:
      return 'image/format %r is not one of %s' % (image_format,
                                                   ', '.join(KNOWN_FORMATS))
    if num_classes is not None and not 0 <= label < num_classes:
      return 'label %d is outside [0, %d)' % (label, num_classes)
    if image_format.lower() == RAW_FORMAT:
      return self._check_raw(encoded, feature)
    sniffed = image_codec.sniff_format(encoded)
    if sniffed is None:
      return ('image/encoded (%d bytes, format %r) is not a PNG, JPEG, GIF or '
              'BMP image' % (len(encoded), image_format))
    if sniffed == 'png' and self.image_shape:
      try:
        height, width, _ = image_codec.png_size(encoded)
      except ValueError as e:
        return 'image/encoded is a corrupt PNG (%s)' % e
      if (height, width) != tuple(self.image_shape[:2]):
        return 'the PNG is %dx%d, this dataset has %dx%d images' % (
            height, width, self.image_shape[0], self.image_shape[1])
    return None

  def _check_raw(self, encoded, feature):
    if self.image_shape:
      height, width, channels = self.image_shape
    else:
      height = (feature[HEIGHT_KEY].int64_list.value or [0])[0]
      width = (feature[WIDTH_KEY].int64_list.value or [0])[0]
      channels = self.image_channels
      if height <= 0 or width <= 0:
        return 'a raw image needs image/height and image/width'
    if len(encoded) != height * width * channels:
      return 'raw image/encoded has %d bytes, expected %dx%dx%d = %d' % (
          len(encoded), height, width, channels, height * width * channels)
    return None
