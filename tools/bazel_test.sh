#!/usr/bin/env bash
# Builds and tests everything with Bazel, offline:
#   tools/bazel_test.sh [BAZEL_TEST_ARGS...]     (VENV=path/to/venv to override $PWD/.venv)
# Installs Debian's bazel-bootstrap if bazel is missing, points Bazel at the virtualenv,
# runs `bazel test //...`, stops the Bazel server and exits with the test's status.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${VENV:-$PWD/.venv}"

if ! command -v bazel >/dev/null 2>&1 || [[ ! -f /usr/share/bazel/rules/java/WORKSPACE ]]; then
  echo "bazel_test.sh: installing bazel-bootstrap and bazel-rules-java (apt)" >&2
  sudo=()
  if [[ "$(id -u)" != 0 ]]; then
    sudo=(sudo)
  fi
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
    bazel-bootstrap bazel-rules-java
fi

"$repo/tools/bazel_setup.sh" "$venv"

cd "$repo"
# Stop the Bazel server however this script ends (CI must not leave a JVM behind).
trap 'bazel shutdown >/dev/null 2>&1 || true' EXIT
status=0
bazel test //... "$@" || status=$?
exit "$status"
