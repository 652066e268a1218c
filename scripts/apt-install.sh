#!/usr/bin/env bash
# Installs Debian packages (as root, or through sudo): scripts/apt-install.sh wrk
set -euo pipefail
run() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
echo "apt-install: $*" >&2
run env DEBIAN_FRONTEND=noninteractive apt-get update -qq
run env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
