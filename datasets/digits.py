"""The embedded `digits` dataset: scikit-learn's bundled handwritten digits.

1797 real scanned 8x8 grayscale digits (UCI "Optical Recognition of
Handwritten Digits"), shipped inside scikit-learn, so no network is needed.
The converter scales the 0..16 intensities to 0..255 (`round(v * 255 / 16)`),
PNG-encodes each 8x8x1 image as is, and splits with a fixed seed, stratified
by class: train 1437, test 360. Files `digits_train.tfrecord` and
`digits_test.tfrecord`, `labels.txt` with `0:0` .. `9:9`.

    split = digits.INFO.get_split('train', '/tmp/digits')   # 1437 examples
"""
from datasets import dataset_info

NUM_TRAIN = 1437
NUM_TEST = 360
SPLIT_SEED = 0

CLASS_NAMES = tuple(str(i) for i in range(10))

INFO = dataset_info.DatasetInfo(
    name='digits',
    file_pattern='digits_%s.tfrecord',
    splits_to_sizes={'train': NUM_TRAIN, 'test': NUM_TEST},
    num_classes=10,
    default_format='png',
    image_channels=1,
    image_shape=(8, 8, 1),
    items_to_descriptions={
        'image': 'An [8 x 8 x 1] grayscale handwritten digit.',
        'label': 'A single integer between 0 and 9',
    })
