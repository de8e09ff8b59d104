#!/usr/bin/env bash
# Build a local stand-in for the official python:3.11-slim image from Debian packages,
# for machines that cannot pull from a registry: debootstrap a bookworm root file
# system from the apt mirror this machine already uses, add what the Dockerfiles rely
# on (`python` on the PATH, `python -m venv` with pip), and `podman import` it under
# the official name so Dockerfile.api and Dockerfile.worker build unchanged.
# Usage: deploy/podman/base-image.sh [IMAGE]   (skips the work when IMAGE exists)
set -euo pipefail
image="${1:-docker.io/library/python:3.11-slim}"
export CONTAINERS_CONF="${CONTAINERS_CONF:-$(dirname "$0")/containers.conf}"

if podman image exists "$image"; then
  echo "[images] base $image exists, skipping debootstrap"
  exit 0
fi

# The first Debian mirror in the apt sources (deb822 or one-line format).
mirror="$(grep -hE '^(URIs:|deb )' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list \
  2>/dev/null | grep -v security | grep -oE 'https?://[^ ]*debian[^ ]*' | head -n1 || true)"
mirror="${mirror:-http://deb.debian.org/debian}"

rootfs="$(mktemp -d /var/tmp/spectrum-base.XXXXXX)"
trap 'rm -rf "$rootfs"' EXIT
echo "[images] debootstrap bookworm from $mirror into $rootfs (a few minutes)"
# python3-distutils provides python3.11-distutils, which python3.11-venv needs and
# debootstrap cannot resolve (a virtual package).
debootstrap --variant=minbase \
  --include=python3.11,python3.11-venv,python3-distutils,ca-certificates \
  bookworm "$rootfs" "$mirror" >"$rootfs.log" 2>&1 \
  || { tail -n 30 "$rootfs.log"; exit 1; }
rm -f "$rootfs.log"

# What the official image offers and the Dockerfiles use: python and python3 in
# /usr/local/bin. (pip lives in each venv; the Dockerfiles make one.)
ln -sf /usr/bin/python3.11 "$rootfs/usr/local/bin/python"
ln -sf /usr/bin/python3.11 "$rootfs/usr/local/bin/python3"
# Slim like the official image: no apt lists, docs, man pages or locales.
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin \
  "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/*
find "$rootfs/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name 'locale.alias' -exec rm -rf {} +

echo "[images] importing $image"
tar -C "$rootfs" -c . | podman import \
  --change 'ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' \
  --change 'CMD ["python3"]' \
  --message "debootstrap bookworm minbase + python3.11 (deploy/podman/base-image.sh)" \
  - "$image" >/dev/null
podman image ls "$image"
