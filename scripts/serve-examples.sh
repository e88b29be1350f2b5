#!/usr/bin/env bash
# Start `warm-serve serve` (built dist/) on PORT (default 8000), run the README's curl examples
# against it and print each command with its real output: the source of README.md's "Serve" examples.
# Usage: npm run build && scripts/serve-examples.sh [> examples.md]
set -euo pipefail
cd "$(dirname "$0")/.."
PORT=${PORT:-8000}
node dist/cli/main.js serve --host 127.0.0.1 --port "$PORT" --log-level warn &
pid=$!
trap 'kill -TERM $pid; wait $pid' EXIT
until curl -sf "localhost:$PORT/ready" >/dev/null 2>&1; do sleep 0.2; done

example() {
  echo '```console'
  echo "\$ $1"
  eval "$1" | sed -e '$a\'
  echo '```'
  echo
}

example "curl -s localhost:$PORT/v1/score -H 'content-type: application/json' -d '{\"items\": [{\"prompt\": \"Once upon a time\", \"completion\": \" there was a little girl named Lily.\"}, {\"messages\": [{\"role\": \"user\", \"content\": \"Tell me a story.\"}, {\"role\": \"assistant\", \"content\": \"Lily went to the park.\"}]}, {\"text\": \"The cat sat on the mat.\"}]}'"
example "curl -s localhost:$PORT/v1/rank -H 'content-type: application/json' -d '{\"prompt\": \"Once upon a time\", \"completions\": [\" there was a dog.\", \" zzz qqq\", \" Lily found a ball in the park.\"], \"top_k\": 2}'"
example "curl -s localhost:$PORT/v1/info | jq ."
example "curl -s localhost:$PORT/health"
example "curl -si localhost:$PORT/ready | sed -n '1p;\$p'"
example "curl -s localhost:$PORT/metrics | grep -E '^warm_serve_(batch_size_(sum|count)|queue_items|requests_total)'"
example "curl -s localhost:$PORT/openapi.json | jq '.paths | keys'"
echo '### Errors'
echo
example "curl -s localhost:$PORT/v1/score -H 'content-type: application/json' -d '{\"items\": [{\"text\": \"a\"}'"
example "curl -s localhost:$PORT/v1/score -H 'content-type: application/json' -d '{\"items\": [{\"prompt\": \"Hi\"}]}'"
example "curl -s localhost:$PORT/v1/score -H 'content-type: application/json' -d '{\"items\": [{\"text\": \"'\$(printf 'a%.0s' {1..40000})'\"}]}'"
example "curl -s localhost:$PORT/v1/scores -H 'x-request-id: my-trace-1'"
