"""Every .py file of the repository belongs to a Bazel target.

The BUILD files glob their sources, so this re-implements just enough of Bazel's package and
glob() rules in Python to check it without running Bazel: each .py file must be matched by a
glob() (minus its exclude) of the BUILD file that owns it, or be named explicitly in one.
Files in directories listed in .bazelignore (the virtualenv, tools/bazel_stubs) and in hidden
directories are not part of the project and are skipped.
"""
import ast
import fnmatch
import os
import pathlib
import subprocess

import pytest

from tests import source_tree

BUILD_NAMES = ('BUILD.bazel', 'BUILD')


ROOT = source_tree.root(__file__, 'WORKSPACE', '.bazelrc')


def _ignored_dirs():
  path = ROOT / '.bazelignore'
  if not path.is_file():
    return set()
  lines = (line.strip().rstrip('/') for line in path.read_text().splitlines())
  return {line for line in lines if line and not line.startswith('#')}


IGNORED = _ignored_dirs()


def _is_ignored(rel):
  """True for paths outside the project: .bazelignore entries, hidden directories (.venv,
  .ci), Bazel output symlinks, caches."""
  parts = rel.split('/')
  if (parts[0].startswith('bazel-') or '__pycache__' in parts
      or any(p.startswith('.') for p in parts[:-1])):
    return True
  return any(rel == d or rel.startswith(d + '/') for d in IGNORED)


def _python_files():
  """The repository's .py files (tracked or new, not git-ignored), relative to ROOT."""
  try:
    out = subprocess.run(
        ['git', 'ls-files', '-z', '--cached', '--others', '--exclude-standard',
         '--', '*.py'],
        cwd=ROOT, check=True, capture_output=True).stdout.decode()
    files = {f for f in out.split('\0') if f}
  except (OSError, subprocess.CalledProcessError):
    files = set()
    for dirpath, dirnames, filenames in os.walk(ROOT):
      rel_dir = os.path.relpath(dirpath, ROOT).replace(os.sep, '/')
      rel_dir = '' if rel_dir == '.' else rel_dir + '/'
      dirnames[:] = [d for d in dirnames if not _is_ignored(rel_dir + d + '/')]
      files.update(rel_dir + f for f in filenames if f.endswith('.py'))
  return sorted(f for f in files if (ROOT / f).is_file() and not _is_ignored(f))


def _build_files():
  """{package directory ('' for the root): path of its BUILD file}."""
  packages = {}
  for dirpath, dirnames, filenames in os.walk(ROOT):
    rel_dir = os.path.relpath(dirpath, ROOT).replace(os.sep, '/')
    rel_dir = '' if rel_dir == '.' else rel_dir
    prefix = rel_dir + '/' if rel_dir else ''
    dirnames[:] = [d for d in dirnames if not _is_ignored(prefix + d + '/')]
    for name in BUILD_NAMES:
      if name in filenames:
        packages[rel_dir] = pathlib.Path(dirpath) / name
        break
  return packages


def _owner(rel, packages):
  """The package (directory with a BUILD file) a file belongs to, as Bazel decides it."""
  directory = rel.rpartition('/')[0]
  while True:
    if directory in packages:
      return directory
    if not directory:
      return None
    directory = directory.rpartition('/')[0]


def _strings(node):
  if isinstance(node, (ast.List, ast.Tuple)):
    return [e.value for e in node.elts
            if isinstance(e, ast.Constant) and isinstance(e.value, str)]
  return []


def _named_files(node):
  """.py strings of a srcs/main/data value, outside glob() calls (which are matched apart)."""
  if isinstance(node, ast.Constant) and isinstance(node.value, str):
    return [node.value] if node.value.endswith('.py') else []
  if isinstance(node, (ast.List, ast.Tuple)):
    return [f for e in node.elts for f in _named_files(e)]
  if isinstance(node, ast.BinOp):
    return _named_files(node.left) + _named_files(node.right)
  return []


def _parse_build(path):
  """(globs, explicit): [(include patterns, exclude patterns)] and the .py files named."""
  tree = ast.parse(path.read_text(), filename=str(path))
  globs, explicit = [], set()
  for node in ast.walk(tree):
    if not isinstance(node, ast.Call):
      continue
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, 'id', '')
    if name == 'glob':
      include = _strings(node.args[0]) if node.args else []
      exclude = _strings(node.args[1]) if len(node.args) > 1 else []
      for kw in node.keywords:
        if kw.arg == 'include':
          include = _strings(kw.value)
        elif kw.arg == 'exclude':
          exclude = _strings(kw.value)
      globs.append((include, exclude))
    for kw in node.keywords:
      if kw.arg in ('srcs', 'main', 'src', 'data'):
        explicit.update(_named_files(kw.value))
  return globs, explicit


def _label_to_path(ref, package):
  """'//pkg:file.py', ':file.py' or 'file.py' (in `package`) -> path relative to ROOT."""
  if ref.startswith('//'):
    pkg, _, name = ref[2:].partition(':')
    return f'{pkg}/{name}' if pkg else name
  name = ref[1:] if ref.startswith(':') else ref
  return f'{package}/{name}' if package else name


def _glob_match(pattern, path):
  """Bazel glob(): '**' is any number of directories, '*' stays inside one name."""
  def match(pat, parts):
    if not pat:
      return not parts
    if pat[0] == '**':
      return any(match(pat[1:], parts[i:]) for i in range(len(parts) + 1))
    return bool(parts) and fnmatch.fnmatchcase(parts[0], pat[0]) and match(
        pat[1:], parts[1:])
  return match(pattern.split('/'), path.split('/'))


def _coverage():
  packages = _build_files()
  parsed = {pkg: _parse_build(path) for pkg, path in packages.items()}
  explicit = {
      _label_to_path(ref, pkg) for pkg, (_, refs) in parsed.items() for ref in refs}
  covered, uncovered = [], []
  for rel in _python_files():
    owner = _owner(rel, packages)
    ok = rel in explicit
    if not ok and owner is not None:
      local = rel[len(owner) + 1:] if owner else rel
      ok = any(
          any(_glob_match(p, local) for p in include)
          and not any(_glob_match(p, local) for p in exclude)
          for include, exclude in parsed[owner][0])
    (covered if ok else uncovered).append(rel)
  return covered, uncovered


def test_glob_matching_follows_bazel():
  assert _glob_match('*/**/*.py', 'nets/layers/raw.py')
  assert _glob_match('*/**/*.py', 'runtime/tf_compat.py')
  assert not _glob_match('*/**/*.py', 'train_image_classifier.py')
  assert _glob_match('tests/**/*_test.py', 'tests/bazel_smoke_test.py')
  assert not _glob_match('tests/**/*_test.py', 'tests/helpers.py')
  assert _glob_match('*.py', 'train_image_classifier.py')
  assert not _glob_match('*.py', 'runtime/tf_compat.py')


def test_every_python_file_is_in_a_bazel_target():
  covered, uncovered = _coverage()
  assert 'tests/build_coverage_test.py' in covered
  assert not uncovered, (
      'these .py files are in no Bazel target; extend the glob()s in the BUILD file that owns '
      'them (a new BUILD file makes a new package that the root BUILD no longer sees): '
      + ', '.join(uncovered))


def test_non_project_directories_are_bazel_ignored():
  # Without these, `bazel test //...` walks the virtualenv (which holds BUILD files of its own)
  # and the stub repositories.
  assert {'.venv', 'tools/bazel_stubs'} <= IGNORED
