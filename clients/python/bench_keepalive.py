"""What keep-alive saves a one-sample caller: sequential one-item /v1/score calls on one kept-alive
connection, against the same calls each on a new connection (close() before every call, as the
client did before it kept connections). Interleaved rounds; prints the medians.

    npm start &   # or any warm-serve
    python3 clients/python/bench_keepalive.py [URL] [--rounds 5] [--calls 300]
"""
import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from warm_client import WarmClient  # noqa: E402

ITEM = [{"prompt": "Human: Hi\n\nAssistant:", "completion": " Hello! How can I help?"}]


def ms_per_call(client, calls, reconnect):
    started = time.perf_counter()
    for _ in range(calls):
        if reconnect:
            client.close()
        client.score(ITEM)
    return (time.perf_counter() - started) / calls * 1000


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("url", nargs="?", default=os.environ.get("WARM_SERVE_URL", "http://127.0.0.1:8000"))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=300)
    args = parser.parse_args()
    with WarmClient(args.url) as client:
        ms_per_call(client, 30, False)  # warm-up
        rounds = [(ms_per_call(client, args.calls, True), ms_per_call(client, args.calls, False)) for _ in range(args.rounds)]
    fresh = statistics.median(r[0] for r in rounds)
    kept = statistics.median(r[1] for r in rounds)
    print("new connection per call: %.2f ms/call; kept alive: %.2f ms/call; ratio %.2f (median of %d interleaved rounds of %d calls)"
          % (fresh, kept, fresh / kept, args.rounds, args.calls))


if __name__ == "__main__":
    main()
