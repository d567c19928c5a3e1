"""Converts TensorFlow's `flower_photos.tgz` to Slim TFRecords.

The tarball holds `flower_photos/{daisy,dandelion,roses,sunflowers,tulips}/
*.jpg`. Class ids follow the sorted folder names. The photos are listed in
sorted order, shuffled with `random.Random(0)` (Slim's seed 0; Slim listed
folders in `os.listdir` order, so its exact split depends on the file system,
ours does not), and the first 350 become `validation`, the rest `train`.
Each split is written in 5 shards, `flowers_{split}_{shard:05d}-of-00005
.tfrecord`; the JPEG bytes are stored unchanged with `image/format` = `jpg`
and the true height/width.

    run('/tmp/flowers', archive_path='/dl/flower_photos.tgz')
"""
import math
import os
import random

from datasets import conversion
from datasets import errors
from datasets import flowers
from datasets import image_codec
from datasets import safe_archive
from datasets import tfrecord_io

DATA_URL = 'http://download.tensorflow.org/example_images/flower_photos.tgz'
ROOT_DIR = 'flower_photos'
NUM_VALIDATION = 350
RANDOM_SEED = 0
NUM_SHARDS = 5

_FORMATS = {'jpeg': b'jpg', 'png': b'png'}


def output_filename(split_name, shard_id, num_shards=NUM_SHARDS):
  """Slim's shard name, e.g. flowers_train_00002-of-00005.tfrecord."""
  return 'flowers_%s_%05d-of-%05d.tfrecord' % (split_name, shard_id,
                                               num_shards)


def list_photos(root):
  """Returns (sorted class names, sorted [(path, class name)]).

  Example:
    classes, photos = list_photos(os.path.join(scratch, 'flower_photos'))
  """
  if not os.path.isdir(root):
    raise errors.DatasetError('the archive has no %s/ folder' %
                              os.path.basename(root))
  classes = sorted(d for d in os.listdir(root)
                   if os.path.isdir(os.path.join(root, d)))
  if not classes:
    raise errors.DatasetError('%s has no class folders' % root)
  photos = []
  for name in classes:
    folder = os.path.join(root, name)
    for filename in sorted(os.listdir(folder)):
      path = os.path.join(folder, filename)
      if os.path.isfile(path) and not filename.startswith('.'):
        photos.append((path, name))
  return classes, photos


def split_photos(photos, num_validation=NUM_VALIDATION, seed=RANDOM_SEED):
  """Shuffles with `seed`; returns (train, validation).

  Example:
    train, validation = split_photos(photos)
  """
  if num_validation > len(photos):
    raise errors.DatasetError('%d photos, fewer than the %d validation images'
                              % (len(photos), num_validation))
  photos = list(photos)
  random.Random(seed).shuffle(photos)
  return photos[num_validation:], photos[:num_validation]


def photo_record(path, class_id):
  """Reads one photo and returns its serialized Slim Example."""
  with open(path, 'rb') as f:
    data = f.read()
  kind = image_codec.sniff_format(data)
  if kind not in _FORMATS:
    raise errors.DatasetError('%s is not a JPEG or PNG image' % path)
  try:
    size = (image_codec.jpeg_size(data) if kind == 'jpeg' else
            image_codec.png_size(data))
  except ValueError as e:
    raise errors.DatasetError('%s: %s' % (path, e)) from None
  height, width, _ = size
  return tfrecord_io.image_example(data, _FORMATS[kind], height, width,
                                   class_id).SerializeToString()


def write_sharded(dataset_dir, split_name, photos, class_ids,
                  num_shards=NUM_SHARDS):
  """Writes `photos` in `num_shards` shards; returns the record count."""
  per_shard = int(math.ceil(len(photos) / float(num_shards)))
  count = 0
  for shard in range(num_shards):
    chunk = photos[shard * per_shard:(shard + 1) * per_shard]
    count += conversion.write_split(
        dataset_dir, output_filename(split_name, shard, num_shards),
        (photo_record(path, class_ids[name]) for path, name in chunk))
  return count


def run(dataset_dir, archive_path=None, source_url=DATA_URL,
        num_validation=NUM_VALIDATION, num_shards=NUM_SHARDS):
  """Converts the flowers; skips if the outputs exist.

  Args:
    dataset_dir: where the TFRecords and labels.txt go.
    archive_path: a local `flower_photos.tgz`; None downloads `source_url`.
    source_url: the tarball's URL (also file://).
    num_validation: photos in the validation split (Slim: 350).
    num_shards: shards per split (Slim: 5).

  Returns:
    {split: number of examples}.

  Example:
    run('/tmp/flowers', archive_path='flower_photos.tgz')
  """
  conversion.make_dataset_dir(dataset_dir)
  outputs = [output_filename(s, i, num_shards)
             for s in ('train', 'validation') for i in range(num_shards)]
  if conversion.outputs_exist(dataset_dir, outputs):
    return conversion.existing_counts(dataset_dir)
  archive, downloaded = conversion.fetch_archive(dataset_dir, archive_path,
                                                 source_url)
  with conversion.scratch_dir(dataset_dir) as scratch:
    safe_archive.extract_tar(archive, scratch)
    classes, photos = list_photos(os.path.join(scratch, ROOT_DIR))
    class_ids = {name: i for i, name in enumerate(classes)}
    train, validation = split_photos(photos, num_validation)
    counts = {
        'train': write_sharded(dataset_dir, 'train', train, class_ids,
                               num_shards),
        'validation': write_sharded(dataset_dir, 'validation', validation,
                                    class_ids, num_shards),
    }
  if downloaded:
    os.remove(archive)
  return conversion.finish(dataset_dir, classes, counts)
