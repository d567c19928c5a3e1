"""Runs what `evaluation.export` wrote: frozen graph, SavedModel, TFLite.

Each function takes a batch of preprocessed images (float32 [N, H, W, C], as
the `input` node expects) and returns {'logits', 'probabilities', 'classes'}
as numpy arrays. The SavedModel and TFLite runners use TF2 APIs and need eager
execution (a process that did not call `disable_v2_behavior`); the frozen
graph runs in either mode.

    outputs = run_saved_model('/tmp/export/saved_model', images)
    outputs = classify_files('/tmp/export/saved_model', ['digit.png'])
    outputs = run_tflite('/tmp/export/model.tflite', images)
"""
import numpy as np

from evaluation import export
from runtime.tf_compat import tf

v1 = tf.compat.v1


def _require_eager(what):
  if not tf.executing_eagerly():
    raise RuntimeError('%s needs eager execution (TF2 behaviour); run it in '
                       'a process that has not called disable_v2_behavior()'
                       % what)


def run_frozen_graph(path, images, input_name=export.INPUT_NAME,
                     output_names=export.OUTPUT_NAMES):
  """Imports a frozen GraphDef and runs it on `images`."""
  graph_def = v1.GraphDef()
  with tf.io.gfile.GFile(path, 'rb') as f:
    graph_def.ParseFromString(f.read())
  with tf.Graph().as_default() as graph:
    tf.graph_util.import_graph_def(graph_def, name='')
    with v1.Session(graph=graph) as sess:
      values = sess.run([name + ':0' for name in output_names],
                        {input_name + ':0': images})
  return dict(zip(output_names, values))


def _numpy(outputs):
  return {k: v.numpy() for k, v in outputs.items()}


def load_saved_model(path):
  """`tf.saved_model.load(path)`, in eager mode."""
  _require_eager('tf.saved_model.load')
  return tf.saved_model.load(path)


def _loaded(model_or_path):
  if isinstance(model_or_path, str):
    return load_saved_model(model_or_path)
  return model_or_path


def run_saved_model(model_or_path, images,
                    signature=export.SERVING_SIGNATURE):
  """Calls the `serving_default` signature of a SavedModel (a path or what
  `load_saved_model` returned) on preprocessed images."""
  fn = _loaded(model_or_path).signatures[signature]
  return _numpy(fn(**{export.IMAGES_KEY: tf.constant(images, tf.float32)}))


def classify_files(model_or_path, image_files):
  """Classifies encoded image files with the SavedModel's `classify`
  signature (preprocessing built in)."""
  model = _loaded(model_or_path)
  contents = [tf.io.read_file(f) for f in image_files]
  fn = model.signatures[export.CLASSIFY_SIGNATURE]
  return _numpy(fn(**{export.BYTES_INPUT_NAME: tf.stack(contents)}))


def run_tflite(path, images):
  """Runs a TFLite flatbuffer, resizing its input to the batch."""
  _require_eager('tf.lite.Interpreter')
  images = np.asarray(images, np.float32)
  interpreter = tf.lite.Interpreter(model_path=path)
  (input_detail,) = interpreter.get_input_details()
  if list(input_detail['shape']) != list(images.shape):
    interpreter.resize_tensor_input(input_detail['index'], images.shape)
  interpreter.allocate_tensors()
  interpreter.set_tensor(input_detail['index'], images)
  interpreter.invoke()
  outputs = {}
  for detail in interpreter.get_output_details():
    name = detail['name'].split(':')[0]
    outputs[name] = interpreter.get_tensor(detail['index'])
  return outputs
