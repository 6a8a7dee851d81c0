#!/usr/bin/env bash
# One-time set-up on Debian/Ubuntu: system packages, the ONNX Runtime library, Rust.
# Safe to run again: each step is skipped when already done.
set -euo pipefail

ORT_VERSION=1.32.0
CACHE="${SAMESPACE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/samespace}"
PACKAGES=(pkg-config clang mold nasm cmake libasound2-dev libudev-dev libopus-dev
  libx11-dev libxkbcommon-dev libxi-dev libxcursor-dev libxrandr-dev libvulkan1
  mesa-vulkan-drivers ffmpeg iproute2 nftables coturn python3 python3-pip unzip curl ca-certificates
  pulseaudio pulseaudio-utils libasound2-plugins
  xvfb xdotool imagemagick tesseract-ocr tesseract-ocr-eng xclip bc
  libavcodec-dev libavformat-dev libavutil-dev libswscale-dev libavdevice-dev libavfilter-dev)

sudo_() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo_ apt-get update -qq
  sudo_ env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # coturn is here for the NAT test, which starts its own; Debian's package enables
  # a system-wide TURN server: switch off the one just installed.
  if [[ " ${missing[*]} " == *" coturn "* ]] && command -v systemctl >/dev/null 2>&1 \
    && systemctl is-enabled coturn >/dev/null 2>&1; then
    sudo_ systemctl disable --now coturn >/dev/null 2>&1 || true
  fi
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: installing Rust (rustup)"
  curl -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
  # shellcheck disable=SC1091
  . "$HOME/.cargo/env"
fi

lib="$CACHE/onnxruntime/libonnxruntime.so.$ORT_VERSION"
if [ ! -f "$lib" ]; then
  echo "setup: fetching ONNX Runtime $ORT_VERSION (PyPI wheel) into $CACHE/onnxruntime"
  tmp=$(mktemp -d)
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.11 \
    --platform manylinux_2_28_x86_64 "onnxruntime==$ORT_VERSION" -d "$tmp"
  mkdir -p "$CACHE/onnxruntime"
  python3 - "$tmp" "$CACHE/onnxruntime" "$ORT_VERSION" <<'PY'
import glob, sys, zipfile, os
src, dst, ver = sys.argv[1:]
wheel = glob.glob(os.path.join(src, "onnxruntime-*.whl"))[0]
name = f"onnxruntime/capi/libonnxruntime.so.{ver}"
with zipfile.ZipFile(wheel) as z, open(os.path.join(dst, f"libonnxruntime.so.{ver}"), "wb") as out:
    out.write(z.read(name))
PY
  rm -rf "$tmp"
fi
echo "setup: ok (ONNX Runtime at $lib)"
