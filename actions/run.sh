#!/usr/bin/env bash
# Run one dvbuild step the way the action's inputs ask. Every input arrives as an
# environment variable (never expanded into this script by the runner):
#   DVBUILD_COMMAND   detect | test | build | run | publish | render | comment | all
#   DVBUILD_PACKAGES  package folders: one per line, or JSON (a list of paths:
#                     `toJSON(matrix.packages)`, a list of matrix entries, one entry:
#                     `toJSON(matrix)`, or one path: `toJSON(matrix.path)`); never split at spaces
#                     or commas (default: what detect selects, for `all`; every package
#                     otherwise). Every path reaches dvbuild after `--`, as one argument.
#   DVBUILD_STORE, DVBUILD_CATALOG, DVBUILD_REGISTRY, DVBUILD_REPORT_DIR, DVBUILD_VENV
#   DVBUILD_ALLOW_TEST_OUTPUT  "true": publish test runs' output (else publish refuses it)
#   DVBUILD_MAX_JOBS  detect's --max-jobs: matrix entries at most (more packages: shards)
#   DVBUILD_IMAGES    run, render: the `images` output of build (JSON list of {name, path,
#                     image, digest, pinned}); run and render exactly these packages, with
#                     the image pinned by digest. An explicit empty JSON list of packages
#                     (`[]`) means none: build and render then do nothing.
# run starts each pinned image for its production run (`dvbuild run --image`: the image's
# own entrypoint runs the notebooks and publishes). all: detect, test, then on a pull
# request the comment; on any other event the release flow of dvbuild-release.yml
# (build --push, run, render), which publishes production runs only.
# Step outputs: report-dir; passed (test: JSON list of the paths that passed); images
# (build: what was pushed, by digest); released (run: the images entries whose production
# run passed); packages, matrix, any (written by `dvbuild detect`).
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
max_jobs=()
if [ -n "${DVBUILD_MAX_JOBS:-}" ]; then max_jobs=(--max-jobs "$DVBUILD_MAX_JOBS"); fi
status=0
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

note() { status=$(( $1 > status ? $1 : status )); }

escape() {  # untrusted text in a workflow command: % CR LF escaped as GitHub documents
  local s="${1//'%'/%25}"
  s="${s//$'\r'/%0D}"
  printf '%s' "${s//$'\n'/%0A}"
}

package_list() {  # DVBUILD_PACKAGES -> NUL-separated paths in $1
  "$python" - "$1" <<'PY'
import json, os, sys

raw = os.environ.get("DVBUILD_PACKAGES", "")

def fail(why):
    why = why.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    sys.stderr.write(f"::error::packages input: {why}\n")
    sys.exit(2)

if raw.strip()[:1] in ("[", '"', "{"):
    try:
        value = json.loads(raw)
    except ValueError as e:
        fail(f"not JSON ({e}); give one folder per line, or a JSON list of folders")
    paths = []
    for item in value if isinstance(value, list) else [value]:
        if isinstance(item, dict):  # a matrix entry
            item = item.get("packages", item.get("path"))
        paths += item if isinstance(item, list) else [item]
    if not all(isinstance(p, str) and p.strip() for p in paths):
        fail("a JSON list of folder paths (non-empty strings) was expected")
else:
    paths = [line.strip() for line in raw.splitlines() if line.strip()]
if any("\0" in p for p in paths):
    fail("a folder path holds a NUL character")
with open(sys.argv[1], "wb") as out:
    out.write(b"".join(os.fsencode(p) + b"\0" for p in paths))
PY
}

passed() {  # test runs that passed (dir: their output folders, path: their packages), NUL-separated
  "$python" - "$report_dir" "$1" <<'PY'
import json, os, pathlib, sys
for report in sorted(pathlib.Path(sys.argv[1]).glob("*/report.json")):
    doc = json.loads(report.read_text(encoding="utf-8"))
    if doc.get("status") == "passed" and isinstance(doc.get("path"), str):
        found = report.parent if sys.argv[2] == "dir" else doc["path"]
        sys.stdout.buffer.write(os.fsencode(found) + b"\0")
PY
}

detected() {  # package paths from detect (which also writes the step outputs), NUL-separated
  "$dvbuild" detect --json "${max_jobs[@]}" | "$python" -c 'import json, os, sys
for p in json.load(sys.stdin)["packages"]:
    sys.stdout.buffer.write(os.fsencode(p["path"]) + b"\0")'
}

previews() {  # the comment's Markdown beside the reports, and the job summary
  "$dvbuild" comment --report="$report_dir" --dry-run "${store[@]}" > "$report_dir/comment.md" \
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

none_given() { [ "$(printf '%s' "${DVBUILD_PACKAGES:-}" | tr -d '[:space:]')" = "[]" ]; }

passed_output() {  # step output passed=: the paths whose test run passed, as JSON
  local ok=()
  mapfile -d '' -t ok < <(passed path)
  "$python" -c 'import json, sys; print("passed=" + json.dumps(sys.argv[1:]))' "${ok[@]}" \
    >> "${GITHUB_OUTPUT:-/dev/null}"
}

build() {  # build --push; images.json and the step output images=: each image by digest
  if none_given; then
    echo "dvbuild: no package to build"
    echo "images=[]" >> "${GITHUB_OUTPUT:-/dev/null}"
    return 0
  fi
  local code=0
  "$dvbuild" build --push --json -- "${packages[@]}" > "$report_dir/build.json" || code=$?
  "$python" - "$report_dir/build.json" "$report_dir/images.json" <<'PY' || code=$(( code > 1 ? code : 1 ))
import json, os, sys
try:
    doc = json.load(open(sys.argv[1], encoding="utf-8"))
except ValueError:
    doc = {"packages": []}
images, missing = [], []
for r in doc["packages"]:
    if r.get("status") not in ("built", "skipped"):
        continue
    ref, digest = r.get("image") or "", r.get("digest") or ""
    if not digest.startswith("sha256:"):
        missing.append(r["package"])
        continue
    last = ref.rsplit("/", 1)[-1]
    repository = ref.rsplit(":", 1)[0] if ":" in last else ref
    images.append({"name": r["package"], "path": r["path"], "image": ref, "digest": digest,
                   "pinned": f"{repository}@{digest}"})
with open(sys.argv[2], "w", encoding="utf-8") as out:
    json.dump(images, out)
with open(os.environ.get("GITHUB_OUTPUT") or os.devnull, "a", encoding="utf-8") as out:
    out.write("images=" + json.dumps(images) + "\n")
for name in missing:
    sys.stderr.write(f"::error::{name}: no registry digest for its image (was it pushed?)\n")
sys.exit(1 if missing else 0)
PY
  return "$code"
}

images() {  # DVBUILD_IMAGES -> "path NUL pinned NUL" records in $1
  "$python" - "$1" <<'PY'
import json, os, sys
try:
    records = [(i["path"], i["pinned"]) for i in json.loads(os.environ["DVBUILD_IMAGES"])]
    assert all(isinstance(x, str) and x for pair in records for x in pair)
except (ValueError, KeyError, TypeError, AssertionError) as e:
    sys.stderr.write(f"::error::images input: not the images output of build ({type(e).__name__})\n")
    sys.exit(2)
with open(sys.argv[1], "wb") as out:
    for path, pinned in records:
        out.write(os.fsencode(path) + b"\0" + os.fsencode(pinned) + b"\0")
PY
}

production() {  # each built image makes its own production run: parameters, then publish
  : > "$work/released"  # "path NUL pinned NUL" of each image whose run passed
  if [ ${#store[@]} -eq 0 ]; then echo "::error::dvbuild run needs the store input" >&2; return 2; fi
  images "$work/images" || return 2
  local pairs=() i code=0 c
  mapfile -d '' -t pairs < "$work/images"
  if [ ${#pairs[@]} -eq 0 ]; then echo "dvbuild: no image built, nothing to run"; return 0; fi
  for (( i = 0; i < ${#pairs[@]}; i += 2 )); do
    c=0
    "$dvbuild" run --image "${pairs[i+1]}" --out "$report_dir/production" "${store[@]}" \
      "${catalog[@]}" -- "${pairs[i]}" || c=$?
    if [ "$c" -eq 0 ]; then
      printf '%s\0%s\0' "${pairs[i]}" "${pairs[i+1]}" >> "$work/released"
    fi
    code=$(( c > code ? c : code ))
  done
  released_output
  return "$code"
}

released_output() {  # step output released=: the images entries whose production run passed
  "$python" - "$work/released" <<'PY'
import json, os, sys
raw = open(sys.argv[1], "rb").read().split(b"\0")[:-1]
ran = {(os.fsdecode(raw[i]), os.fsdecode(raw[i + 1])) for i in range(0, len(raw), 2)}
released = [i for i in json.loads(os.environ["DVBUILD_IMAGES"]) if (i["path"], i["pinned"]) in ran]
with open(os.environ.get("GITHUB_OUTPUT") or os.devnull, "a", encoding="utf-8") as out:
    out.write("released=" + json.dumps(released) + "\n")
PY
}

render() {  # manifests: of the built images, pinned by digest (DVBUILD_IMAGES), else of packages
  if [ -z "${DVBUILD_IMAGES:-}" ]; then
    if none_given; then echo "dvbuild: no package to render"; return 0; fi
    "$dvbuild" render --out "$manifests_dir" -- "${packages[@]}"
    return
  fi
  images "$work/images" || return 2
  render_pinned "$work/images"
}

render_pinned() {  # one manifest per "path NUL pinned NUL" record in $1
  local pairs=() i code=0
  mapfile -d '' -t pairs < "$1"
  for (( i = 0; i < ${#pairs[@]}; i += 2 )); do
    "$dvbuild" render --out "$manifests_dir" --image "${pairs[i+1]}" -- "${pairs[i]}" || code=$?
  done
  return "$code"
}

publish() {
  if [ ${#store[@]} -eq 0 ]; then
    echo "::error::dvbuild publish needs the store input" >&2
    return 2
  fi
  local dirs=()
  mapfile -d '' -t dirs < <(passed dir)
  if [ ${#dirs[@]} -eq 0 ]; then echo "dvbuild: nothing passed, nothing to publish"; return 0; fi
  "$dvbuild" publish "${store[@]}" "${catalog[@]}" "${allow_test[@]}" -- "${dirs[@]}"
}

mkdir -p "$report_dir"
echo "report-dir=$report_dir" >> "${GITHUB_OUTPUT:-/dev/null}"
package_list "$work/packages" || exit 2
mapfile -d '' -t packages < "$work/packages"

case "${DVBUILD_COMMAND:-all}" in
  detect) "$dvbuild" detect "${max_jobs[@]}"; note $? ;;
  test) "$dvbuild" test --out "$report_dir" -- "${packages[@]}"; note $?; previews; passed_output ;;
  build) build; note $? ;;
  run) production; note $? ;;
  publish) publish; note $? ;;
  render) render; note $? ;;
  comment) "$dvbuild" comment --report="$report_dir" "${store[@]}"; note $? ;;
  all)
    # On a pull request: test and comment only. Elsewhere: test, build, production run, render.
    if [ ${#packages[@]} -eq 0 ]; then
      detected > "$work/detected"; note $?
      mapfile -d '' -t packages < "$work/detected"
    fi
    if [ ${#packages[@]} -eq 0 ]; then
      echo "dvbuild: no package changed"
    else
      "$dvbuild" test --out "$report_dir" -- "${packages[@]}"; note $?
      previews
      if pull_request; then
        if fork; then
          echo "::notice::a fork's token cannot comment: dvbuild-comment.yml posts it"
        else
          "$dvbuild" comment --report="$report_dir" "${store[@]}"; note $?
        fi
      else
        # The release flow of dvbuild-release.yml: what passed is built and pushed, each
        # pushed image makes its production run (which publishes), and the images whose
        # run passed get manifests, pinned by digest. The test runs' output is never published.
        mapfile -d '' -t ok < <(passed path)
        if [ ${#ok[@]} -gt 0 ]; then
          packages=("${ok[@]}")
          build; note $?
          DVBUILD_IMAGES="$(cat "$report_dir/images.json" 2>/dev/null || echo '[]')" production
          note $?
          render_pinned "$work/released"; note $?
        fi
      fi
    fi
    ;;
  *) echo "::error::unknown dvbuild command '$(escape "${DVBUILD_COMMAND}")'" >&2; exit 2 ;;
esac
exit "$status"
