#!/bin/sh
# Builds what scripts/gpu/run.sh needs on a GPU machine without Node.js or internet, as one file:
#   scripts/gpu/.bundle/warm-serve-gpu.tar.xz
# holding a Node.js binary (this machine's, Linux x64), dist/ (npm run build), the production
# node_modules with only Linux x64 glibc native binaries (onnxruntime-node with its WebGPU
# provider, tokenizers; docker/prune-native.sh), and Debian's Vulkan loader package
# (libvulkan1, a .deb that run.sh unpacks there; the GPU's own Vulkan driver comes with its
# driver). To fit, the Node.js binary is stripped of its symbol table and node_modules of
# source maps, type declarations and READMEs. The working tree travels beside it (what git tracks
# and the untracked files it does not ignore); this script fails when the two pass 64 MiB.
#
#   sh scripts/gpu/pack.sh            (from the repository root, after npm ci; ~5 min on 2 cores)
#
# Needs: node and npm (the ones the bundle carries), apt-get (downloads libvulkan1 from the
# configured Debian sources), strip (binutils), xz.
set -eu
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="$root/scripts/gpu/.bundle"
limit=$((64 * 1048576))
cd "$root"
[ "$(uname -m)" = x86_64 ] || { echo "pack: the GPU machine is x86-64; this machine is $(uname -m)" >&2; exit 1; }

stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
app="$stage/warm-serve-gpu"
mkdir -p "$app/bin" "$app/deb"

echo "pack: npm run build"
npm run build >/dev/null
cp -r dist package.json "$app/"
strip -o "$app/bin/node" "$(command -v node)"
echo "pack: node $("$app/bin/node" -v) ($(du -h "$app/bin/node" | cut -f1), stripped)"

# The production dependencies as installed here (no download): the top-level packages that
# `npm ls --omit=dev` lists, each with what it nests.
mkdir -p "$app/node_modules"
npm ls --omit=dev --parseable --all 2>/dev/null | sed "s|^$root/||" |
  grep -E '^node_modules/(@[^/]+/)?[^/@]+$' | sort -u | while read -r dir; do
    mkdir -p "$app/$(dirname "$dir")"
    cp -r "$dir" "$app/$dir"
  done
(cd "$app" && PATH="$app/bin:$PATH" sh "$root/docker/prune-native.sh")
find "$app/node_modules" "$app/dist" -type f \( -name '*.map' -o -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' -o -iname 'README*' -o -iname 'CHANGELOG*' \) -delete
[ -f "$app/node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime.so.1" ] || { echo "pack: onnxruntime-node's Linux x64 runtime is missing" >&2; exit 1; }

echo "pack: apt-get download libvulkan1"
(cd "$app/deb" && apt-get download libvulkan1 >/dev/null 2>"$stage/apt.log") || { cat "$stage/apt.log" >&2; exit 1; }
ls "$app"/deb/libvulkan1_*.deb >/dev/null

git rev-parse HEAD > "$app/COMMIT" 2>/dev/null || true
mkdir -p "$out"
echo "pack: xz ($(du -sh "$app" | cut -f1) unpacked)"
tar -C "$stage" -cf - warm-serve-gpu | xz -9 -T2 > "$out/warm-serve-gpu.tar.xz.partial"
mv "$out/warm-serve-gpu.tar.xz.partial" "$out/warm-serve-gpu.tar.xz"
size=$(wc -c < "$out/warm-serve-gpu.tar.xz")
tree=$( { git ls-files -z; git ls-files -z --others --exclude-standard; } | xargs -0 cat 2>/dev/null | wc -c)
echo "pack: $out/warm-serve-gpu.tar.xz: $size bytes; with the working tree ($tree bytes): $(( (size + tree) / 1048576 )) of 64 MiB"
if [ $((size + tree)) -gt "$limit" ]; then
  echo "pack: the bundle and the working tree together pass 64 MiB" >&2
  exit 1
fi
