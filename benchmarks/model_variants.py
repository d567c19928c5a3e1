"""The things `bench_models` times, each built in its own graph and session.

A variant is one network written one way:

| name                            | what                                        |
|---------------------------------|---------------------------------------------|
| `resnet_v1_50/slim` (`/raw`...) | ours, from `nets_factory` in a layer style  |
| `tf_slim.nets/resnet_v1_50`     | the ResNet v1 that ships with tf_slim       |
| `tf_keras.applications/ResNet50`| Keras' ResNet50 (`weights=None`)            |
| `timm/seresnet50`               | timm's SE-ResNet-50 in PyTorch, in a child  |
|                                 | process (`benchmarks.torch_peer`)           |
| `matmul/2048`                   | a 2048^3 TF matmul: the machine's ceiling   |
| `numpy_matmul/2048`             | the same with numpy's BLAS, a second ceiling|
| `resnet_v1_50/slim#2`           | a replica: the A/A control (`replica()`)    |
| `resnet_v1_50/slim@unfolded`    | ours with Slim's Conv2D -> FusedBatchNorm   |
|                                 | (`unfolded()`: what BN folding buys)        |
| `se_resnet_v1_50/slim@topology=torch` | ours in another topology (`ours()`)   |
| `se_resnet_v1_50/slim@se=tf_ops` | ours with another SE path (`se_path()`):  |
|                                 | `tf_ops` TensorFlow's ops only, squeeze of  |
|                                 | conv3's output (the SE unit before the      |
|                                 | compiled tail); `late_squeeze` the compiled |
|                                 | tail, squeeze of conv3's output             |

`build()` makes a graph with the images and labels held in local variables
(no feeding, no input pipeline: only the network is timed) and one op to run
per step: the logits in `forward` mode (inference batch norm), an SGD-momentum
step on the softmax cross-entropy with `UPDATE_OPS` in `train` mode.

Example:

    variant = variant_from_name('resnet_v1_50/raw')
    with build(variant, 'train', batch_size=8, image_size=224,
               config=session_config.session_config()) as built:
      built.step()
      built.multiply_adds_per_image
"""
import collections

import numpy as np

from benchmarks import flops
from nets import layers
from nets import nets_factory
from nets import resnet_v1
from runtime.tf_compat import slim, tf, tf_keras, v1

MODES = ('forward', 'train')

OURS = 'ours'
TF_SLIM = 'tf_slim'
KERAS_APPLICATIONS = 'keras_applications'
TIMM = 'timm'
MATMUL = 'matmul'
NUMPY_MATMUL = 'numpy_matmul'
CEILINGS = (MATMUL, NUMPY_MATMUL)
PEERS = (TF_SLIM, KERAS_APPLICATIONS, TIMM)

REPLICA_SUFFIX = '#2'
UNFOLDED_SUFFIX = '@unfolded'
TOPOLOGY_MARK = '@topology='
SE_PATH_MARK = '@se='
# SE path -> (custom_ops of layers.squeeze_excitation, enabled of
# layers.squeeze_before); None (the default path) is (True, True).
SE_PATHS = {'tf_ops': (False, False), 'late_squeeze': (True, False)}

_PEER_PREFIX = {TF_SLIM: 'tf_slim.nets', KERAS_APPLICATIONS:
                'tf_keras.applications', TIMM: 'timm'}
_KERAS_RESNETS = {50: 'ResNet50', 101: 'ResNet101', 152: 'ResNet152'}
# Our network -> timm's model of the same arrangement (ours with topology 'torch').
_TIMM_MODELS = dict(
    [('resnet_v1_%d' % d, 'resnet%d' % d) for d in (50, 101, 152)] +
    [('se_resnet_v1_%d' % d, 'seresnet%d' % d) for d in (50, 101, 152)] +
    [('resnext_%d_32x4d' % d, 'resnext%d_32x4d' % d) for d in (50, 101)] +
    [('se_resnext_%d_32x4d' % d, 'seresnext%d_32x4d' % d) for d in (50, 101)])

# Op types that move no data: left out of `Built.op_type_counts`, which
# compares what two variants compute (e.g. ours vs tf_slim's).
BOOKKEEPING_OP_TYPES = frozenset([
    'Const', 'Identity', 'NoOp', 'VariableV2', 'VarHandleOp', 'ReadVariableOp',
    'VarIsInitializedOp', 'Placeholder', 'PlaceholderWithDefault', 'Shape',
    'StopGradient', 'IdentityN'])

LEARNING_RATE = 0.01
MOMENTUM = 0.9


class Variant(collections.namedtuple(
    'Variant', ['name', 'kind', 'model', 'style', 'fold_batch_norm',
                'topology', 'se_path'],
    defaults=(True, None, None))):
  """One timed thing; `model` is our network name (or the matmul size).

  `fold_batch_norm` (ours only): inference batch norm folded into the convs
  (`nets.layers.batch_norm_folding`), as our networks build by default.
  `topology` (ours only): a `nets.topology` preset that overrides the run's
  (`build(topology=...)`), e.g. 'torch' next to the timm peer.
  `se_path` (ours only): None, or a key of `SE_PATHS` (see `se_path()`).
  """


def ours(model, style, topology=None):
  """Our network `model` (a nets_factory name) in layer style `style`."""
  nets_factory.check_name(model)
  name = '%s/%s' % (model, style)
  if topology:
    name += TOPOLOGY_MARK + topology
  return Variant(name, OURS, model, style, topology=topology)


def _plain_resnet_depth(model):
  prefix = 'resnet_v1_'
  if model.startswith(prefix) and model[len(prefix):].isdigit():
    depth = int(model[len(prefix):])
    if depth in resnet_v1.UNITS_PER_BLOCK:
      return depth
  return None


def peer(kind, model):
  """The peer `kind` of our `model`, or None if that peer has no such net."""
  if kind == TIMM:
    if model not in _TIMM_MODELS:
      return None
    return Variant('%s/%s' % (_PEER_PREFIX[kind], _TIMM_MODELS[model]), kind,
                   model, None)
  depth = _plain_resnet_depth(model)
  if depth is None:
    return None
  if kind == TF_SLIM:
    return Variant('%s/%s' % (_PEER_PREFIX[kind], model), kind, model, None)
  if kind == KERAS_APPLICATIONS:
    if depth not in _KERAS_RESNETS:
      return None
    return Variant('%s/%s' % (_PEER_PREFIX[kind], _KERAS_RESNETS[depth]),
                   kind, model, None)
  raise ValueError('Unknown peer %r; valid peers: %s' %
                   (kind, ', '.join(PEERS)))


def matmul(size):
  """A `size`^3 float32 TensorFlow matmul."""
  return Variant('matmul/%d' % size, MATMUL, size, None)


def numpy_matmul(size):
  """A `size`^3 float32 numpy (BLAS) matmul, outside TensorFlow."""
  return Variant('numpy_matmul/%d' % size, NUMPY_MATMUL, size, None)


def replica(variant):
  """A second, independently built copy of `variant`, named `<name>#2`.

  Timed against the original it is an A/A control: its ratio shows how far
  the machine's noise alone moves a ratio of identical graphs.
  """
  return variant._replace(name=variant.name + REPLICA_SUFFIX)


def unfolded(variant):
  """Our `variant` with batch norm unfolded, named `<name>@unfolded`.

  Timed against the original in forward mode it shows what folding inference
  batch norm into the convs buys; in train mode (batch statistics, nothing
  folded) the two graphs are the same, a second A/A control.
  """
  if variant.kind != OURS:
    raise ValueError('Only our networks fold batch norm, not %r' %
                     variant.name)
  return variant._replace(name=variant.name + UNFOLDED_SUFFIX,
                          fold_batch_norm=False)


def se_path(variant, path):
  """Our SE `variant` with the SE unit built another way, `<name>@se=<path>`.

  'tf_ops': TensorFlow's ops for the SE tail and the squeeze of conv3's
  output (`custom_ops=False`, `squeeze_before` off); 'late_squeeze': the
  compiled tail, the squeeze of conv3's output. Timed against the original,
  it shows what the compiled tail and the early squeeze buy.
  """
  if variant.kind != OURS or path not in SE_PATHS:
    raise ValueError('SE paths (%s) are for our networks, not %r / %r' % (
        ', '.join(SE_PATHS), variant.name, path))
  return variant._replace(name=variant.name + SE_PATH_MARK + path,
                          se_path=path)


def variant_from_name(name):
  """Inverse of `Variant.name`, e.g. for a subprocess that builds one variant."""
  if SE_PATH_MARK in name:
    base, _, path = name.rpartition(SE_PATH_MARK)
    return se_path(variant_from_name(base), path)
  if name.endswith(REPLICA_SUFFIX):
    return replica(variant_from_name(name[:-len(REPLICA_SUFFIX)]))
  if name.endswith(UNFOLDED_SUFFIX):
    return unfolded(variant_from_name(name[:-len(UNFOLDED_SUFFIX)]))
  prefix, _, rest = name.partition('/')
  if prefix == MATMUL and rest.isdigit():
    return matmul(int(rest))
  if prefix == NUMPY_MATMUL and rest.isdigit():
    return numpy_matmul(int(rest))
  if prefix == _PEER_PREFIX[TF_SLIM]:
    found = peer(TF_SLIM, rest)
  elif prefix == _PEER_PREFIX[TIMM]:
    by_name = {v: k for k, v in _TIMM_MODELS.items()}
    found = peer(TIMM, by_name[rest]) if rest in by_name else None
  elif prefix == _PEER_PREFIX[KERAS_APPLICATIONS]:
    by_name = {v: k for k, v in _KERAS_RESNETS.items()}
    found = (peer(KERAS_APPLICATIONS, 'resnet_v1_%d' % by_name[rest])
             if rest in by_name else None)
  else:
    style, _, topology = rest.partition(TOPOLOGY_MARK)
    return ours(prefix, style, topology or None)
  if found is None:
    raise ValueError('Unknown benchmark variant %r' % name)
  return found


class Built(object):
  """A variant's graph and session, ready to step. Use as a context manager.

  `step_fn` replaces `session.run(op)` for variants outside TensorFlow.
  """

  def __init__(self, variant, mode, batch_size, graph, session, op,
               multiply_adds, update_ops_run, op_type_counts=None,
               step_fn=None, close_fn=None):
    self.variant = variant
    self.mode = mode
    self.batch_size = batch_size
    self.graph = graph
    self.session = session
    self.op = op
    self._step_fn = step_fn
    self._close_fn = close_fn
    # What a peer outside TensorFlow reports about itself (torch peer).
    self.peer_info = None
    self.multiply_adds_per_step = multiply_adds
    self.multiply_adds_per_image = multiply_adds / batch_size
    # How many UPDATE_OPS (batch norm moving averages) a step runs.
    self.update_ops_run = update_ops_run
    # Op type -> count of the compute ops a step runs (see `compute_ops`).
    self.op_type_counts = op_type_counts or {}

  def step(self):
    if self._step_fn is not None:
      self._step_fn()
    else:
      self.session.run(self.op)

  def close(self):
    if self.session is not None:
      self.session.close()
    if self._close_fn is not None:
      self._close_fn()

  def __enter__(self):
    return self

  def __exit__(self, *unused_exc_info):
    self.close()


def _local_variable(name, value):
  return v1.get_variable(name, initializer=value, trainable=False,
                         collections=[v1.GraphKeys.LOCAL_VARIABLES])


def _inputs(batch_size, image_size, num_classes, seed=0):
  rng = np.random.RandomState(seed)
  images = _local_variable('bench_images', rng.uniform(
      -1, 1, [batch_size, image_size, image_size, 3]).astype(np.float32))
  labels = _local_variable('bench_labels', rng.randint(
      0, num_classes, [batch_size]).astype(np.int32))
  return tf.identity(images), tf.identity(labels)


def _ours_logits(variant, images, training, num_classes, weight_decay,
                 topology=None):
  options = {'topology': topology} if topology else {}
  network_fn = nets_factory.get_network_fn(
      variant.model, num_classes, weight_decay=weight_decay,
      is_training=training, style=variant.style,
      fold_batch_norm=variant.fold_batch_norm, **options)
  custom_ops, squeeze_early = SE_PATHS.get(variant.se_path, (True, True))
  with slim.arg_scope([layers.squeeze_excitation], custom_ops=custom_ops), \
       slim.arg_scope([layers.squeeze_before], enabled=squeeze_early):
    logits, _ = network_fn(images)
  return logits


def _tf_slim_logits(variant, images, training, num_classes, weight_decay):
  from tf_slim.nets import resnet_v1 as slim_resnet_v1  # pylint: disable=g-import-not-at-top
  with slim.arg_scope(slim_resnet_v1.resnet_arg_scope(
      weight_decay=weight_decay)):
    builder = getattr(slim_resnet_v1, variant.model, None)
    if builder is not None:  # resnet_v1_50/101/152/200.
      net, _ = builder(images, num_classes, is_training=training)
    else:  # Our small depths (14, 26), assembled from tf_slim's own blocks.
      depth = _plain_resnet_depth(variant.model)
      blocks = [slim_resnet_v1.resnet_v1_block(scope, base_depth=base,
                                               num_units=units, stride=stride)
                for scope, base, units, stride in zip(
                    ('block1', 'block2', 'block3', 'block4'),
                    resnet_v1.BASE_DEPTHS, resnet_v1.UNITS_PER_BLOCK[depth],
                    resnet_v1.BLOCK_STRIDES)]
      net, _ = slim_resnet_v1.resnet_v1(images, blocks, num_classes,
                                        is_training=training,
                                        scope=variant.model)
  # tf_slim 1.1.0's resnet_v1 has no spatial_squeeze: logits are [N,1,1,C].
  return tf.squeeze(net, [1, 2])


def _keras_applications_logits(variant, images, training, num_classes,
                               weight_decay):
  del weight_decay  # Keras applications take no regularizer.
  depth = _plain_resnet_depth(variant.model)
  constructor = getattr(tf_keras.applications, _KERAS_RESNETS[depth])
  model = constructor(weights=None, input_shape=images.shape.as_list()[1:],
                      classes=num_classes, classifier_activation=None)
  logits = model(images, training=training)
  for update in model.get_updates_for(images):
    v1.add_to_collection(v1.GraphKeys.UPDATE_OPS, update)
  return logits


_LOGITS_FNS = {
    OURS: _ours_logits,
    TF_SLIM: _tf_slim_logits,
    KERAS_APPLICATIONS: _keras_applications_logits,
}


def _train_op(logits, labels):
  """SGD momentum on softmax CE (+ regularization), run with UPDATE_OPS."""
  v1.losses.sparse_softmax_cross_entropy(labels, logits)
  total_loss = v1.losses.get_total_loss()
  minimize = v1.train.MomentumOptimizer(LEARNING_RATE, MOMENTUM).minimize(
      total_loss)
  # Grouped, not a control dependency of the loss: the gradients start from
  # ones_like(loss), which does not run the loss op or its dependencies.
  return tf.group(minimize, *v1.get_collection(v1.GraphKeys.UPDATE_OPS))


def _matmul_op(size):
  rng = np.random.RandomState(0)
  a = _local_variable('a', rng.uniform(-1, 1, [size, size]).astype(np.float32))
  b = _local_variable('b', rng.uniform(-1, 1, [size, size]).astype(np.float32))
  return tf.matmul(a, b).op


def _numpy_matmul(variant, mode):
  rng = np.random.RandomState(0)
  a, b = (rng.uniform(-1, 1, [variant.model] * 2).astype(np.float32)
          for _ in range(2))
  out = np.empty_like(a)
  return Built(variant, mode, 1, None, None, None, variant.model ** 3, 0,
               step_fn=lambda: np.matmul(a, b, out=out))


def timm_model(variant):
  """timm's model name of a torch peer variant ('seresnet50')."""
  return variant.name.partition('/')[2]


def build(variant, mode, batch_size, image_size, config, num_classes=1000,
          weight_decay=0.0, topology=None, torch_python=None):
  """Builds `variant` for `mode` in a new graph and initialised session.

  Args:
    variant: a `Variant`.
    mode: 'forward' (inference batch norm) or 'train' (one SGD step).
    batch_size: images per step.
    image_size: height and width.
    config: the session's `ConfigProto` (thread settings).
    num_classes: logits size.
    weight_decay: L2 coefficient for ours and tf_slim's (Keras applications
      and the torch peer have none; keep 0 for like-for-like timing).
    topology: our networks' topology (None: the model's default) unless the
      variant has its own; 'torch' is the arrangement of the timm peer.
    torch_python: a Python with torch and timm, for the timm peer
      (`benchmarks.torch_peer.find_python`).

  Returns:
    A `Built`; close it (or use `with`) to free the session.
  """
  if mode not in MODES:
    raise ValueError('Unknown mode %r; valid modes: %s' %
                     (mode, ', '.join(MODES)))
  if variant.kind == NUMPY_MATMUL:
    return _numpy_matmul(variant, mode)
  if variant.kind == TIMM:
    from benchmarks import torch_peer  # pylint: disable=g-import-not-at-top
    return torch_peer.build(variant, mode, batch_size, image_size,
                            threads=config.intra_op_parallelism_threads or 1,
                            num_classes=num_classes, python=torch_python)
  graph = tf.Graph()
  with graph.as_default():
    if variant.kind == MATMUL:
      op = _matmul_op(variant.model)
      batch_size = 1  # One matmul per step.
    else:
      images, labels = _inputs(batch_size, image_size, num_classes)
      extra = ({'topology': variant.topology or topology}
               if variant.kind == OURS else {})
      logits = _LOGITS_FNS[variant.kind](variant, images, mode == 'train',
                                         num_classes, weight_decay, **extra)
      op = _train_op(logits, labels) if mode == 'train' else logits.op
    step_ops = flops.upstream_ops([op])
    per_step = flops.count_multiply_adds(graph, step_ops).total
    update_ops = {getattr(u, 'op', u)
                  for u in v1.get_collection(v1.GraphKeys.UPDATE_OPS)}
    update_ops_run = len(update_ops & step_ops)
    op_type_counts = dict(collections.Counter(
        op.type for op in step_ops if op.type not in BOOKKEEPING_OP_TYPES))
    init = tf.group(v1.global_variables_initializer(),
                    v1.local_variables_initializer())
  graph.finalize()
  session = v1.Session(graph=graph, config=config)
  try:
    session.run(init)
  except BaseException:
    session.close()
    raise
  return Built(variant, mode, batch_size, graph, session, op, per_step,
               update_ops_run, op_type_counts)
