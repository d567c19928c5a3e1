"""CIFAR-10 in Slim's format: 32x32x3 PNG records, train 50000 / test 10000.

Files `cifar10_train.tfrecord` and `cifar10_test.tfrecord`, as written by
Slim's `download_and_convert_cifar10.py` and by `download_and_convert_data.py
--dataset_name=cifar10` here.

    split = cifar10.INFO.get_split('test', '/tmp/cifar10')
"""
from datasets import dataset_info

CLASS_NAMES = ('airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog',
               'horse', 'ship', 'truck')

INFO = dataset_info.DatasetInfo(
    name='cifar10',
    file_pattern='cifar10_%s.tfrecord',
    splits_to_sizes={'train': 50000, 'test': 10000},
    num_classes=10,
    default_format='png',
    image_channels=3,
    image_shape=(32, 32, 3),
    items_to_descriptions={
        'image': 'A [32 x 32 x 3] color image.',
        'label': 'A single integer between 0 and 9',
    })
