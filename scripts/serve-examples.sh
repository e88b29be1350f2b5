#!/usr/bin/env bash
# Start `warm-serve serve` (built dist/) on PORT (default 8000), run a set of curl examples against
# it and print each command with its real output. The sets are the sources of:
#   readme    (default) README.md's "Serve: use it" examples and its Errors examples
#   ensemble  README.md's "Ensembles" example (the server runs with --ensemble)
#   compat    examples/curl.md (the OpenRLHF, slime, TEI, vLLM, SGLang and OpenAI compatibility routes)
# Usage: npm run build && scripts/serve-examples.sh [readme|ensemble|compat] [> examples.md]
set -euo pipefail
cd "$(dirname "$0")/.."
PORT=${PORT:-8000}
SET=${1:-readme}
case "$SET" in
  readme | compat) flags=() ;;
  ensemble) flags=(--ensemble) ;;
  *) echo "usage: $0 [readme|ensemble|compat]" >&2; exit 2 ;;
esac
node dist/cli/main.js serve --host 127.0.0.1 --port "$PORT" --log-level warn ${flags[@]+"${flags[@]}"} &
pid=$!
trap 'kill -TERM $pid; wait $pid' EXIT
until curl -sf "localhost:$PORT/ready" >/dev/null 2>&1; do sleep 0.2; done

# The checkout's absolute path (in /v1/info) is printed as /path/to/warm-serve: docs name no machine's folders.
example() {
  echo '```console'
  echo "\$ $1"
  eval "$1" | sed -e "s#$PWD#/path/to/warm-serve#g" -e '$a\'
  echo '```'
  echo
}

post() { # post PATH JSON [curl options]: the command line, quoted as a reader would type it
  echo "curl -s ${3:+$3 }localhost:$PORT$1 -H 'content-type: application/json' -d '$2'"
}

# One question from the model's own domain (HH-RLHF helpful, rendered by its template), a helpful
# answer, a useless one and gibberish: JSON-escaped, as they appear in the commands.
Q='\n\nHuman: How can I sleep better?\n\nAssistant:'
GOOD=' Go to bed at the same time every night, and keep your bedroom dark, quiet and cool.'
BAD=' I do not know.'
JUNK=' zzz qqq'
CHAT='[{"role": "user", "content": "How can I sleep better?"}, {"role": "assistant", "content": "Go to bed at the same time every night, and keep your bedroom dark, quiet and cool."}]'

if [ "$SET" = readme ]; then
  example "$(post /v1/score '{"items": [{"prompt": "'"$Q"'", "completion": "'"$GOOD"'"}, {"messages": '"$CHAT"'}, {"text": "The cat sat on the mat."}]}')"
  example "$(post /v1/rank '{"prompt": "'"$Q"'", "completions": ["'"$BAD"'", "'"$JUNK"'", "'"$GOOD"'"], "top_k": 2, "normalize": "group"}')"
  example "curl -s localhost:$PORT/v1/info | jq 'del(.merge.inputs, .merge.distances)'"
  example "curl -s localhost:$PORT/health"
  example "curl -si localhost:$PORT/ready | sed -n '1p;\$p'"
  example "curl -s localhost:$PORT/metrics | grep -E '^warm_serve_(batch_size_(sum|count)|queue_items|requests_total)'"
  example "curl -s localhost:$PORT/openapi.json | jq '.paths | keys'"
  echo '### Errors'
  echo
  example "$(post /v1/score '{"items": [{"text": "a"}')"
  example "$(post /v1/score '{"items": [{"prompt": "Hi"}]}')"
  example "seq -s, 131073 | sed 's/.*/{\"items\": [{\"input_ids\": [&]}]}/' | curl -s localhost:$PORT/v1/score -H 'content-type: application/json' -d @-"
  example "curl -s localhost:$PORT/v1/scores -H 'x-request-id: my-trace-1'"
elif [ "$SET" = ensemble ]; then
  example "$(post /v1/score '{"items": [{"prompt": "'"$Q"'", "completion": "'"$GOOD"'"}, {"prompt": "'"$Q"'", "completion": "'"$BAD"'"}], "aggregate": "uwo", "return_members": true}') | jq ."
  example "curl -s localhost:$PORT/v1/info | jq .ensemble"
else
  example "$(post /get_reward '{"query": ["'"$Q$GOOD"'", "'"$Q$BAD"'"], "prompts": ["'"$Q"'", "'"$Q"'"], "labels": ["", ""]}')"
  example "$(post /get_reward '{"query": [], "prompts": [], "labels": []}')"
  example "$(post /predict '{"inputs": ["'"$Q"'", "'"$GOOD"'"], "raw_scores": true}')"
  example "$(post /predict '{"inputs": [["'"$Q$BAD"'"], ["'"$Q"'", "'"$GOOD"'"]]}')"
  example "$(post /rerank '{"query": "'"$Q"'", "texts": ["'"$BAD"'", "'"$JUNK"'", "'"$GOOD"'"], "return_text": true}')"
  example "$(post /classify '{"model": "warm-rm", "input": "'"$Q$GOOD"'", "use_activation": false}')"
  example "$(post /classify '{"model": "warm-rm", "input": ["'"$Q$GOOD"'", "'"$Q$BAD"'"]}')"
  example "$(post /v1/score '{"items": [{"text": "'"$Q$GOOD"'"}]}')"
  example "$(post /reward '{"prompt": "'"$Q"'", "response": "'"$GOOD"'", "label": null}')"
  example "$(post "'/reward?reward_key=score'" '{"prompt": "'"$Q"'", "response": "'"$GOOD"'", "label": null}')"
  example "$(post /v1/embeddings '{"model": "warm-rm", "input": "'"$Q$GOOD"'"}')"
  example "$(post /tokenize '{"prompt": "The cat sat on the mat."}')"
  example "$(post /v1/score '{"items": [{"input_ids": [1, 291, 280, 294, 262, 294, 353, 265, 284, 294, 426, 2]}]}')"
  example "$(post /classify '{"input_ids": [[1, 291, 280, 294, 262, 294, 353, 265, 284, 294, 426, 2]]}')"
  example "$(post /classify '{"input": [{"text": "a"}]}' "-w ' HTTP %{http_code}\n'")"
  example "$(post /rerank '{"query": "Hi", "texts": []}' "-w ' HTTP %{http_code}\n'")"
fi
