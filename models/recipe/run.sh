#!/usr/bin/env bash
# The whole reference-model recipe, one command, from the repository root or anywhere:
#   convert -> splits -> train (LP + 6 members) -> evaluate (targets) -> publish members (ONNX)
#   -> warm-serve merge -> export the safetensors merge for the ONNX-vs-safetensors merge test.
# Needs: /usr/bin/python3 with PyTorch (Debian: python3-torch libopenblas0-pthread), Node 20,
# npm dependencies installed, and the data in ../shared/data (see models/recipe/README.md).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
PY=/usr/bin/python3
MEMBERS="$ROOT/models/reference/members"
cd "$HERE"
start=$(date +%s)

"$PY" convert.py --out .work/backbone --max-length 128
"$PY" data.py
rm -rf .work/members
"$PY" train.py --out .work/members --max-length 128
"$PY" evaluate.py .work/members --max-length 128 --json .work/eval.json
"$PY" publish.py .work/members --backbone .work/backbone --max-length 128

cd "$ROOT"
npm run build --silent
node dist/cli/main.js merge --force --out models/reference "$MEMBERS"/member-{0,1,2,3,4,5}
"$PY" models/recipe/export.py models/reference --out test/fixtures/recipe/safetensors-merge.onnx
npx tap test/recipe-tokenizer.test.ts test/recipe-onnx-parity.test.ts
echo "[run.sh] done in $(( ($(date +%s) - start) / 60 )) min"
