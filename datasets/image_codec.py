"""Pure-Python image helpers: PNG encoding, format sniffing, header sizes.

The converters use these so that writing a dataset needs neither a TensorFlow
session nor an imaging library, and the input pipeline uses them to check the
first record of each file before training starts.

    data = encode_png(np.zeros([8, 8, 1], np.uint8))
    sniff_format(data)   # 'png'
    png_size(data)       # (8, 8, 1)
"""
import struct
import zlib

import numpy as np

PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'

# PNG colour type for each channel count, and back.
_PNG_COLOR_TYPES = {1: 0, 2: 4, 3: 2, 4: 6}
_PNG_CHANNELS = {0: 1, 2: 3, 3: 3, 4: 2, 6: 4}

# JPEG start-of-frame markers (0xC0..0xCF less DHT, JPG and DAC).
_JPEG_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def _png_chunk(kind, data):
  crc = zlib.crc32(kind + data) & 0xffffffff
  return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', crc)


def encode_png(image, compression=6):
  """Encodes an 8-bit image as PNG bytes (lossless, so pixel-exact).

  Args:
    image: uint8 array, [H, W] or [H, W, C] with C in 1..4.
    compression: zlib level, 0..9.

  Returns:
    The PNG file contents.

  Example:
    png = encode_png(np.full([28, 28, 1], 255, np.uint8))
  """
  image = np.asarray(image)
  if image.dtype != np.uint8:
    raise ValueError('encode_png needs uint8 pixels, got %s' % image.dtype)
  if image.ndim == 2:
    image = image[:, :, None]
  if image.ndim != 3 or image.shape[2] not in _PNG_COLOR_TYPES:
    raise ValueError('encode_png needs [H, W] or [H, W, 1..4], got %s' %
                     (image.shape,))
  height, width, channels = image.shape
  rows = image.reshape(height, width * channels)
  # Filter type 0 (none) before each scanline.
  raw = np.concatenate([np.zeros([height, 1], np.uint8), rows], axis=1)
  header = struct.pack('>IIBBBBB', width, height, 8,
                       _PNG_COLOR_TYPES[channels], 0, 0, 0)
  return b''.join([
      PNG_SIGNATURE,
      _png_chunk(b'IHDR', header),
      _png_chunk(b'IDAT', zlib.compress(raw.tobytes(), compression)),
      _png_chunk(b'IEND', b''),
  ])


def sniff_format(data):
  """Returns 'png', 'jpeg', 'gif' or 'bmp' from the magic bytes, else None.

  Example:
    sniff_format(open('cat.jpg', 'rb').read())  # 'jpeg'
  """
  if data.startswith(PNG_SIGNATURE):
    return 'png'
  if data.startswith(b'\xff\xd8\xff'):
    return 'jpeg'
  if data.startswith((b'GIF87a', b'GIF89a')):
    return 'gif'
  if data.startswith(b'BM'):
    return 'bmp'
  return None


def png_size(data):
  """Returns (height, width, channels) from a PNG header.

  Raises:
    ValueError: if `data` does not start with a PNG header.

  Example:
    png_size(encode_png(np.zeros([4, 6, 3], np.uint8)))  # (4, 6, 3)
  """
  if not data.startswith(PNG_SIGNATURE) or data[12:16] != b'IHDR':
    raise ValueError('not a PNG image')
  width, height = struct.unpack('>II', data[16:24])
  color_type = data[25]
  if color_type not in _PNG_CHANNELS:
    raise ValueError('PNG with unknown colour type %d' % color_type)
  return height, width, _PNG_CHANNELS[color_type]


def jpeg_size(data):
  """Returns (height, width, channels) from a JPEG's start-of-frame segment.

  Raises:
    ValueError: if `data` is not a JPEG or has no frame header.

  Example:
    height, width, _ = jpeg_size(open('rose.jpg', 'rb').read())
  """
  if not data.startswith(b'\xff\xd8'):
    raise ValueError('not a JPEG image')
  pos = 2
  size = len(data)
  while pos < size:
    if data[pos] != 0xFF:
      raise ValueError('corrupt JPEG: no marker at byte %d' % pos)
    while pos < size and data[pos] == 0xFF:  # Fill bytes.
      pos += 1
    if pos >= size:
      break
    marker = data[pos]
    pos += 1
    if marker == 0xD9 or marker == 0xDA:  # End of image / start of scan.
      break
    if 0xD0 <= marker <= 0xD8 or marker == 0x01:  # No length field.
      continue
    if pos + 2 > size:
      break
    (length,) = struct.unpack('>H', data[pos:pos + 2])
    if marker in _JPEG_SOF_MARKERS:
      if pos + 8 > size:
        break
      height, width = struct.unpack('>HH', data[pos + 3:pos + 7])
      return height, width, data[pos + 7]
    pos += length
  raise ValueError('corrupt JPEG: no frame header')
