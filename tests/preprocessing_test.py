"""Preprocessing: shapes, dtypes, determinism, VGG means, grayscale."""
import numpy as np
import pytest

from runtime.tf_compat import tf, v1
from preprocessing import preprocessing_factory
from preprocessing import vgg_preprocessing


def _run(fn, image, height, width, times=1):
  with tf.Graph().as_default():
    v1.set_random_seed(0)
    source = tf.constant(image)
    output = fn(source, height, width)
    with v1.Session() as sess:
      return output, [sess.run(output) for _ in range(times)]


def _photo(height=60, width=80, channels=3, seed=0):
  rng = np.random.RandomState(seed)
  return rng.randint(0, 256, (height, width, channels)).astype(np.uint8)


@pytest.mark.parametrize('name', ['vgg', 'se_resnet_v1_50', 'inception_v3',
                                  'simple_cnn', 'cifarnet'])
@pytest.mark.parametrize('is_training', [True, False])
def test_output_shape_and_dtype(name, is_training):
  fn = preprocessing_factory.get_preprocessing(name, is_training=is_training)
  tensor, (value,) = _run(fn, _photo(), 40, 48)
  assert tensor.shape.as_list() == [40, 48, 3]
  assert tensor.dtype == tf.float32
  assert value.shape == (40, 48, 3) and value.dtype == np.float32


@pytest.mark.parametrize('name', ['vgg', 'inception', 'small'])
def test_eval_is_deterministic(name):
  fn = preprocessing_factory.get_preprocessing(name, is_training=False)
  _, values = _run(fn, _photo(), 32, 32, times=3)
  np.testing.assert_array_equal(values[0], values[1])
  np.testing.assert_array_equal(values[0], values[2])


@pytest.mark.parametrize('name', ['vgg', 'inception'])
def test_training_is_random(name):
  fn = preprocessing_factory.get_preprocessing(name, is_training=True)
  _, values = _run(fn, _photo(), 32, 32, times=4)
  assert any(np.abs(values[0] - v).max() > 1e-3 for v in values[1:])


def test_vgg_subtracts_the_slim_means():
  assert vgg_preprocessing.MEANS == (123.68, 116.78, 103.94)
  # A constant image stays constant through resize and crop.
  image = np.empty([300, 400, 3], np.uint8)
  image[...] = [200, 100, 50]
  for is_training in (False, True):
    fn = preprocessing_factory.get_preprocessing('resnet_v1_50', is_training)
    _, (value,) = _run(fn, image, 224, 224)
    np.testing.assert_allclose(value[50, 60], [200 - 123.68, 100 - 116.78,
                                               50 - 103.94], atol=1e-3)


def test_vgg_eval_is_resize_256_then_central_crop():
  # A 256x512 image is not resized; the central 224x224 crop starts at
  # row 16, column 144.
  image = _photo(256, 512)
  fn = preprocessing_factory.get_preprocessing('vgg', is_training=False)
  _, (value,) = _run(fn, image, 224, 224)
  expected = image[16:240, 144:368].astype(np.float32) - np.array(
      vgg_preprocessing.MEANS, np.float32)
  np.testing.assert_allclose(value, expected, atol=1e-3)


def test_vgg_grayscale_input_and_output():
  fn = preprocessing_factory.get_preprocessing('vgg', is_training=False)
  tensor, _ = _run(fn, _photo(channels=1), 32, 32)
  assert tensor.shape.as_list() == [32, 32, 3]  # Gray replicated to RGB.
  gray = preprocessing_factory.get_preprocessing('vgg', use_grayscale=True)
  tensor, (value,) = _run(gray, np.full([40, 40, 3], 128, np.uint8), 32, 32)
  assert tensor.shape.as_list() == [32, 32, 1]
  np.testing.assert_allclose(value, 128 - vgg_preprocessing.GRAY_MEAN,
                             atol=0.6)


def test_inception_range_is_signed_unit():
  for is_training in (True, False):
    fn = preprocessing_factory.get_preprocessing('inception', is_training)
    _, (value,) = _run(fn, _photo(), 64, 64)
    assert value.min() >= -1.0 and value.max() <= 1.0


def test_digits_8x8_gray_becomes_network_sized_rgb():
  digit = (np.arange(64, dtype=np.uint8).reshape(8, 8, 1) * 4)
  for is_training in (True, False):
    fn = preprocessing_factory.get_preprocessing('digits', is_training)
    tensor, (value,) = _run(fn, digit, 224, 224)
    assert tensor.shape.as_list() == [224, 224, 3]
    assert value.min() >= -1.0 and value.max() <= 1.0
    np.testing.assert_array_equal(value[..., 0], value[..., 1])
    np.testing.assert_array_equal(value[..., 0], value[..., 2])


def test_small_eval_at_native_size_is_exact_scaling():
  digit = np.arange(64, dtype=np.uint8).reshape(8, 8, 1) * 4
  fn = preprocessing_factory.get_preprocessing('small', use_grayscale=True)
  tensor, (value,) = _run(fn, digit, 8, 8)
  assert tensor.shape.as_list() == [8, 8, 1]
  np.testing.assert_allclose(value, digit / 255.0 * 2 - 1, atol=1e-6)


def test_small_channels_keyword_and_rgb_to_gray():
  fn = preprocessing_factory.get_preprocessing('small')
  tensor, _ = _run(lambda im, h, w: fn(im, h, w, channels=1), _photo(), 16,
                   16)
  assert tensor.shape.as_list() == [16, 16, 1]


@pytest.mark.parametrize('name', [
    'resnet_v1_50', 'resnet_v1_101', 'resnet_v1_152', 'resnet_v1_200',
    'se_resnet_v1_50', 'se_resnet_v1_101', 'se_resnet_v1_152',
    'se_resnet_v1_200', 'se_resnet_v1_26_custom', 'resnet_v2_50'])
def test_resnet_names_map_to_vgg(name):
  fn = preprocessing_factory.get_preprocessing(name)
  assert fn.__name__ == '%s_preprocessing' % name
  lookup = preprocessing_factory._lookup  # pylint: disable=protected-access
  assert lookup(name) is vgg_preprocessing.preprocess_image


def test_unknown_name_lists_the_valid_ones():
  with pytest.raises(ValueError, match=r"unknown preprocessing 'alexnet'.*"
                     r'digits.*se_resnet_v1_50.*simple_cnn.*vgg'):
    preprocessing_factory.get_preprocessing('alexnet')
