"""Runs exported models in a fresh TF2 (eager) process for the export tests.

The test process may be in graph mode, and `tf.saved_model.load` and the TFLite
interpreter need eager execution, so the tests write a JSON spec and run

    python -m tests.export_testlib SPEC.json

which loads every SavedModel / TFLite file listed, feeds the same images, and
writes the outputs to the spec's .npz as `<key>/<format>/<output>`.

Spec: {"images": "x.npy", "output": "out.npz", "runs": [{"key": "slim",
"saved_model": DIR, "tflite": FILE, "image_files": [PNG, ...]}]}
"""
import json
import os
import subprocess
import sys

import numpy as np

from datasets import tfrecord_io

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def write_encoded_images(tfrecord_path, count, directory):
  """Writes the first `count` `image/encoded` files of a TFRecord; returns
  their paths (the same examples the pipeline reads first)."""
  from runtime.tf_compat import tf  # pylint: disable=g-import-not-at-top
  paths = []
  for i, record in enumerate(tfrecord_io.iter_records(tfrecord_path,
                                                      limit=count)):
    example = tf.train.Example.FromString(record)
    features = example.features.feature
    encoded = features['image/encoded'].bytes_list.value[0]
    image_format = features['image/format'].bytes_list.value[0].decode()
    path = os.path.join(directory, 'example_%d.%s' % (i, image_format))
    with open(path, 'wb') as f:
      f.write(encoded)
    paths.append(path)
  return paths


def run_in_eager_subprocess(spec, spec_path, timeout=300):
  """Writes `spec` and runs this module on it; returns the outputs dict."""
  with open(spec_path, 'w') as f:
    json.dump(spec, f)
  env = dict(os.environ, PYTHONPATH=ROOT)
  done = subprocess.run([sys.executable, '-m', 'tests.export_testlib',
                         spec_path], cwd=ROOT, env=env, capture_output=True,
                        text=True, timeout=timeout)
  if done.returncode:
    raise AssertionError('export_testlib failed:\n' + done.stderr)
  with np.load(spec['output']) as outputs:
    return dict(outputs)


def main(spec_path):
  from evaluation import exported_model  # pylint: disable=g-import-not-at-top
  from runtime.tf_compat import tf  # pylint: disable=g-import-not-at-top
  assert tf.executing_eagerly()
  with open(spec_path) as f:
    spec = json.load(f)
  images = np.load(spec['images'])
  outputs = {}
  for run in spec['runs']:
    results = {}
    if run.get('saved_model'):
      model = exported_model.load_saved_model(run['saved_model'])
      results['saved_model'] = exported_model.run_saved_model(model, images)
      if run.get('image_files'):
        results['classify'] = exported_model.classify_files(
            model, run['image_files'])
    if run.get('tflite'):
      results['tflite'] = exported_model.run_tflite(run['tflite'], images)
    for kind, values in results.items():
      for name, value in values.items():
        outputs['%s/%s/%s' % (run['key'], kind, name)] = value
  np.savez(spec['output'], **outputs)


if __name__ == '__main__':
  main(sys.argv[1])
