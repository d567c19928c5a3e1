"""README.md's examples run as written, so the README and the code cannot drift.

The fenced `sh` / `bash` blocks and the `python` blocks of README.md are run in
the order they appear, as one shell session from the checkout (what the README
tells a reader to do), with the one documented change: `STEPS=20`, the
variable every training command of the README takes its length from. Python
blocks are run with `python -` in that session, as a reader pastes them into
`python` started there. Not run, with the reason printed:

* the "Set up" block (`make demo`, `make test`): the suite itself, and the
  demo, which the README times on its own;
* a block whose first line is `# Needs a download`.

The test then checks what the blocks print (accuracies, the warm-start report,
the inspector's verdict, the TF2 classification, the styles' equal logits, the
cluster's final global step), that the files they were meant to write are
under `$D`, that nothing but `$D` appeared in the temporary directory they ran
with (`TMPDIR`), and that the checkout is unchanged (`git status --porcelain`).
It prints every block's wall time.
"""
import os
import re
import resource
import shutil
import subprocess
import time

import numpy as np
import pytest

from tests import source_tree


ROOT = source_tree.root(__file__, 'README.md', 'Makefile')
STEPS = 20
SHELL_LANGUAGES = ('sh', 'bash', 'shell')
DOWNLOAD_MARK = '# Needs a download'
FENCE = re.compile(r'^```([\w+-]*)[^\n]*\n(.*?)^```[ \t]*$', re.M | re.S)
BLOCK_MARK = '@@readme-block'
PYTHON_END = 'README_PYTHON_BLOCK_END'


class Block:

  def __init__(self, index, language, text, line):
    self.index, self.language, self.text, self.line = (
        index, language, text, line)
    self.skip_reason = None
    first = text.lstrip().splitlines()[0] if text.strip() else ''
    commands = [l.strip() for l in text.splitlines()
                if l.strip() and not l.strip().startswith('#')]
    if first.startswith(DOWNLOAD_MARK):
      self.skip_reason = 'needs a download'
    elif any(re.match(r'make (demo|test)\b', c) for c in commands):
      self.skip_reason = ('set-up commands: the test suite itself and the '
                          'demo')

  @property
  def title(self):
    lines = [l for l in self.text.splitlines() if l.strip()]
    return '%s block at README.md:%d (%s)' % (
        self.language, self.line, lines[0][:60] if lines else '')


def readme_blocks(text):
  """The README's runnable blocks, in order."""
  blocks = []
  for match in FENCE.finditer(text):
    language = match.group(1).lower()
    if language in SHELL_LANGUAGES:
      language = 'sh'
    elif language != 'python':
      continue
    line = text.count('\n', 0, match.start()) + 1
    blocks.append(Block(len(blocks), language, match.group(2), line))
  return blocks


def session_script(blocks):
  """One bash script running the blocks in order, timestamped."""
  parts = ['set -e -o pipefail']
  for block in blocks:
    if block.skip_reason:
      continue
    parts.append('echo "%s %d start $(date +%%s.%%N)"' % (BLOCK_MARK,
                                                         block.index))
    if block.language == 'python':
      assert PYTHON_END not in block.text
      parts.append("python - <<'%s'\n%s%s" % (PYTHON_END, block.text,
                                              PYTHON_END))
    else:
      parts.append(block.text)
    parts.append('echo "%s %d end $(date +%%s.%%N)"' % (BLOCK_MARK,
                                                       block.index))
  return '\n'.join(parts) + '\n'


def _git_status():
  if shutil.which('git') is None:
    return None
  run = subprocess.run(['git', 'status', '--porcelain'], cwd=ROOT,
                       capture_output=True, text=True)
  return run.stdout if run.returncode == 0 else None


def _block_times(output):
  starts, times = {}, {}
  for index, kind, stamp in re.findall(
      r'^%s (\d+) (start|end) ([\d.]+)$' % BLOCK_MARK, output, re.M):
    if kind == 'start':
      starts[int(index)] = float(stamp)
    else:
      times[int(index)] = float(stamp) - starts[int(index)]
  return times


def test_readme_blocks_parse():
  blocks = readme_blocks((ROOT / 'README.md').read_text())
  runnable = [b for b in blocks if not b.skip_reason]
  assert len(runnable) >= 8, [b.title for b in blocks]
  # Every training command takes its length from $STEPS: the one knob the
  # examples test turns.
  for block in runnable:
    for command in re.split(r'\n(?=python )', block.text):
      if 'train_image_classifier.py' in command or 'launch_local' in command:
        assert re.search(r'--max_number_of_steps=\$\(*STEPS', command), (
            block.title)


@pytest.mark.slow
def test_readme_blocks_run_as_written(tmp_path):
  blocks = readme_blocks((ROOT / 'README.md').read_text())
  for block in blocks:
    if block.skip_reason:
      print('skipped: %s: %s' % (block.title, block.skip_reason))
  tmp = tmp_path / 'tmp'
  tmp.mkdir()
  env = dict(os.environ, STEPS=str(STEPS), TMPDIR=str(tmp),
             PYTHONDONTWRITEBYTECODE='1')
  env.pop('D', None)
  status_before = _git_status()
  start = time.time()
  run = subprocess.run(['bash', '-c', session_script(blocks)], cwd=ROOT,
                       env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=1800)
  output = run.stdout
  times = _block_times(output)
  for block in blocks:
    if not block.skip_reason:
      print('%6s  %s' % ('%.1f s' % times[block.index]
                         if block.index in times else 'failed', block.title))
  cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
  print('all blocks: %.1f s, %.1f s of CPU' % (time.time() - start,
                                              cpu.ru_utime + cpu.ru_stime))
  assert run.returncode == 0, output[-6000:]
  assert _git_status() == status_before, 'the README blocks changed the checkout'

  # Everything went to $D, the one directory made in TMPDIR.
  made = list(tmp.iterdir())
  assert len(made) == 1 and made[0].is_dir(), made
  d = made[0]
  for path in ('digits/digits_test.tfrecord', 'train/checkpoint',
               'eval/eval_results.json', 'saved_model/saved_model.pb',
               'frozen.pb', 'model.tflite', 'slim/resnet_v1_50.ckpt.index',
               'se50/checkpoint', 'keras/se_resnet_v1_50.ckpt.index',
               'torch/model.json', 'torch_eval/eval_results.json',
               'clones/checkpoint', 'cluster/checkpoint',
               'cluster_eval/eval_results.json'):
    assert (d / path).exists(), path

  # What the blocks print.
  accuracies = [float(a) for a in re.findall(
      r'^(?:step \d+: )?accuracy ([\d.]+) recall@5 [\d.]+ loss [\d.]+ on 360 '
      r'examples of digits/test', output, re.M)]
  assert len(accuracies) == 3, output[-6000:]
  assert all(0.0 <= a <= 1.0 for a in accuracies)
  assert re.search(r'^label \d -> class \d p=[\d.]+$', output, re.M)
  assert re.search(r'Wrote a stand-in resnet_v1_50 checkpoint .*: 267 '
                   r'variables -> \S+/slim/resnet_v1_50\.ckpt$', output, re.M)
  assert re.search(r'^fits: with the scope mapping, as a warm start, the 64 '
                   r'SE variables initialised fresh', output, re.M)
  styles = dict(re.findall(
      r'^(raw|slim|keras) Restored 267 variables from \S+ \[([^\]]+)\]',
      output, re.M))
  assert sorted(styles) == ['keras', 'raw', 'slim'], output[-6000:]
  logits = {s: np.array(v.split(), float) for s, v in styles.items()}
  for style in ('slim', 'keras'):
    np.testing.assert_allclose(logits[style], logits['raw'], rtol=1e-4,
                               atol=1e-4 * np.abs(logits['raw']).max())
  # The SE warm start, by the trainer and in Keras.
  assert re.search(r'Restored 265 variables from \S+/slim/resnet_v1_50\.ckpt',
                   output)
  assert re.search(r'excluded \(fresh\) \(2\): se_resnet_v1_50/logits', output)
  assert re.search(r'^Restored 267 variables from \S+/slim/resnet_v1_50\.ckpt'
                   r'\n  initialised fresh \(64\): se_resnet_v1_50/', output,
                   re.M)
  assert re.search(r'Converted .*se_resnet_v1_14, topology torch, 10 classes',
                   output)
  final_steps = [int(s) for s in re.findall(
      r'^\[worker\d\] worker \d of 2.*global step 0 -> (\d+)$', output, re.M)]
  assert len(final_steps) == 2, output[-6000:]
  assert all(STEPS <= s <= STEPS + 1 for s in final_steps), final_steps
