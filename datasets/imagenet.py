"""ImageNet (ILSVRC-2012) in Slim's format, as built by Slim's build scripts.

Shards `train-00000-of-01024` .. and `validation-00000-of-00128` ..;
1,281,167 / 50,000 images; 1001 labels (0 is background, hence
`--labels_offset=1` for 1000-class checkpoints); `image/format` is `JPEG`.
There is no converter here (the data cannot be downloaded without an account);
point `--dataset_dir` at shards made by Slim's `build_imagenet_data.py`.

    split = imagenet.INFO.get_split('validation', '/data/imagenet')
"""
from datasets import dataset_info

INFO = dataset_info.DatasetInfo(
    name='imagenet',
    file_pattern='%s-*',
    splits_to_sizes={'train': 1281167, 'validation': 50000},
    num_classes=1001,
    default_format='jpeg',
    image_channels=3,
    image_shape=None,
    items_to_descriptions={
        'image': 'A color image of varying height and width.',
        'label': 'The label id of the image, integer between 0 and 1000',
    })
