"""MNIST in Slim's format: 28x28x1 records, train 60000 / test 10000.

Files `mnist_train.tfrecord` and `mnist_test.tfrecord`. Slim's converter
PNG-encodes the images (`image/format` = `png`) although its reader's default
format is `raw`; both read here.

    split = mnist.INFO.get_split('train', '/tmp/mnist')
"""
from datasets import dataset_info

# Slim's converter writes 'size' for 6 (a typo); we write the right word.
CLASS_NAMES = ('zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven',
               'eight', 'nine')

INFO = dataset_info.DatasetInfo(
    name='mnist',
    file_pattern='mnist_%s.tfrecord',
    splits_to_sizes={'train': 60000, 'test': 10000},
    num_classes=10,
    default_format='raw',
    image_channels=1,
    image_shape=(28, 28, 1),
    items_to_descriptions={
        'image': 'A [28 x 28 x 1] grayscale image.',
        'label': 'A single integer between 0 and 9',
    })
