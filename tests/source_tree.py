"""The checkout a test file belongs to, also when Bazel runs it from runfiles."""
import pathlib

import pytest


def root(test_file, *markers):
  """The nearest directory above `test_file` holding every file in `markers`.

  Under Bazel a test file is a runfiles symlink whose target is in the
  checkout, so both the resolved and the literal path are searched. Skips the
  calling module when no such directory is reachable.
  """
  for start in (pathlib.Path(test_file).resolve(),
                pathlib.Path(test_file).absolute()):
    for parent in start.parents:
      if all((parent / marker).is_file() for marker in markers):
        return parent
  pytest.skip('no directory with %s is reachable from %s' %
              (', '.join(markers), test_file), allow_module_level=True)
