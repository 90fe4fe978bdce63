#!/bin/sh
# System packages the test suite needs: installed when missing, from the
# machine's own apt sources. Needs root (CI and the dev machines run as root).
set -eu
PKGS="git docker.io docker-registry postgresql debootstrap ca-certificates nodejs"  # nodejs: act runs the JS actions (checkout, cache, artifacts)
missing=""
for p in $PKGS; do
    dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "installing:$missing" >&2
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends $missing
fi
