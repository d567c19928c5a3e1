"""Times our networks against their peers, side by side, and reports ratios.

For every (batch size, image size) and mode ('forward', 'train') one phase
builds every variant (`model_variants`) in its own graph and session, warms
them up, and times them in interleaved rounds (`timing.interleaved_rounds`)
together with a large matmul in TensorFlow and in numpy (BLAS), the
machine's ceiling. Everything reported is a per-round ratio (median, min,
max over the rounds):

* time ratios: our slim style vs `tf_slim.nets`, our raw/keras styles vs our
  slim style, SE-ResNet vs ResNet in the same style, Keras applications vs
  `tf_slim.nets`, ours in topology 'torch' (timm's arrangement; an extra
  variant `<model>/<style>@topology=torch` unless the run's --topology is
  'torch') vs timm's model in PyTorch (`torch_peer`);
* ceiling fractions: a variant's achieved GFLOP/s (2 x multiply-adds counted
  from its graph / time) over the ceiling's GFLOP/s in the same round, the
  ceiling being the faster of the two matmuls in that round.

Peak resident memory comes from the OS (`ru_maxrss`). It is a process-wide
high-water mark, so each (variant, shape) is measured in a fresh process that
builds only that variant: forward first, then the training step.

Example:

    settings = BenchSettings(models=('resnet_v1_14',), styles=('slim',),
                             peers=('tf_slim',), shapes=((2, 32),), rounds=2,
                             min_round_seconds=0.0, matmul_size=256)
    results = run(settings)
    print(format_report(results))
"""
import collections
import concurrent.futures
import datetime
import json
import os
import platform
import subprocess
import sys
import time

from benchmarks import model_variants
from benchmarks import timing
from benchmarks import torch_peer
from runtime import session_config
from runtime.tf_compat import tf, tf_keras

PROBE_MODULE = 'benchmarks.bench_models'
PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Where the targets apply (they are reported for every shape).
TARGET_IMAGE_SIZE = 224
TARGET_BATCH_SIZES = (8, 32)
CEILING_TARGET_BATCH_SIZE = 32

# (comparison kind, mode) -> (sense, bound). None: reported, no target.
TARGETS = {
    ('vs_tf_slim', 'forward'): ('<=', 1.00),
    ('vs_tf_slim', 'train'): ('<=', 1.00),
    ('vs_slim_style', 'forward'): ('<=', 1.03),
    ('vs_slim_style', 'train'): ('<=', 1.03),
    ('se_overhead', 'forward'): ('<=', 1.04),
    ('se_overhead', 'train'): ('<=', 1.07),
    ('ceiling_fraction', 'forward'): ('>=', 0.85),
}

_SETTINGS_DEFAULTS = collections.OrderedDict([
    ('models', ('resnet_v1_50', 'se_resnet_v1_50')),
    ('styles', ('slim', 'raw', 'keras')),
    ('peers', model_variants.PEERS),
    ('shapes', ((1, 224), (8, 224), (32, 224), (32, 112))),
    ('modes', model_variants.MODES),
    ('rounds', 7),
    ('min_round_seconds', 1.0),
    ('warmup_steps', 2),
    ('intra_op_threads', 0),
    ('inter_op_threads', 0),
    ('num_classes', 1000),
    ('weight_decay', 0.0),
    ('matmul_size', 2048),
    ('memory', True),
    ('memory_jobs', 0),
    ('disable_v2_behavior', True),
    ('cpu_allocator', 'bfc'),
    ('onednn', None),
    ('aa_control', True),
    ('folding_control', True),
    ('se_controls', ('tf_ops',)),
    ('topology', None),
    ('torch_python', None),
])


class BenchSettings(collections.namedtuple('BenchSettings',
                                           list(_SETTINGS_DEFAULTS))):
  """What to measure. Fields and defaults (the full run):

  models: our network names (nets_factory), each built in every style.
  styles: layer styles.
  peers: 'tf_slim' and/or 'keras_applications', built for every plain
    resnet_v1_<depth> in `models` that the peer has.
  shapes: (batch size, image size) pairs.
  modes: 'forward' and/or 'train'.
  rounds: interleaved rounds per phase.
  min_round_seconds: each variant's share of a round lasts at least this.
  warmup_steps: untimed steps per variant first.
  intra_op_threads, inter_op_threads: 0 = `runtime.session_config` defaults.
  num_classes: logits size.
  weight_decay: L2 for ours and tf_slim's (Keras applications have none).
  matmul_size: n of the n^3 ceiling matmul.
  memory: measure peak RSS per (variant, shape) in fresh processes.
  memory_jobs: memory probes run at once (after all timing, so they disturb
    no timed round; each probe's peak is its own process's); 0 = the CPUs
    this process may use.
  disable_v2_behavior: whether the process runs with TF1 behaviour, as the
    training scripts do (the script applies it; recorded here and passed on
    to the memory probes).
  cpu_allocator: 'bfc' or 'system' (`runtime.session_config.use_cpu_allocator`;
    the script applies it before any session, recorded here and passed on).
  onednn: whether TensorFlow runs oneDNN ops in this process (decided at
    import, see `benchmarks.process_env`; recorded here).
  aa_control: also time a replica of the first variant (`<name>#2`); its
    ratio to the original is the noise floor of every ratio in the phase.
  se_controls: SE paths (`model_variants.SE_PATHS`) also timed for every SE
    model in the first style (`<name>@se=<path>`); each one's ratio to the
    default path shows what the compiled SE tail and the early squeeze buy.
  folding_control: also time the first variant with batch norm unfolded
    (`<name>@unfolded`, Slim's Conv2D -> FusedBatchNorm); forward, the ratio
    is what folding buys.
  topology: our networks' topology (None: each model's default). The timm
    peer is compared with ours in topology 'torch' in any case: with another
    topology here, that counterpart is an extra variant
    `<model>/<first style>@topology=torch`.
  torch_python: a Python with torch and timm for the timm peer (see
    `benchmarks.torch_peer.find_python`; None: the environment's, if any).
  """

  def __new__(cls, **fields):
    unknown = set(fields) - set(_SETTINGS_DEFAULTS)
    if unknown:
      raise TypeError('Unknown benchmark settings %s; valid: %s' %
                      (sorted(unknown), ', '.join(_SETTINGS_DEFAULTS)))
    values = dict(_SETTINGS_DEFAULTS, **fields)
    for name in ('models', 'styles', 'peers', 'modes', 'se_controls'):
      values[name] = tuple(values[name])
    values['shapes'] = tuple(tuple(shape) for shape in values['shapes'])
    settings = super().__new__(cls, **values)
    settings.validate()
    return settings

  def validate(self):
    """Raises ValueError on unknown names or empty/invalid values."""
    for name in ('models', 'styles', 'shapes', 'modes'):
      if not getattr(self, name):
        raise ValueError('Benchmark setting %r is empty' % name)
    for mode in self.modes:
      if mode not in model_variants.MODES:
        raise ValueError('Unknown mode %r; valid modes: %s' %
                         (mode, ', '.join(model_variants.MODES)))
    for kind in self.peers:
      if kind not in model_variants.PEERS:
        raise ValueError('Unknown peer %r; valid peers: %s' %
                         (kind, ', '.join(model_variants.PEERS)))
    for style in self.styles:
      if style not in ('slim', 'raw', 'keras'):
        raise ValueError('Unknown style %r; valid styles: slim, raw, keras' %
                         style)
    for model in self.models:
      model_variants.ours(model, self.styles[0])  # Checks the name.
    for path in self.se_controls:
      if path not in model_variants.SE_PATHS:
        raise ValueError('Unknown SE path %r; valid paths: %s' %
                         (path, ', '.join(model_variants.SE_PATHS)))
    for batch_size, image_size in self.shapes:
      if batch_size < 1 or image_size < 1:
        raise ValueError('Invalid shape %dx%d' % (batch_size, image_size))
    if self.cpu_allocator not in session_config.CPU_ALLOCATORS:
      raise ValueError('Unknown CPU allocator %r; valid allocators: %s' %
                       (self.cpu_allocator,
                        ', '.join(session_config.CPU_ALLOCATORS)))
    if self.memory_jobs < 0:
      raise ValueError('memory_jobs must be >= 0, got %d' % self.memory_jobs)
    if self.rounds < 1:
      raise ValueError('rounds must be >= 1, got %d' % self.rounds)

  def session_config(self):
    return session_config.session_config(self.intra_op_threads,
                                         self.inter_op_threads)


def variants(settings):
  """(timed variants, skipped peer notes); the two matmuls come last."""
  found, skipped = [], []
  for model in settings.models:
    for style in settings.styles:
      found.append(model_variants.ours(model, style))
  if settings.aa_control:
    found.append(model_variants.replica(found[0]))
  if settings.folding_control:
    found.append(model_variants.unfolded(found[0]))
  for model in settings.models:
    if model.startswith('se_'):
      for path in settings.se_controls:
        found.append(model_variants.se_path(
            model_variants.ours(model, settings.styles[0]), path))
  torch_python = None
  for model in settings.models:
    plain = model_variants.peer(model_variants.TF_SLIM, model) is not None
    for kind in settings.peers:
      peer = model_variants.peer(kind, model)
      if peer is None:
        if plain:  # Every peer is expected to have a plain ResNet.
          skipped.append('%s has no %s' % (kind, model))
        continue
      if kind == model_variants.TIMM:
        if torch_python is None:
          torch_python, why_not = torch_peer.find_python(settings.torch_python)
          if torch_python is None:
            skipped.append('%s (%s)' % (peer.name, why_not))
            continue
        ours_torch = torch_counterpart(model, settings)
        if ours_torch.name not in [v.name for v in found]:
          found.append(ours_torch)
      found.append(peer)
  found.append(model_variants.matmul(settings.matmul_size))
  found.append(model_variants.numpy_matmul(settings.matmul_size))
  return found, skipped


def torch_counterpart(model, settings):
  """Our `model` as timm builds it: topology 'torch', the first style."""
  style = settings.styles[0]
  if settings.topology == 'torch':
    return model_variants.ours(model, style)
  return model_variants.ours(model, style, topology='torch')


def _gflops(multiply_adds_per_step, seconds):
  return [2.0 * multiply_adds_per_step / t / 1e9 for t in seconds]


def ceiling_gflops(times, matmul_size):
  """Per round, the faster ceiling matmul's GFLOP/s (and its name)."""
  names = [name for name in times
           if name.partition('/')[0] in model_variants.CEILINGS]
  per_name = {name: _gflops(matmul_size ** 3, times[name]) for name in names}
  rounds = len(times[names[0]])
  best = [max(names, key=lambda n, r=r: per_name[n][r]) for r in range(rounds)]
  return [per_name[name][r] for r, name in enumerate(best)], best


def _variant_record(built, steps, seconds, ceiling):
  variant = built.variant
  gflops = _gflops(built.multiply_adds_per_step, seconds)
  record = {
      'kind': variant.kind,
      'model': variant.model,
      'style': variant.style,
      'steps_per_round': steps,
      'seconds_per_step': seconds,
      'seconds_per_step_stats': timing.summarize(seconds),
      'multiply_adds_per_image': built.multiply_adds_per_image,
      'update_ops_run': built.update_ops_run,
      'op_type_counts': built.op_type_counts,
      'gflops': timing.summarize(gflops),
  }
  if built.peer_info is not None:
    record['peer_info'] = built.peer_info
  if variant.kind not in model_variants.CEILINGS:
    record['images_per_second'] = timing.summarize(
        [built.batch_size / s for s in seconds])
    record['ceiling_fractions'] = [g / c for g, c in zip(gflops, ceiling)]
    record['ceiling_fraction'] = timing.summarize(record['ceiling_fractions'])
  return record


def measure_phase(variant_list, mode, batch_size, image_size, settings,
                  log=None, torch_python=None):
  """Builds, warms up and times `variant_list` in interleaved rounds.

  Returns:
    The phase record: shape, mode, load averages, and per variant its
    seconds per step in each round plus derived figures.
  """
  log = log or (lambda message: None)
  config = settings.session_config()
  built = collections.OrderedDict()
  if torch_python is None and any(v.kind == model_variants.TIMM
                                  for v in variant_list):
    torch_python, why_not = torch_peer.find_python(settings.torch_python)
    if torch_python is None:
      raise ValueError('The torch peer cannot run: %s' % why_not)
  try:
    for variant in variant_list:
      log('  building %s' % variant.name)
      built[variant.name] = model_variants.build(
          variant, mode, batch_size, image_size, config,
          num_classes=settings.num_classes,
          weight_decay=settings.weight_decay, topology=settings.topology,
          torch_python=torch_python)
    for item in built.values():
      for _ in range(settings.warmup_steps):
        item.step()
    steps = {name: timing.calibrate_steps(item.step,
                                          settings.min_round_seconds)
             for name, item in built.items()}
    load_start = timing.load_average()
    log('  timing %d rounds' % settings.rounds)
    times = timing.interleaved_rounds(
        {name: item.step for name, item in built.items()}, steps,
        settings.rounds)
    load_end = timing.load_average()
  finally:
    for item in built.values():
      item.close()
  ceiling, ceiling_names = ceiling_gflops(times, settings.matmul_size)
  return {
      'batch_size': batch_size,
      'image_size': image_size,
      'mode': mode,
      'rounds': settings.rounds,
      'load_average_start': load_start,
      'load_average_end': load_end,
      'ceiling_gflops': ceiling,
      'ceiling_variants': ceiling_names,
      'variants': collections.OrderedDict(
          (name, _variant_record(item, steps[name], times[name], ceiling))
          for name, item in built.items()),
  }


def _target(kind, mode, batch_size, image_size):
  """(target text, bound, sense, applies) of a comparison."""
  sense, bound = TARGETS.get((kind, mode), (None, None))
  if sense is None:
    return None, None, None, False
  if kind == 'ceiling_fraction':
    applies = (batch_size == CEILING_TARGET_BATCH_SIZE and
               image_size == TARGET_IMAGE_SIZE)
  else:
    applies = (batch_size in TARGET_BATCH_SIZES and
               image_size == TARGET_IMAGE_SIZE)
  return '%s %.2f' % (sense, bound), bound, sense, applies


def _comparison(kind, numerator, denominator, values, phase):
  text, bound, sense, applies = _target(kind, phase['mode'],
                                        phase['batch_size'],
                                        phase['image_size'])
  stats = timing.summarize(values)
  met = None
  if bound is not None:
    met = (stats['median'] <= bound if sense == '<=' else
           stats['median'] >= bound)
  return collections.OrderedDict([
      ('kind', kind), ('numerator', numerator), ('denominator', denominator),
      ('values', values), ('median', stats['median']), ('min', stats['min']),
      ('max', stats['max']), ('target', text), ('target_applies', applies),
      ('met', met)])


def _pairs(names, settings):
  """(kind, numerator, denominator) time comparisons among `names`."""
  pairs = [('aa_control', name, name[:-len(model_variants.REPLICA_SUFFIX)])
           for name in names if name.endswith(model_variants.REPLICA_SUFFIX)]
  pairs += [('folding', name[:-len(model_variants.UNFOLDED_SUFFIX)], name)
            for name in names
            if name.endswith(model_variants.UNFOLDED_SUFFIX)]
  pairs += [('se_path', name.rpartition(model_variants.SE_PATH_MARK)[0], name)
            for name in names if model_variants.SE_PATH_MARK in name]
  tf_slim_peer = model_variants.TF_SLIM
  for model in settings.models:
    slim_name = '%s/slim' % model
    peer = model_variants.peer(tf_slim_peer, model)
    if peer is not None and peer.name in names:
      if slim_name in names:
        pairs.append(('vs_tf_slim', slim_name, peer.name))
      keras = model_variants.peer(model_variants.KERAS_APPLICATIONS, model)
      if keras is not None and keras.name in names:
        pairs.append(('peer_vs_tf_slim', keras.name, peer.name))
    timm = model_variants.peer(model_variants.TIMM, model)
    counterpart = torch_counterpart(model, settings).name
    if timm is not None and timm.name in names and counterpart in names:
      pairs.append(('vs_torch', counterpart, timm.name))
    for style in settings.styles:
      name = '%s/%s' % (model, style)
      if style != 'slim' and slim_name in names:
        pairs.append(('vs_slim_style', name, slim_name))
      plain = '%s/%s' % (model[len('se_'):], style)
      if model.startswith('se_') and plain in names:
        pairs.append(('se_overhead', name, plain))
  return pairs


def op_type_differences(numerator, denominator):
  """{op type: [count in numerator, count in denominator]} where they differ."""
  return {op_type: [numerator.get(op_type, 0), denominator.get(op_type, 0)]
          for op_type in sorted(set(numerator) | set(denominator))
          if numerator.get(op_type, 0) != denominator.get(op_type, 0)}


def comparisons(phase, settings):
  """The phase's per-round ratios, each with its target if it has one."""
  records = phase['variants']
  result = []
  for kind, numerator, denominator in _pairs(records, settings):
    values = timing.per_round_ratios(records[numerator]['seconds_per_step'],
                                     records[denominator]['seconds_per_step'])
    comparison = _comparison(kind, numerator, denominator, values, phase)
    # A second view for a machine whose load comes and goes: the ratio of
    # each side's fastest round (other processes only ever slow a round
    # down). Reported beside the median of per-round ratios, which the
    # targets use.
    comparison['best_round_ratio'] = (
        min(records[numerator]['seconds_per_step']) /
        min(records[denominator]['seconds_per_step']))
    # Only TensorFlow graphs have op types to compare (not the torch peer).
    comparison['op_type_differences'] = None if model_variants.TIMM in (
        records[numerator]['kind'], records[denominator]['kind']
    ) else op_type_differences(records[numerator]['op_type_counts'],
                               records[denominator]['op_type_counts'])
    result.append(comparison)
  for name, record in records.items():
    if (record['kind'] == model_variants.OURS and
        not name.endswith(model_variants.REPLICA_SUFFIX)):
      result.append(_comparison('ceiling_fraction', name, 'ceiling',
                                record['ceiling_fractions'], phase))
  return result


def machine_info():
  """What the numbers were measured on."""
  cpu_model = platform.processor() or 'unknown'
  try:
    with open('/proc/cpuinfo') as f:
      for line in f:
        if line.startswith('model name'):
          cpu_model = line.split(':', 1)[1].strip()
          break
  except OSError:
    pass
  try:
    import tf_slim  # pylint: disable=g-import-not-at-top
    from importlib import metadata  # pylint: disable=g-import-not-at-top
    slim_version = getattr(tf_slim, '__version__', None) or metadata.version(
        'tf-slim')
  except Exception:  # pylint: disable=broad-except
    slim_version = 'unknown'
  intra, inter = session_config.thread_counts()
  return collections.OrderedDict([
      ('date', datetime.datetime.now(datetime.timezone.utc).isoformat(
          timespec='seconds')),
      ('cpu_model', cpu_model),
      ('cpus_available', session_config.available_cpus()),
      ('cpu_count', os.cpu_count()),
      ('platform', platform.platform()),
      ('python', platform.python_version()),
      ('tensorflow', tf.__version__),
      ('tf_keras', tf_keras.__version__),
      ('tf_slim', slim_version),
      ('default_threads', {'intra_op': intra, 'inter_op': inter}),
  ])


def probe_memory(variant, batch_size, image_size, settings):
  """Peak RSS of building and stepping `variant` (forward, then train).

  Meant for a fresh process (see `subprocess_memory_probe`): the numbers are
  the process's high-water marks, so `train_peak_mb` is the peak over the
  forward and the training graph (training is the larger one for every
  network here).
  """
  config = settings.session_config()
  record = collections.OrderedDict([
      ('variant', variant.name), ('batch_size', batch_size),
      ('image_size', image_size),
      ('baseline_mb', timing.peak_rss_bytes() / 2.0**20)])
  for mode in settings.modes:
    with model_variants.build(variant, mode, batch_size, image_size, config,
                              num_classes=settings.num_classes,
                              weight_decay=settings.weight_decay,
                              topology=settings.topology) as built:
      built.step()  # The first step allocates all a step needs.
    record['%s_peak_mb' % mode] = timing.peak_rss_bytes() / 2.0**20
  return record


def probe_flags(variant_name, batch_size, image_size, settings):
  """Command-line flags that make `bench_models` run one memory probe."""
  return ['--%sdisable_v2_behavior' % (
      '' if settings.disable_v2_behavior else 'no'),
          '--cpu_allocator=%s' % settings.cpu_allocator,
          '--probe_variant=%s' % variant_name,
          '--probe_batch_size=%d' % batch_size,
          '--probe_image_size=%d' % image_size,
          '--modes=%s' % ','.join(settings.modes),
          '--intra_op_threads=%d' % settings.intra_op_threads,
          '--inter_op_threads=%d' % settings.inter_op_threads,
          '--num_classes=%d' % settings.num_classes,
          '--weight_decay=%r' % settings.weight_decay] + (
              ['--topology=%s' % settings.topology] if settings.topology
              else [])


def subprocess_memory_probe(variant, batch_size, image_size, settings,
                            timeout=1800):
  """Runs `probe_memory` in a fresh Python process; returns its record."""
  command = ([sys.executable, '-m', PROBE_MODULE] +
             probe_flags(variant.name, batch_size, image_size, settings))
  env = dict(os.environ)
  env['PYTHONPATH'] = os.pathsep.join(
      p for p in (PROJECT_ROOT, env.get('PYTHONPATH')) if p)
  proc = subprocess.run(command, cwd=PROJECT_ROOT, env=env,
                        capture_output=True, text=True, timeout=timeout,
                        check=False)
  lines = proc.stdout.strip().splitlines()
  if proc.returncode != 0 or not lines:
    raise RuntimeError('Memory probe for %s (%dx%d) failed with exit code '
                       '%d:\n%s' % (variant.name, batch_size, image_size,
                                    proc.returncode, proc.stderr[-3000:]))
  return json.loads(lines[-1])


def targets(results):
  """The comparisons that have a target at their shape, for the summary."""
  rows = []
  for phase in results['phases']:
    for comparison in phase['comparisons']:
      if comparison['target_applies']:
        rows.append(dict(comparison, batch_size=phase['batch_size'],
                         image_size=phase['image_size'], mode=phase['mode']))
  return rows


def run(settings, log=None, memory_probe=subprocess_memory_probe):
  """Measures everything `settings` asks for; returns the results dict.

  Args:
    settings: a `BenchSettings`.
    log: optional callable taking a progress line.
    memory_probe: `(variant, batch_size, image_size, settings) -> record`;
      the default runs each probe in a fresh process.

  Returns:
    dict with 'machine', 'settings', 'phases' (one per shape and mode, with
    per-round times and 'comparisons'), 'memory', 'targets' and 'skipped'.
  """
  log = log or (lambda message: None)
  started = time.time()
  variant_list, skipped = variants(settings)
  results = collections.OrderedDict([
      ('machine', machine_info()),
      ('settings', dict(settings._asdict(),
                        threads=dict(zip(('intra_op', 'inter_op'),
                                         session_config.thread_counts(
                                             settings.intra_op_threads,
                                             settings.inter_op_threads))))),
      ('load_average_start', timing.load_average()),
      ('skipped', skipped),
      ('phases', []),
      ('memory', []),
  ])
  for batch_size, image_size in settings.shapes:
    for mode in settings.modes:
      log('batch %d, %dx%d, %s' % (batch_size, image_size, image_size, mode))
      phase = measure_phase(variant_list, mode, batch_size, image_size,
                            settings, log)
      phase['comparisons'] = comparisons(phase, settings)
      results['phases'].append(phase)
  results['timing_wall_seconds'] = time.time() - started
  results['load_average_after_timing'] = timing.load_average()
  if settings.memory:
    probes = [(variant, batch_size, image_size)
              for batch_size, image_size in settings.shapes
              for variant in variant_list
              if variant.kind not in model_variants.CEILINGS and
              variant.kind != model_variants.TIMM and
              not variant.name.endswith((model_variants.REPLICA_SUFFIX,
                                         model_variants.UNFOLDED_SUFFIX))]
    jobs = settings.memory_jobs or session_config.available_cpus()
    log('memory: %d probes, %d at a time' % (len(probes), jobs))

    def probe(item):
      variant, batch_size, image_size = item
      record = memory_probe(variant, batch_size, image_size, settings)
      log('  memory: %s at batch %d, %dx%d: %.0f MB' % (
          variant.name, batch_size, image_size, image_size,
          max(v for k, v in record.items() if k.endswith('_peak_mb'))))
      return record

    with concurrent.futures.ThreadPoolExecutor(max(1, jobs)) as pool:
      results['memory'] = list(pool.map(probe, probes))  # In probe order.
  results['load_average_end'] = timing.load_average()
  results['wall_seconds'] = time.time() - started
  results['targets'] = targets(results)
  return results


def _stats_text(stats, fmt='%.3f'):
  return (fmt + ' [' + fmt + ', ' + fmt + ']') % (
      stats['median'], stats['min'], stats['max'])


def _load_text(load):
  return '%.2f' % load[0] if load else 'n/a'


_KIND_LABELS = {
    'aa_control': 'A/A control: the same graph built twice (noise floor)',
    'vs_tf_slim': 'time, ours (slim style) / tf_slim.nets',
    'peer_vs_tf_slim': 'time, Keras applications / tf_slim.nets',
    'vs_torch': 'time, ours (topology torch) / timm in PyTorch',
    'vs_slim_style': 'time, style / slim style',
    'se_overhead': 'time, SE-ResNet / ResNet',
    'folding': 'time, batch norm folded / unfolded (Slim\'s ops)',
    'se_path': 'time, SE unit as built / another SE path (@se=...)',
    'ceiling_fraction': 'GFLOP/s / ceiling GFLOP/s',
}


def format_report(results):
  """Markdown tables: one per phase, the targets, and the memory."""
  lines = _header_lines(results)
  lines += _peer_lines(results['phases'])
  for phase in results['phases']:
    lines += _phase_lines(phase)
  lines += _target_lines(results['targets'])
  if results['memory']:
    lines += _memory_lines(results['memory'])
  if results['skipped']:
    lines += ['', 'Not measured: %s.' % '; '.join(results['skipped'])]
  return '\n'.join(lines)


def _header_lines(results):
  """The machine, the session settings, the load and how to read the figures."""
  machine = results['machine']
  settings = results['settings']
  lines = [
      'Measured %s on %s (%d CPUs available), TensorFlow %s, tf_keras %s, '
      'tf_slim %s; oneDNN ops %s; session threads intra-op %d / inter-op %d, '
      '%s CPU allocator, %s. Load average (1 min) %s at the start, %s at the '
      'end; wall time %s.' % (
          machine['date'], machine['cpu_model'], machine['cpus_available'],
          machine['tensorflow'], machine['tf_keras'], machine['tf_slim'],
          {True: 'on', False: 'off', None: 'unknown'}[settings['onednn']],
          settings['threads']['intra_op'], settings['threads']['inter_op'],
          settings['cpu_allocator'],
          'TF1 behaviour (ref variables)' if settings['disable_v2_behavior']
          else 'TF2 behaviour (resource variables)',
          _load_text(results['load_average_start']),
          _load_text(results.get('load_average_end')),
          '%.0f s' % results['wall_seconds'] if 'wall_seconds' in results
          else 'n/a'),
      '',
      'Every figure is the median [min, max] over interleaved rounds of '
      'per-round values; ratios are seconds per step; "best rounds" is the '
      'ratio of the two sides\' fastest rounds; the ceiling is the '
      'faster of the two %d^3 matmuls (TensorFlow, numpy) in each round.' %
      settings['matmul_size'],
  ]
  if settings.get('topology'):
    lines += ['', 'Our networks are built with topology %r.' %
              settings['topology']]
  return lines


def _peer_lines(phases):
  """One sentence per PyTorch peer variant: its versions and settings."""
  lines = []
  for phase in phases:
    for name, record in phase['variants'].items():
      info = record.get('peer_info')
      if info:
        trials = info.get('format_trial_seconds_per_step') or {}
        lines += ['', '%s (%s): PyTorch %s, timm %s, %d threads (OpenMP wait '
                  'policy %s), memory format %s%s.' % (
                      name, phase['mode'], info['torch'], info['timm'],
                      info['threads'], info.get('omp_wait_policy') or 'default',
                      info['memory_format'],
                             ' (trial: %s)' % ', '.join(
                                 '%s %.3f s/step' % kv
                                 for kv in sorted(trials.items()))
                             if trials else '')]
  return lines


def _phase_lines(phase):
  """A phase's heading, its variants table and its comparisons table."""
  lines = ['', '### batch %d, %dx%d, %s (%d rounds, load %s -> %s)' % (
      phase['batch_size'], phase['image_size'], phase['image_size'],
      phase['mode'], phase['rounds'],
      _load_text(phase['load_average_start']),
      _load_text(phase['load_average_end'])), '',
           '| variant | images/s | GMAC/image | GFLOP/s | of ceiling |',
           '|---|---|---|---|---|']
  for name, record in phase['variants'].items():
    if record['kind'] in model_variants.CEILINGS:
      lines.append('| %s (ceiling) | | | %s | |' % (
          name, _stats_text(record['gflops'], '%.1f')))
      continue
    lines.append('| %s | %s | %.3f | %s | %s |' % (
        name, _stats_text(record['images_per_second'], '%.2f'),
        record['multiply_adds_per_image'] / 1e9,
        _stats_text(record['gflops'], '%.1f'),
        _stats_text(record['ceiling_fraction'], '%.2f')))
  lines += ['', '| comparison | what | median [min, max] | best rounds | '
            'target | compute ops that differ |',
            '|---|---|---|---|---|---|']
  for c in phase['comparisons']:
    if c['kind'] == 'ceiling_fraction':
      continue  # In the table above.
    lines.append('| %s / %s | %s | %s | %.3f | %s | %s |' % (
        c['numerator'], c['denominator'], _KIND_LABELS[c['kind']],
        _stats_text(c, '%.3f'), c['best_round_ratio'], _target_text(c),
        _differences_text(c['op_type_differences'])))
  return lines


def _target_lines(targets):
  """The targets table."""
  lines = ['', '### Targets (batch %s at %d; ceiling at batch %d)' % (
      ' and '.join(map(str, TARGET_BATCH_SIZES)), TARGET_IMAGE_SIZE,
      CEILING_TARGET_BATCH_SIZE), '',
           '| shape | mode | comparison | median [min, max] | best rounds | '
           'target |', '|---|---|---|---|---|---|']
  for t in targets:
    best = t.get('best_round_ratio')
    lines.append('| %dx%d | %s | %s / %s | %s | %s | %s |' % (
        t['batch_size'], t['image_size'], t['mode'], t['numerator'],
        t['denominator'], _stats_text(t, '%.3f'),
        '' if best is None else '%.3f' % best, _target_text(t)))
  return lines


def _memory_lines(memory):
  """The peak resident memory table (a fresh process per row)."""
  modes = [m for m in model_variants.MODES if '%s_peak_mb' % m in memory[0]]
  lines = ['', '### Peak resident memory (MB; a fresh process per row, '
           'forward then train)', '',
           '| shape | variant | after imports | %s |' % ' | '.join(
               'peak after %s' % m for m in modes),
           '|---|---|---|%s' % ('---|' * len(modes))]
  for m in memory:
    lines.append('| %dx%d | %s | %.0f | %s |' % (
        m['batch_size'], m['image_size'], m['variant'], m['baseline_mb'],
        ' | '.join('%.0f' % m['%s_peak_mb' % mode] for mode in modes)))
  return lines


def _differences_text(differences, limit=4):
  if differences is None:
    return 'n/a'
  if not differences:
    return 'none'
  items = ['%s %d/%d' % (k, v[0], v[1]) for k, v in differences.items()]
  more = len(items) - limit
  return ', '.join(items[:limit]) + (', +%d more' % more if more > 0 else '')


def _target_text(comparison):
  if comparison['target'] is None:
    return ''
  if not comparison['target_applies']:
    batches = (str(CEILING_TARGET_BATCH_SIZE)
               if comparison['kind'] == 'ceiling_fraction' else
               '/'.join(map(str, TARGET_BATCH_SIZES)))
    return '(%s applies at batch %s, %d px)' % (
        comparison['target'], batches, TARGET_IMAGE_SIZE)
  return '%s: %s' % (comparison['target'],
                     'met' if comparison['met'] else 'MISSED')
