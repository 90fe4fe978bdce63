#!/usr/bin/env bash
# Run one dvbuild step the way the action's inputs ask. Every input arrives as an
# environment variable (never expanded into this script by the runner):
#   DVBUILD_COMMAND   detect | test | build | publish | render | comment | all
#   DVBUILD_PACKAGES  package folders, separated by spaces, commas or newlines
#                     (default: what detect selects, for `all`; every package otherwise)
#   DVBUILD_STORE, DVBUILD_CATALOG, DVBUILD_REGISTRY, DVBUILD_REPORT_DIR, DVBUILD_VENV
#   DVBUILD_ALLOW_TEST_OUTPUT  "true": publish test runs' output (else publish refuses it)
# Step outputs: report-dir (and packages, matrix, any, written by `dvbuild detect`).
set -uo pipefail

dvbuild="${DVBUILD_VENV:+$DVBUILD_VENV/bin/}dvbuild"
python="${DVBUILD_VENV:+$DVBUILD_VENV/bin/}python"
report_dir="${DVBUILD_REPORT_DIR:-${RUNNER_TEMP:-/tmp}/dvbuild-report}"
manifests_dir="$report_dir/manifests"
store=()
catalog=()
if [ -n "${DVBUILD_STORE:-}" ]; then store=(--store "$DVBUILD_STORE"); fi
if [ -n "${DVBUILD_CATALOG:-}" ]; then catalog=(--catalog "$DVBUILD_CATALOG"); fi
allow_test=()
if [ "${DVBUILD_ALLOW_TEST_OUTPUT:-}" = true ]; then allow_test=(--allow-test-output); fi
if [ -n "${DVBUILD_REGISTRY:-}" ]; then export DVBUILD_REGISTRY; fi
read -r -a packages <<< "$(printf '%s' "${DVBUILD_PACKAGES:-}" | tr '\n,' '  ')"
status=0

note() { status=$(( $1 > status ? $1 : status )); }

passed() {  # test runs that passed (dir: their output folders, path: their packages)
  "$python" - "$report_dir" "$1" <<'PY'
import json, pathlib, sys
for report in sorted(pathlib.Path(sys.argv[1]).glob("*/report.json")):
    doc = json.loads(report.read_text())
    if doc.get("status") == "passed":
        print(report.parent if sys.argv[2] == "dir" else doc.get("path"))
PY
}

detected() {  # package paths from detect (which also writes the step outputs)
  "$dvbuild" detect --json | "$python" -c \
    'import json, sys; [print(p["path"]) for p in json.load(sys.stdin)["packages"]]'
}

previews() {  # the comment's Markdown beside the reports, and the job summary
  "$dvbuild" comment --report "$report_dir" --dry-run "${store[@]}" > "$report_dir/comment.md" \
    || echo "::warning::dvbuild could not render the comment preview"
}

pull_request() {
  case "${GITHUB_EVENT_NAME:-}" in pull_request | pull_request_target) return 0 ;; esac
  return 1
}

fork() {  # the pull request comes from another repository
  "$python" - <<'PY'
import json, os, sys
event = json.load(open(os.environ["GITHUB_EVENT_PATH"], encoding="utf-8"))
head = ((event.get("pull_request") or {}).get("head") or {}).get("repo") or {}
sys.exit(0 if head.get("full_name") not in (None, os.environ.get("GITHUB_REPOSITORY")) else 1)
PY
}

publish() {
  if [ ${#store[@]} -eq 0 ]; then
    echo "::error::dvbuild publish needs the store input" >&2
    return 2
  fi
  local dirs=()
  mapfile -t dirs < <(passed dir)
  if [ ${#dirs[@]} -eq 0 ]; then echo "dvbuild: nothing passed, nothing to publish"; return 0; fi
  "$dvbuild" publish "${dirs[@]}" "${store[@]}" "${catalog[@]}" "${allow_test[@]}"
}

mkdir -p "$report_dir"
echo "report-dir=$report_dir" >> "${GITHUB_OUTPUT:-/dev/null}"

case "${DVBUILD_COMMAND:-all}" in
  detect) "$dvbuild" detect; note $? ;;
  test) "$dvbuild" test "${packages[@]}" --out "$report_dir"; note $?; previews ;;
  build) "$dvbuild" build "${packages[@]}" --push; note $? ;;
  publish) publish; note $? ;;
  render) "$dvbuild" render "${packages[@]}" --out "$manifests_dir"; note $? ;;
  comment) "$dvbuild" comment --report "$report_dir" "${store[@]}"; note $? ;;
  all)
    # On a pull request: test and comment only. Elsewhere: test, build, publish, render.
    if [ ${#packages[@]} -eq 0 ]; then
      detected > "$report_dir/detected.txt"; note $?
      mapfile -t packages < "$report_dir/detected.txt"
    fi
    if [ ${#packages[@]} -eq 0 ]; then
      echo "dvbuild: no package changed"
    else
      "$dvbuild" test "${packages[@]}" --out "$report_dir"; note $?
      previews
      if pull_request; then
        if fork; then
          echo "::notice::a fork's token cannot comment: dvbuild-comment.yml posts it"
        else
          "$dvbuild" comment --report "$report_dir" "${store[@]}"; note $?
        fi
      else
        mapfile -t ok < <(passed path)
        if [ ${#ok[@]} -gt 0 ]; then
          "$dvbuild" build "${ok[@]}" --push; note $?
          publish; note $?
          "$dvbuild" render "${ok[@]}" --out "$manifests_dir"; note $?
        fi
      fi
    fi
    ;;
  *) echo "::error::unknown dvbuild command '${DVBUILD_COMMAND}'" >&2; exit 2 ;;
esac
exit "$status"
