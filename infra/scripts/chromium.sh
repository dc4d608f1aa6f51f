#!/usr/bin/env bash
# Installs Debian's chromium (the browser the docs page's test drives headless) when it is
# missing; does nothing when it is there. Root runs apt-get itself, anyone else through sudo.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  exit 0
fi
sudo=()
if [ "$(id -u)" -ne 0 ]; then
  sudo=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq chromium >/dev/null
/usr/bin/chromium --version
