#!/bin/sh
# Keep only this platform's native binaries in node_modules: onnxruntime-node and tokenizers ship
# every OS's and CPU's (about 300 MiB), a Linux image runs one. Run in the app directory after
# `npm prune --omit=dev`; test/docker-replay.test.ts serves from the result.
set -eu
arch="$(node -p process.arch)"
for napi in node_modules/onnxruntime-node/bin/napi-v*; do
  find "$napi" -mindepth 1 -maxdepth 1 ! -name linux -exec rm -rf {} +
  find "$napi/linux" -mindepth 1 -maxdepth 1 ! -name "$arch" -exec rm -rf {} +
done
# glibc (Debian, Ubuntu) builds only.
find node_modules/tokenizers -maxdepth 1 -name 'tokenizers.*.node' ! -name "tokenizers.linux-$arch-gnu.node" -delete
