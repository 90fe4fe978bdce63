#!/usr/bin/env bash
# Install dvbuild from the action's own checkout (so it is exactly the action's
# version) into a virtualenv that actions/cache restores on later runs.
#   install.sh key      -> step outputs key= and venv= (for actions/cache)
#   install.sh install  -> creates the venv unless the cache restored it
# Inputs come from the environment only: DVBUILD_ACTION_ROOT (the action checkout),
# DVBUILD_VENV, DVBUILD_PYTHON_VERSION, DVBUILD_EXTRAS.
set -euo pipefail

root="${DVBUILD_ACTION_ROOT:?the action checkout}"

key() {
  local digest
  digest="$(cd "$root" && find pyproject.toml dvbuild templates -type f ! -name '*.pyc' -print0 \
    | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -c1-20)"
  local python_version
  python_version="$(python -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
  local k="dvbuild-${RUNNER_OS:-Linux}-py${python_version}-${DVBUILD_EXTRAS:-all}-${digest}"
  echo "key=$k" >> "$GITHUB_OUTPUT"
  echo "venv=${RUNNER_TOOL_CACHE:-$HOME/.cache}/dvbuild/$k" >> "$GITHUB_OUTPUT"
}

install() {
  local venv="${DVBUILD_VENV:?the virtualenv folder}"
  if [ ! -x "$venv/bin/dvbuild" ]; then
    python -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
      "${root}[${DVBUILD_EXTRAS:-all}]"
  fi
  "$venv/bin/dvbuild" --version
  echo "$venv/bin" >> "$GITHUB_PATH"
}

case "${1:-install}" in
  key) key ;;
  install) install ;;
  *) echo "::error::install.sh: unknown mode ${1}" >&2; exit 2 ;;
esac
