#!/bin/sh
echo "unsupported: bazel coverage needs the real @remote_coverage_tools (offline stub)" >&2
exit 1
