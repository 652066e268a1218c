#!/usr/bin/env bash
# Installs Debian packages (as root, or through sudo): scripts/apt-install.sh wrk nginx
# Services that a package starts on install are not wanted: tests start their own.
set -euo pipefail
run() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
echo "apt-install: $*" >&2
run env DEBIAN_FRONTEND=noninteractive apt-get update -qq
run env DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 apt-get install -y -qq "$@" >/dev/null
