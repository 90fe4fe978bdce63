#!/usr/bin/env bash
# Install dvbuild from the action's own checkout (so it is exactly the action's
# version) into a virtualenv that actions/cache restores on later runs.
#   install.sh key      -> step outputs key=, venv= (for actions/cache) and ready=true when
#                          this job already set up a virtualenv that has what is wanted
#   install.sh install  -> creates the venv unless the cache restored it; exports
#                          DVBUILD_VENV and DVBUILD_INSTALLED to the job (GITHUB_ENV)
# Inputs come from the environment only: DVBUILD_ACTION_ROOT (the action checkout),
# DVBUILD_VENV, DVBUILD_EXTRAS (what to install: `detect`, the lean set `dvbuild detect`
# needs: dvbuild without its dependencies but PyYAML, pathspec and typer; else extras such as
# `data,github` or `all`), DVBUILD_INSTALLED (what this job installed already).
# The install uses uv (PyPI `uv`; put on PATH from PyPI when the runner has none) and
# makes a relocatable venv beside the target, moved into place at the end, so two jobs
# installing on one host (act) never see each other's half-made venv.
set -euo pipefail

root="${DVBUILD_ACTION_ROOT:?the action checkout}"
extras="${DVBUILD_EXTRAS:-all}"

covers() {  # does an install of $1 have what $2 needs?
  local have="$1" want="$2" e
  [ "$have" = all ] || [ "$want" = detect ] && return 0
  [ "$have" = detect ] && return 1
  for e in ${want//,/ }; do
    case ",$have," in *",$e,"*) ;; *) return 1 ;; esac
  done
}

key() {
  if [ -n "${DVBUILD_INSTALLED:-}" ] && [ -x "${DVBUILD_VENV:-}/bin/dvbuild" ] \
    && covers "$DVBUILD_INSTALLED" "$extras"; then
    { echo "ready=true"; echo "venv=$DVBUILD_VENV"; echo "key="; } >> "$GITHUB_OUTPUT"
    return 0
  fi
  local digest python_version
  digest="$(cd "$root" && find pyproject.toml dvbuild templates -type f ! -name '*.pyc' -print0 \
    | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -c1-20)"
  python_version="$(python -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
  local k="dvbuild-${RUNNER_OS:-Linux}-py${python_version}-${extras//,/+}-${digest}"
  { echo "ready=false"; echo "key=$k"; echo "venv=${RUNNER_TOOL_CACHE:-$HOME/.cache}/dvbuild/$k"; } \
    >> "$GITHUB_OUTPUT"
}

uv_bin() {  # the runner's uv, else one from PyPI in a folder of its own
  if command -v uv >/dev/null; then command -v uv; return 0; fi
  local dir="${RUNNER_TEMP:-/tmp}/dvbuild-uv"
  [ -x "$dir/bin/uv" ] || python -m pip install --quiet --disable-pip-version-check \
    --target "$dir" uv >&2
  echo "$dir/bin/uv"
}

lean_requirements() {  # detect's dependencies, as pyproject.toml pins them
  python - "$root/pyproject.toml" <<'PY'
import re, sys, tomllib
LEAN = ("pyyaml", "pathspec", "typer", "rich")  # typer, rich: detect's options the slow way
deps = tomllib.load(open(sys.argv[1], "rb"))["project"]["dependencies"]
for dep in deps:
    if re.split(r"[\s<>=!~\[;]", dep, maxsplit=1)[0].lower() in LEAN:
        print(dep)
PY
}

create() {  # a relocatable venv at $1 with dvbuild and what $extras asks for
  local venv="$1" uv
  uv="$(uv_bin)"
  "$uv" venv --quiet --relocatable --python "$(command -v python)" "$venv"
  if [ "$extras" = detect ]; then
    local reqs=()
    mapfile -t reqs < <(lean_requirements)
    "$uv" pip install --quiet --python "$venv/bin/python" --no-deps "$root"
    "$uv" pip install --quiet --python "$venv/bin/python" "${reqs[@]}"
  else
    "$uv" pip install --quiet --python "$venv/bin/python" "${root}[${extras}]"
  fi
}

install() {
  local venv="${DVBUILD_VENV:?the virtualenv folder}" started="$EPOCHREALTIME" how=restored
  if ! "$venv/bin/dvbuild" --version >/dev/null 2>&1; then
    how=installed
    local tmp="$venv.tmp-$$"
    rm -rf "$tmp"
    mkdir -p "$(dirname "$venv")"
    create "$tmp"
    # Another job on this host (act) may have finished first: keep the one in place.
    if ! mv -T "$tmp" "$venv" 2>/dev/null; then
      rm -rf "$venv.broken-$$"
      if "$venv/bin/dvbuild" --version >/dev/null 2>&1; then rm -rf "$tmp"
      else mv -T "$venv" "$venv.broken-$$" && mv -T "$tmp" "$venv" && rm -rf "$venv.broken-$$"
      fi
    fi
  fi
  local took
  took="$(python -c 'import sys; print("%.1f" % (float(sys.argv[2]) - float(sys.argv[1])))' \
    "$started" "$EPOCHREALTIME")"
  echo "dvbuild $("$venv/bin/dvbuild" --version) ($extras) $how in ${took}s: $venv"
  { echo "DVBUILD_VENV=$venv"; echo "DVBUILD_INSTALLED=$extras"; } >> "${GITHUB_ENV:-/dev/null}"
  echo "$venv/bin" >> "$GITHUB_PATH"
}

case "${1:-install}" in
  key) key ;;
  install) install ;;
  *) echo "::error::install.sh: unknown mode ${1}" >&2; exit 2 ;;
esac
