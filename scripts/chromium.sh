#!/usr/bin/env bash
# Make sure Debian's Chromium and ChromeDriver are installed (for the browser test of the UI); prints the paths.
set -euo pipefail
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq >/dev/null && $SUDO apt-get install -y -qq chromium chromium-driver >/dev/null
fi
command -v chromium
command -v chromedriver
