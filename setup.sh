#!/usr/bin/env bash
# Installs everything UniBind needs on a fresh Debian machine with Python 3.10+:
# Debian packages with real data (as root), uv, and the core + every plugin into ./.venv
# from the committed lock file (the matched torch triple included).
set -euo pipefail
cd "$(dirname "$0")"

DEBIAN_PACKAGES=(
  tuxpaint-stamps-default   # real photo stamps, sound effects and descriptions (GPL-2 data, used at run time)
  dataset-fashion-mnist     # Fashion-MNIST, 60k/10k real images in idx format
  wordnet-base              # WordNet 3.0 (descriptions, ImageNet ids)
  wordnet-sense-index
  build-essential           # fpsample (point clouds) builds from source on some Pythons
  chromium                  # headless browser: the report test renders the HTML at 1280 and 390 px (playwright)
)

if command -v apt-get >/dev/null 2>&1; then
  missing=()
  for pkg in "${DEBIAN_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
fi

if ! command -v uv >/dev/null 2>&1; then
  python3 -m pip install --quiet --disable-pip-version-check uv
fi
UV="$(command -v uv || echo "python3 -m uv")"

$UV sync --all-packages --locked --quiet
echo "setup done: $(.venv/bin/unibind --version)"
