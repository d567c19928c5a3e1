"""PyTorch-style preprocessing against torchvision's recipe written with PIL.

torchvision's evaluation transform is Resize(shorter side) on a PIL image,
CenterCrop, ToTensor (/255) and Normalize; the reference below does the same
with PIL and numpy, so no torch is needed.
"""
import math

import numpy as np
import pytest
from PIL import Image

from runtime.tf_compat import tf, v1
from preprocessing import preprocessing_factory
from preprocessing import torch_preprocessing


def _photo(height, width, seed=0):
  # Smooth content: resampling filters differ most on pixel noise.
  rng = np.random.RandomState(seed)
  small = rng.randint(0, 256, (height // 8 + 2, width // 8 + 2, 3))
  image = Image.fromarray(small.astype(np.uint8)).resize((width, height),
                                                         Image.BILINEAR)
  return np.asarray(image)


def _reference(image, size, crop_pct, interpolation):
  height, width = image.shape[:2]
  side = int(math.floor(size / crop_pct))
  if height <= width:
    new_height, new_width = side, int(side * width / height)
  else:
    new_height, new_width = int(side * height / width), side
  pil = {'bilinear': Image.BILINEAR, 'bicubic': Image.BICUBIC}[interpolation]
  resized = np.asarray(Image.fromarray(image).resize((new_width, new_height),
                                                     pil))
  top = int(round((new_height - size) / 2.0))
  left = int(round((new_width - size) / 2.0))
  crop = resized[top:top + size, left:left + size].astype(np.float32) / 255.0
  return ((crop - np.array(torch_preprocessing.IMAGENET_MEAN, np.float32)) /
          np.array(torch_preprocessing.IMAGENET_STD, np.float32))


def _run(image, size, is_training=False, times=1, **kwargs):
  with tf.Graph().as_default():
    v1.set_random_seed(0)
    fn = preprocessing_factory.get_preprocessing('torch', is_training)
    output = fn(tf.constant(image), size, size, **kwargs)
    with v1.Session() as sess:
      return output, [sess.run(output) for _ in range(times)]


@pytest.mark.parametrize('shape', [(120, 160), (161, 97)])
@pytest.mark.parametrize('interpolation', ['bilinear', 'bicubic'])
def test_eval_matches_torchvision_recipe(shape, interpolation):
  image = _photo(*shape)
  tensor, (value,) = _run(image, 64, crop_pct=0.875,
                          interpolation=interpolation)
  expected = _reference(image, 64, 0.875, interpolation)
  assert tensor.shape.as_list() == [64, 64, 3]
  # PIL and TF resample with the same filters; PIL's fixed-point arithmetic
  # rounds some pixels (~15%) to the neighbouring 8-bit level.
  difference = np.abs(value - expected) * np.array(
      torch_preprocessing.IMAGENET_STD)
  assert difference.max() <= 1.01 / 255


def test_resize_size_follows_crop_pct():
  assert torch_preprocessing.resize_size_for(224) == 256
  assert torch_preprocessing.resize_size_for(224, 0.95) == 235
  with pytest.raises(ValueError, match='crop_pct'):
    torch_preprocessing.resize_size_for(224, 0.0)


def test_constant_image_is_normalised_by_mean_and_std():
  image = np.empty([90, 70, 3], np.uint8)
  image[...] = [255, 128, 0]
  expected = (np.array([255, 128, 0]) / 255.0 -
              torch_preprocessing.IMAGENET_MEAN) / torch_preprocessing.IMAGENET_STD
  for is_training in (False, True):
    _, (value,) = _run(image, 32, is_training=is_training)
    np.testing.assert_allclose(value[10, 20], expected, atol=1e-5)


def test_training_is_random_and_eval_is_not():
  image = _photo(100, 120)
  _, train = _run(image, 32, is_training=True, times=4)
  assert any(np.abs(train[0] - v).max() > 1e-3 for v in train[1:])
  _, evals = _run(image, 32, times=2)
  np.testing.assert_array_equal(evals[0], evals[1])


def test_resnext_names_use_torch_preprocessing_and_grayscale_is_refused():
  fn = preprocessing_factory.get_preprocessing('se_resnext_50_32x4d')
  with tf.Graph().as_default():
    out = fn(tf.zeros([40, 40, 1], tf.uint8), 32, 32)
    assert out.shape.as_list() == [32, 32, 3]
  fn = preprocessing_factory.get_preprocessing('torch', use_grayscale=True)
  with tf.Graph().as_default(), pytest.raises(ValueError, match='RGB'):
    fn(tf.zeros([40, 40, 3], tf.uint8), 32, 32)
