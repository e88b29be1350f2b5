#!/bin/sh
# warm-serve on a GPU machine, from what scripts/gpu/pack.sh carried: one command that
#   1. unpacks the bundle (Node.js, dist/, node_modules, Debian's Vulkan loader) and finds the
#      GPU's Vulkan driver (the NVIDIA driver's ICD file),
#   2. builds the bench compute model with PyTorch (scripts/gpu/compute_model.py: float32 and
#      float16 graphs, and the same weights as model.safetensors),
#   3. checks parity: the reference model (--ensemble, prefix sharing) and the compute model on
#      --device DEVICE against --device cpu (scripts/gpu/parity.mjs; 1e-4, the float16 graph
#      against the float32 one on the CPU 3e-2),
#   4. measures items/s at 64 clients (scripts/gpu/load.mjs) with --max-batch-size 1..64, for the
#      float32 and the float16 graph,
#   5. runs the peer, transformers' LlamaForSequenceClassification in float16 on the same GPU and
#      the same weights (scripts/gpu/torch_peer.py), at the same batch sizes,
#   6. writes results.json and results.md to OUT_DIR ($OUT when set, else scripts/gpu/.results).
#
#   sh scripts/gpu/run.sh [--device webgpu|cpu|cuda] [--quick] [--sizes "1 2 4 8 16 32 64"]
#                         [--seconds 8] [--bundle FILE] [--work DIR]
#
# Sized for one 10-minute command on a 16-core machine (export ~2 min, parity ~1 min, 14 loads of
# 2 + 8 s plus server starts ~4 min, the peer ~1.5 min); --sizes and --seconds trim it.
# --device cpu runs the same steps on the CPU (how it is tested without a GPU; the peer then runs
# in float32 on the CPU, through models/recipe/modeling.py where transformers is missing); --quick shortens each load to 2 s
# and the batch sizes to 1, 8, 64. Needs python3 with torch (and transformers for the peer);
# PYTHON=/path/to/python3 picks another interpreter. Exits non-zero when a step fails; parity
# failures are reported and also fail the run, after the measurements.
set -eu
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
device=webgpu
quick=""
sizes_arg=""
seconds_arg=""
bundle="$root/scripts/gpu/.bundle/warm-serve-gpu.tar.xz"
work="${TMPDIR:-/tmp}/warm-serve-gpu"
while [ $# -gt 0 ]; do
  case "$1" in
    --device) device="$2"; shift 2 ;;
    --quick) quick=1; shift ;;
    --sizes) sizes_arg="$2"; shift 2 ;;
    --seconds) seconds_arg="$2"; shift 2 ;;
    --bundle) bundle="$2"; shift 2 ;;
    --work) work="$2"; shift 2 ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "run: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
case "$device" in webgpu|cpu|cuda) ;; *) echo "run: --device webgpu, cpu or cuda" >&2; exit 2 ;; esac
out_dir="${OUT:-$root/scripts/gpu/.results}"
python="${PYTHON:-python3}"
mkdir -p "$out_dir" "$work"
log() { echo "[gpu-run $(date +%H:%M:%S)] $*"; }
seconds=8; warmup=2; sizes="1 2 4 8 16 32 64"
[ -n "$quick" ] && { seconds=2; warmup=1; sizes="1 8 64"; }
[ -n "$sizes_arg" ] && sizes="$sizes_arg"
[ -n "$seconds_arg" ] && seconds="$seconds_arg"

# 1. the bundle
[ -f "$bundle" ] || { echo "run: no bundle at $bundle (sh scripts/gpu/pack.sh builds it)" >&2; exit 1; }
app="$work/warm-serve-gpu"
rm -rf "$app"
xz -dc "$bundle" | tar -C "$work" -xf -
mkdir -p "$app/vulkan"
if command -v dpkg-deb >/dev/null; then
  dpkg-deb -x "$app"/deb/libvulkan1_*.deb "$app/vulkan"
else  # a .deb is an ar archive; its data.tar.xz holds the files
  "$python" - "$app"/deb/libvulkan1_*.deb "$app/vulkan" <<'PY'
import io, sys, tarfile
data = open(sys.argv[1], "rb").read()
pos = 8
while pos < len(data):
    name, size = data[pos:pos + 16].decode().strip().rstrip("/"), int(data[pos + 48:pos + 58])
    if name.startswith("data.tar"):
        tarfile.open(fileobj=io.BytesIO(data[pos + 60:pos + 60 + size])).extractall(sys.argv[2])
    pos += 60 + size + (size & 1)
PY
fi
[ -f "$app/vulkan/usr/lib/x86_64-linux-gnu/libvulkan.so.1" ] || { echo "run: libvulkan.so.1 is not in the unpacked libvulkan1" >&2; exit 1; }
export PATH="$app/bin:$PATH"
export LD_LIBRARY_PATH="$app/vulkan/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
node="$app/bin/node"
cli="$app/dist/cli/main.js"
log "bundle: $(du -sh "$app" | cut -f1) unpacked in $work; node $("$node" -v); commit $(cat "$app/COMMIT" 2>/dev/null || echo unknown)"
# models/recipe/check_past.mjs (run by export.py) imports onnxruntime-node from the repository
[ -e node_modules ] || ln -s "$app/node_modules" node_modules
if [ "$device" = webgpu ] && [ -z "${VK_DRIVER_FILES:-}" ]; then
  for icd in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json; do
    [ -f "$icd" ] && { export VK_DRIVER_FILES="$icd"; break; }
  done
fi
log "vulkan: loader $(ls "$app"/deb/); driver ${VK_DRIVER_FILES:-found by the loader}"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | sed 's/^/[gpu-run] gpu: /'

# 2. the compute model
models="$work/models"
log "compute model (PyTorch export; float32 and float16)"
"$python" scripts/gpu/compute_model.py "$models" > "$work/compute_model.log" 2>&1 || { tail -30 "$work/compute_model.log" >&2; exit 1; }

# serve ARGS: a server in the background on a free port; sets $url once it is ready (exit 1 if
# it stops or is not ready within 5 minutes). serve_stop stops them all.
pids=""
serve() {
  port=$("$node" -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
  "$node" "$cli" serve --host 127.0.0.1 --port "$port" --log-level warn "$@" > "$work/serve-$port.log" 2>&1 &
  pid=$!
  pids="$pids $pid"
  url="http://127.0.0.1:$port"
  i=0
  until "$node" -e "fetch('$url/ready').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"; do
    i=$((i + 1))
    if [ $i -gt 600 ] || ! kill -0 "$pid" 2>/dev/null; then echo "run: server $* did not become ready; its log:" >&2; tail -20 "$work/serve-$port.log" >&2; exit 1; fi
    sleep 0.5
  done
}
serve_stop() { for p in $pids; do kill "$p" 2>/dev/null || true; done; for p in $pids; do wait "$p" 2>/dev/null || true; done; pids=""; }
trap serve_stop EXIT

# 3. parity with the CPU
parity_ok=1
check() {  # name, tolerance, members flag, serve args for the device..., --, serve args for cpu...
  name="$1"; tol="$2"; members="$3"; shift 3
  a=""; b=""; side=a
  for x in "$@"; do
    if [ "$x" = -- ]; then side=b; continue; fi
    if [ $side = a ]; then a="$a $x"; else b="$b $x"; fi
  done
  # shellcheck disable=SC2086 # one word per argument
  serve $a
  url_a=$url
  # shellcheck disable=SC2086
  serve $b
  url_b=$url
  # shellcheck disable=SC2086
  line=$("$node" scripts/gpu/parity.mjs "$url_a" "$url_b" --tolerance "$tol" $members) || parity_ok=0
  log "parity $name: $line"
  echo "{\"check\":\"$name\",\"result\":$line}" >> "$work/parity.jsonl"
  serve_stop
}
rm -f "$work/parity.jsonl"
check "reference --ensemble, $device vs cpu" 1e-4 --members --model models/reference --ensemble --device "$device" -- --model models/reference --ensemble --device cpu
check "compute float32, $device vs cpu" 1e-4 "" --model "$models/compute" --device "$device" -- --model "$models/compute" --device cpu
check "compute float16 on $device vs float32 on cpu" 3e-2 "" --model "$models/compute-fp16" --device "$device" -- --model "$models/compute" --device cpu

# 4. items/s at 64 clients
rm -f "$work/load.jsonl"
for graph in compute compute-fp16; do
  for b in $sizes; do
    serve --model "$models/$graph" --device "$device" --max-batch-size "$b" --max-batch-tokens $((b * 128)) --prefix-sharing off --reward-cache-items 0
    line=$("$node" scripts/gpu/load.mjs "$url" --clients 64 --seconds "$seconds" --warmup "$warmup" --lengths "$work/lengths.json")
    serve_stop
    log "warm-serve $graph --device $device --max-batch-size $b: $line"
    echo "{\"graph\":\"$graph\",\"batch_size\":$b,\"result\":$line}" >> "$work/load.jsonl"
  done
done

# 5. the PyTorch + transformers peer
peer_device=cuda
[ "$device" = cpu ] && peer_device=cpu
peer_args="--lengths $work/lengths.json --batch-sizes $(echo "$sizes" | tr ' ' ,) --seconds $seconds --device $peer_device"
# shellcheck disable=SC2086
if "$python" -c 'import transformers' 2>/dev/null; then
  "$python" scripts/gpu/torch_peer.py "$models/compute" $peer_args > "$work/peer.json" 2> "$work/peer.log" || { tail -20 "$work/peer.log" >&2; exit 1; }
else
  log "transformers is not installed: the peer runs models/recipe/modeling.py instead (not the comparison the script is for)"
  "$python" scripts/gpu/torch_peer.py "$models/compute" $peer_args --impl recipe > "$work/peer.json" 2> "$work/peer.log" || { tail -20 "$work/peer.log" >&2; exit 1; }
fi
log "peer: $(cat "$work/peer.json")"

# 6. the report
"$node" scripts/gpu/report.mjs "$work" "$device" "$out_dir"
log "wrote $out_dir/results.json and $out_dir/results.md"
[ "$parity_ok" = 1 ] || { echo "run: a parity check failed (see above)" >&2; exit 1; }
