#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine with Node 20 + npm for this repo: the Mesa lavapipe
# Vulkan driver (bookworm-backports; Debian 12's own Mesa 22.3 is rejected by Dawn) so the
# WebGPU tests run on the CPU, pnpm, and the locked dependencies. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive

lavapipe_ok() {
  local v
  v=$(dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null || true)
  [[ "${v%%.*}" =~ ^[0-9]+$ ]] && (( ${v%%.*} >= 25 )) && dpkg-query -W libvulkan1 >/dev/null 2>&1
}
if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ] && ! lavapipe_ok; then
  if [ ! -f /etc/apt/sources.list.d/backports.list ]; then
    uri=$(sed -n 's/^URIs: //p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n1)
    echo "deb ${uri:-http://deb.debian.org/debian} bookworm-backports main" > /etc/apt/sources.list.d/backports.list
  fi
  # a failed install is not fatal: the WebGPU tests then skip with the reason, the rest still runs
  apt-get update -qq && apt-get install -y -qq -t bookworm-backports mesa-vulkan-drivers libvulkan1 >/dev/null ||
    echo "setup: installing Mesa lavapipe from bookworm-backports failed" >&2
fi
lavapipe_ok || echo "setup: no Mesa >= 25 lavapipe: WebGPU tests will be skipped with a reason" >&2

command -v pnpm >/dev/null || npm install -g pnpm@12.4.2 >/dev/null
pnpm install --frozen-lockfile
