"""Flowers (TensorFlow's flower_photos) in Slim's format: JPEG records.

Five shards per split, `flowers_{split}_{shard:05d}-of-00005.tfrecord`;
train 3320 / validation 350; 5 classes. Slim's converter writes
`image/format` as `jpg` (its reader's default is `png`; both decode).

    split = flowers.INFO.get_split('validation', '/tmp/flowers')
"""
from datasets import dataset_info

CLASS_NAMES = ('daisy', 'dandelion', 'roses', 'sunflowers', 'tulips')

INFO = dataset_info.DatasetInfo(
    name='flowers',
    file_pattern='flowers_%s_*.tfrecord',
    splits_to_sizes={'train': 3320, 'validation': 350},
    num_classes=5,
    default_format='png',
    image_channels=3,
    image_shape=None,
    items_to_descriptions={
        'image': 'A color image of varying size.',
        'label': 'A single integer between 0 and 4',
    })
