"""dataset_factory: Slim's facts per dataset, and clear errors."""
import pytest

from datasets import dataset_factory
from datasets import dataset_files
from datasets import errors


@pytest.mark.parametrize(
    'name,split,pattern,num_samples,num_classes,channels,fmt', [
        ('cifar10', 'train', 'cifar10_train.tfrecord', 50000, 10, 3, 'png'),
        ('cifar10', 'test', 'cifar10_test.tfrecord', 10000, 10, 3, 'png'),
        ('flowers', 'train', 'flowers_train_*.tfrecord', 3320, 5, 3, 'png'),
        ('flowers', 'validation', 'flowers_validation_*.tfrecord', 350, 5, 3,
         'png'),
        ('mnist', 'train', 'mnist_train.tfrecord', 60000, 10, 1, 'raw'),
        ('mnist', 'test', 'mnist_test.tfrecord', 10000, 10, 1, 'raw'),
        ('imagenet', 'train', 'train-*', 1281167, 1001, 3, 'jpeg'),
        ('imagenet', 'validation', 'validation-*', 50000, 1001, 3, 'jpeg'),
        ('digits', 'train', 'digits_train.tfrecord', 1437, 10, 1, 'png'),
        ('digits', 'test', 'digits_test.tfrecord', 360, 10, 1, 'png'),
    ])
def test_slim_facts(tmp_path, name, split, pattern, num_samples, num_classes,
                    channels, fmt):
  dataset = dataset_factory.get_dataset(name, split, str(tmp_path))
  assert dataset.name == name
  assert dataset.split_name == split
  assert dataset.file_pattern == str(tmp_path / pattern)
  assert dataset.data_sources == dataset.file_pattern
  assert dataset.num_samples == num_samples
  assert dataset.num_classes == num_classes
  assert dataset.image_channels == channels
  assert dataset.default_format == fmt
  assert dataset.labels_to_names is None  # No labels.txt here.
  assert dataset.decoder.image_channels == channels


def test_dataset_names_are_sorted_and_complete():
  assert dataset_factory.DATASET_NAMES == ['cifar10', 'digits', 'flowers',
                                           'imagenet', 'mnist']


def test_fixed_image_shapes():
  shapes = {n: dataset_factory.get_info(n).image_shape
            for n in dataset_factory.DATASET_NAMES}
  assert shapes == {'cifar10': (32, 32, 3), 'digits': (8, 8, 1),
                    'flowers': None, 'imagenet': None, 'mnist': (28, 28, 1)}


def test_unknown_dataset_lists_the_valid_ones():
  with pytest.raises(ValueError, match='unknown dataset .svhn.*cifar10, '
                     'digits, flowers, imagenet, mnist'):
    dataset_factory.get_dataset('svhn', 'train', '/tmp')


def test_unknown_split_lists_the_valid_ones():
  with pytest.raises(ValueError, match="no split 'validation'; valid splits: "
                     'test, train'):
    dataset_factory.get_dataset('cifar10', 'validation', '/tmp')


def test_labels_txt_is_read_slim_style(tmp_path):
  (tmp_path / 'labels.txt').write_text('0:daisy\n1:dandelion\n2:a:b\n\n')
  dataset = dataset_factory.get_dataset('flowers', 'train', str(tmp_path))
  assert dataset.labels_to_names == {0: 'daisy', 1: 'dandelion', 2: 'a:b'}


def test_bad_labels_txt_is_a_clear_error(tmp_path):
  (tmp_path / 'labels.txt').write_text('zero:cat\n')
  with pytest.raises(errors.DatasetError, match='labels.txt line 1'):
    dataset_factory.get_dataset('cifar10', 'train', str(tmp_path))


def test_splits_txt_overrides_the_published_sizes(tmp_path):
  dataset_files.write_splits_file({'train': 10, 'validation': 5},
                                  str(tmp_path))
  assert dataset_factory.get_dataset('flowers', 'validation',
                                     str(tmp_path)).num_samples == 5
  assert dataset_factory.get_dataset('flowers', 'train',
                                     str(tmp_path)).num_samples == 10


def test_file_pattern_override(tmp_path):
  dataset = dataset_factory.get_dataset('cifar10', 'test', str(tmp_path),
                                        file_pattern='mine_%s-*')
  assert dataset.file_pattern == str(tmp_path / 'mine_test-*')
