"""The converters by dataset name, for download_and_convert_data.py.

    converters.convert('digits', '/tmp/digits')
    converters.convert('cifar10', '/tmp/c', archive_path='cifar.tar.gz')

The converter modules (which import TensorFlow) are imported only when one
runs, so the script checks its flags first.
"""
import importlib

CONVERTERS = {
    'cifar10': 'datasets.download_and_convert_cifar10',
    'digits': 'datasets.download_and_convert_digits',
    'flowers': 'datasets.download_and_convert_flowers',
    'mnist': 'datasets.download_and_convert_mnist',
}

CONVERTER_NAMES = sorted(CONVERTERS)

NO_CONVERTER = {
    'imagenet': ('ImageNet cannot be downloaded without an account; build its '
                 'TFRecords with Slim\'s datasets/download_and_convert_'
                 'imagenet.sh and point --dataset_dir at them'),
}


def convert(name, dataset_dir, archive_path=None, source_url=None, **kwargs):
  """Runs one dataset's converter; returns {split: count}.

  Args:
    name: one of `CONVERTER_NAMES`.
    dataset_dir: output directory (created if needed).
    archive_path: local archive (mnist: the directory of .gz files); None
      downloads from the canonical URL (digits needs neither).
    source_url: overrides the canonical URL (a mirror, or file://).
    **kwargs: converter-specific options (flowers: num_validation,
      num_shards).

  Raises:
    ValueError: for a name without a converter, listing the valid ones.
    DatasetError: if the source data is missing, unreadable or unsafe.

  Example:
    convert('flowers', '/tmp/flowers', archive_path='flower_photos.tgz',
            num_validation=350)
  """
  if name not in CONVERTERS:
    extra = ' (%s)' % NO_CONVERTER[name] if name in NO_CONVERTER else ''
    raise ValueError('no converter for dataset %r%s; valid: %s' %
                     (name, extra, ', '.join(CONVERTER_NAMES)))
  module = importlib.import_module(CONVERTERS[name])
  if source_url:
    kwargs['source_url'] = source_url
  return module.run(dataset_dir, archive_path=archive_path, **kwargs)
