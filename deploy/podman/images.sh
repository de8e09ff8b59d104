#!/usr/bin/env bash
# `make images`: the base image (once), then the Redis stand-in, the API image, the
# Flower image, the worker image and a Prometheus stand-in (for the compose run),
# each built with podman from the repo's files.
# Rebuilds reuse podman's layer cache, so a second run with no change takes seconds.
# Usage: deploy/podman/images.sh   (TAG=<tag> to tag other than latest)
set -euo pipefail
cd "$(dirname "$0")/../.."
export CONTAINERS_CONF="${CONTAINERS_CONF:-$PWD/deploy/podman/containers.conf}"
tag="${TAG:-latest}"

# The CA bundle pip trusts on this machine (PIP_CERT, or pip's `cert` setting), handed
# to the builds as a secret: the registries answer through it here. Never in a layer.
cert="${PIP_CERT:-$(python3 -m pip config get global.cert 2>/dev/null || true)}"
# docker format: OCI images drop HEALTHCHECK, which the Dockerfiles and compose rely on.
build=(podman build --layers --format docker)
if [ -n "$cert" ] && [ -s "$cert" ]; then
  build+=(--secret "id=pip_cert,src=$cert")
fi

step() {  # step N NAME COMMAND...: one progress line before and one after, with seconds
  local n="$1" name="$2" start=$SECONDS
  shift 2
  echo "[images] $n/6 $name ..."
  "$@" >"/tmp/spectrum-images-$name.log" 2>&1 \
    || { tail -n 40 "/tmp/spectrum-images-$name.log"; echo "[images] $name FAILED"; exit 1; }
  echo "[images] $n/6 $name done in $((SECONDS - start)) s"
}

t0=$SECONDS
step 1 base deploy/podman/base-image.sh
step 2 redis "${build[@]}" -f deploy/podman/Containerfile.redis -t "spectrum-redis:$tag" deploy/podman
step 3 api "${build[@]}" -f Dockerfile.api -t "spectrum-api:$tag" .
step 4 flower "${build[@]}" -f Dockerfile.api --build-arg EXTRAS=api,flower -t "spectrum-flower:$tag" .
step 5 worker "${build[@]}" -f Dockerfile.worker -t "spectrum-worker:$tag" .
step 6 prometheus "${build[@]}" -f deploy/podman/Containerfile.prometheus \
  -t "spectrum-prometheus:$tag" deploy/podman
echo "[images] all built in $((SECONDS - t0)) s"
podman image ls --filter reference='spectrum-*' --filter reference='python:3.11-slim' \
  --format '{{.Repository}}:{{.Tag}}  {{.Size}}'
