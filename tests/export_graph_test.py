"""Export: frozen graph, SavedModel and TFLite predict what the graph-mode
model predicts from the same checkpoint, in the slim and raw styles.

One checkpoint (the tiny SE-ResNet trained on digits) is exported twice: with
the script as a subprocess in the slim style, and through the library in the
raw style. The SavedModel (both signatures) and TFLite files are run in one
fresh TF2 eager process (tests/export_testlib.py).
"""
import os

import numpy as np
import pytest

from datasets import dataset_factory
from evaluation import export
from evaluation import exported_model
from runtime.tf_compat import tf, v1
from tests import eval_testlib as tl
from tests import export_testlib

pytestmark = pytest.mark.slow  # exports, then loads in a fresh TF2 process

STYLES = ('slim', 'raw')
NUM_EXAMPLES = 6
RTOL = 1e-4  # max |difference| / max |reference|


def _files(directory):
  return dict(output_file=os.path.join(directory, 'graph.pb'),
              frozen_graph_file=os.path.join(directory, 'frozen.pb'),
              saved_model_dir=os.path.join(directory, 'saved_model'),
              tflite_file=os.path.join(directory, 'model.tflite'))


@pytest.fixture(scope='module')
def exported(tmp_path_factory):
  data, checkpoint = tl.shared_checkpoint(tmp_path_factory)
  base = str(tmp_path_factory.mktemp('export'))
  files = {style: _files(os.path.join(base, style)) for style in STYLES}
  script = tl.start_script(
      ['export_inference_graph.py', '--layer_style=slim',
       '--dataset_name=digits', '--image_size=32',
       '--checkpoint_path=%s' % os.path.dirname(checkpoint)] + tl.TINY_FLAGS +
      ['--%s=%s' % item for item in sorted(files['slim'].items())])
  try:
    raw_result = export.export(export.ExportConfig(
        model=tl.tiny_config('raw', preprocessing_name=None), num_classes=10,
        dataset_name='digits', checkpoint_path=checkpoint,
        **files['raw']))
    # The reference and the inputs while the script runs.
    dataset = dataset_factory.get_dataset('digits', 'test', data)
    images, labels = tl.read_split(dataset, tl.tiny_config())
    images, labels = images[:NUM_EXAMPLES], labels[:NUM_EXAMPLES]
    reference = {style: tl.logits_from_checkpoint(tl.tiny_config(style),
                                                  checkpoint, images, 10)
                 for style in STYLES}
    png_dir = os.path.join(base, 'png')
    os.makedirs(png_dir)
    pngs = export_testlib.write_encoded_images(dataset.file_pattern,
                                               NUM_EXAMPLES, png_dir)
    np.save(os.path.join(base, 'images.npy'), images)
    stdout, stderr = script.communicate(timeout=600)
  finally:
    if script.poll() is None:
      script.kill()
  assert script.returncode == 0, stderr

  eager = export_testlib.run_in_eager_subprocess(
      {'images': os.path.join(base, 'images.npy'),
       'output': os.path.join(base, 'eager.npz'),
       'runs': [{'key': style, 'saved_model': files[style]['saved_model_dir'],
                 'tflite': files[style]['tflite_file'], 'image_files': pngs}
                for style in STYLES]},
      os.path.join(base, 'spec.json'))
  return dict(files=files, script_stdout=stdout, raw_result=raw_result,
              images=images, labels=labels, eager=eager, reference=reference,
              checkpoint=checkpoint)


def _softmax(logits):
  e = np.exp(logits - logits.max(axis=1, keepdims=True))
  return e / e.sum(axis=1, keepdims=True)


def _assert_same_predictions(outputs, reference_logits, what):
  logits = outputs['logits']
  scale = np.abs(reference_logits).max()
  assert np.abs(logits - reference_logits).max() <= RTOL * scale, what
  probabilities = _softmax(reference_logits.astype(np.float64))
  assert np.abs(outputs['probabilities'] - probabilities).max() <= RTOL, what
  np.testing.assert_array_equal(outputs['classes'],
                                np.argmax(reference_logits, 1), what)


@pytest.mark.parametrize('style', STYLES)
def test_frozen_graph_predicts_like_the_graph_mode_model(exported, style):
  frozen = exported_model.run_frozen_graph(
      exported['files'][style]['frozen_graph_file'], exported['images'])
  _assert_same_predictions(frozen, exported['reference'][style], style)
  graph_def = v1.GraphDef()
  with open(exported['files'][style]['frozen_graph_file'], 'rb') as f:
    graph_def.ParseFromString(f.read())
  ops = {node.op for node in graph_def.node}
  assert not ops & {'VariableV2', 'VarHandleOp', 'ReadVariableOp'}
  inputs = [n for n in graph_def.node if n.op == 'Placeholder']
  assert [n.name for n in inputs] == [export.INPUT_NAME]


@pytest.mark.parametrize('style', STYLES)
@pytest.mark.parametrize('kind', ['saved_model', 'tflite'])
def test_saved_model_and_tflite_in_tf2_predict_like_the_graph_mode_model(
    exported, style, kind):
  prefix = '%s/%s/' % (style, kind)
  outputs = {name[len(prefix):]: value
             for name, value in exported['eager'].items()
             if name.startswith(prefix)}
  assert set(outputs) == set(export.OUTPUT_NAMES)
  _assert_same_predictions(outputs, exported['reference'][style],
                           prefix)


@pytest.mark.parametrize('style', STYLES)
def test_classify_signature_preprocesses_image_files_like_evaluation(
    exported, style):
  prefix = '%s/classify/' % style
  outputs = {name[len(prefix):]: value
             for name, value in exported['eager'].items()
             if name.startswith(prefix)}
  _assert_same_predictions(outputs, exported['reference'][style], prefix)


def test_graph_def_and_script_output_name_the_nodes(exported):
  stdout = exported['script_stdout']
  assert 'input node: input [None, 32, 32, 3] float32' in stdout
  assert 'output nodes: logits, probabilities, classes' in stdout
  assert 'weights: %s (step 100)' % exported['checkpoint'] in stdout
  graph_def = v1.GraphDef()
  with open(exported['files']['slim']['output_file'], 'rb') as f:
    graph_def.ParseFromString(f.read())
  nodes = {node.name: node.op for node in graph_def.node}
  assert nodes['input'] == 'Placeholder'
  assert set(export.OUTPUT_NAMES) <= set(nodes)
  assert any(op in ('VariableV2', 'VarHandleOp') for op in nodes.values())
  assert exported['raw_result'].input_shape == [None, 32, 32, 3]
  assert sorted(exported['raw_result'].files) == [
      'frozen_graph', 'graph', 'saved_model', 'tflite']


def test_export_refuses_to_overwrite_or_to_freeze_without_weights(exported):
  config = tl.tiny_config()
  with pytest.raises(export.ExportError, match='already exists'):
    export.export(export.ExportConfig(
        model=config, num_classes=10, checkpoint_path=exported['checkpoint'],
        saved_model_dir=exported['files']['raw']['saved_model_dir']))
  with pytest.raises(export.ExportError, match='need --checkpoint_path'):
    export.export(export.ExportConfig(model=config, num_classes=10,
                                      tflite_file='/tmp/never.tflite'))
  with pytest.raises(export.ExportError, match='nothing to export'):
    export.export(export.ExportConfig(model=config, num_classes=10))
  assert tf.io.gfile.exists(exported['files']['raw']['saved_model_dir'])


def test_classes_output_adds_back_the_labels_offset():
  config = tl.tiny_config(model_name='simple_cnn', labels_offset=1)
  built = export.build_inference_graph(config, num_classes=11, batch_size=4)
  images = np.random.RandomState(0).uniform(-1, 1, [4, 32, 32, 3])
  with built.graph.as_default(), v1.Session() as sess:
    sess.run(v1.global_variables_initializer())
    logits, classes = sess.run(
        [built.outputs['logits'], built.outputs['classes']],
        {built.images: images})
  assert logits.shape == (4, 10) and built.images.shape.as_list()[0] == 4
  np.testing.assert_array_equal(classes, np.argmax(logits, 1) + 1)
