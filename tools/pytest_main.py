"""Runs one pytest file as a Bazel py_test: ``pytest_main.py TEST_FILE [PYTEST_ARGS...]``.

Bazel's test protocol is mapped onto pytest's: ``--test_filter`` (TESTBRIDGE_TEST_ONLY)
becomes ``-k``, XML_OUTPUT_FILE gets the JUnit report, ``tmp_path`` lives in the test's own
TEST_TMPDIR (parallel tests do not share /tmp/pytest-of-*), and pytest's exit code is the
test's result (non-zero when a test fails or nothing is collected).
"""
import os
import sys

import pytest


def main(argv):
  if len(argv) < 2:
    sys.stderr.write('usage: pytest_main.py TEST_FILE [PYTEST_ARGS...]\n')
    return 2
  args = [argv[1], '-q', '-p', 'no:cacheprovider'] + argv[2:]
  test_filter = os.environ.get('TESTBRIDGE_TEST_ONLY')
  if test_filter:
    args += ['-k', test_filter]
  test_tmpdir = os.environ.get('TEST_TMPDIR')
  if test_tmpdir:
    args += ['--basetemp', os.path.join(test_tmpdir, 'pytest')]
    os.environ.setdefault('HOME', test_tmpdir)  # Bazel leaves HOME unset.
  xml_output = os.environ.get('XML_OUTPUT_FILE')
  if xml_output:
    args += ['--junitxml', xml_output]
  return int(pytest.main(args))


if __name__ == '__main__':
  sys.exit(main(sys.argv))
