"""Tests of warm_client.py against running warm-serve servers (started by test/client-python.test.ts).

Environment: WARM_SERVE_URL (a ready server), WARM_SERVE_LOADING_URL (a server that starts
loading its model on its first refusal, so a retry finds it ready), WARM_SERVE_STARTING_URL
(a server that never becomes ready). Run: python3 clients/python/test_warm_client.py
"""

import importlib.util
import json
import os
import socket
import sys
import threading
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import warm_client  # noqa: E402
from warm_client import WarmClient, WarmServeError, make_reward_func  # noqa: E402

URL = os.environ["WARM_SERVE_URL"]


def raw_score(items):
    """/v1/score through plain urllib, to compare the client with."""
    request = urllib.request.Request(
        URL + "/v1/score", data=json.dumps({"items": items}).encode(), headers={"content-type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())["rewards"]


class ScoreAndRank(unittest.TestCase):
    def setUp(self):
        self.client = WarmClient(URL)
        self.addCleanup(self.client.close)

    def test_score_matches_the_http_api(self):
        items = [{"prompt": "Once upon a time", "completion": " there was a cat."}, {"text": "The cat sat."}]
        answer = self.client.score(items)
        self.assertEqual(answer["rewards"], raw_score(items))
        self.assertEqual(answer["truncated"], [False, False])
        self.assertEqual(self.client.rewards(items), answer["rewards"])

    def test_rank_orders_best_first(self):
        completions = [" there was a dog.", " zzz qqq", " Lily found a ball."]
        answer = self.client.rank("Once upon a time", completions, top_k=2)
        self.assertEqual(len(answer["ranking"]), 2)
        self.assertEqual(answer["best_index"], answer["ranking"][0]["index"])
        self.assertEqual(answer["best_index"], max(range(3), key=lambda i: answer["rewards"][i]))

    def test_info(self):
        info = self.client.info()
        self.assertIn("model", info)
        self.assertGreater(info["max_length"], 0)

    def test_client_error_is_raised_at_once(self):
        with self.assertRaises(WarmServeError) as caught:
            self.client.score([{"prompt": "no completion"}])
        err = caught.exception
        self.assertEqual((err.kind, err.status, err.error_type, err.attempts), ("http", 422, "validation_error", 1))
        self.assertIn("items[0].completion: is required", str(err))


class TrlRewardFunc(unittest.TestCase):
    """The shapes GRPOTrainer passes: prompts and completions as strings or as lists of messages."""

    def test_plain_text(self):
        reward = make_reward_func(URL, batch_size=2)
        self.assertEqual(reward.__name__, "warm_reward")
        prompts = ["Once upon a time"] * 3
        completions = [" there was a cat.", " zzz", " Lily ran home."]
        # GRPOTrainer also passes completion_ids, trainer_state and dataset columns as kwargs.
        rewards = reward(prompts=prompts, completions=completions, completion_ids=[[1], [2], [3]], trainer_state=None)
        expected = raw_score([{"prompt": p, "completion": c} for p, c in zip(prompts, completions)])
        self.assertEqual(rewards, expected)
        self.assertTrue(all(isinstance(r, float) for r in rewards))

    def test_conversational(self):
        reward = make_reward_func(URL)
        prompts = [[{"role": "user", "content": "Tell me a story."}]] * 2
        completions = [[{"role": "assistant", "content": "Lily went to the park."}], [{"role": "assistant", "content": "No."}]]
        rewards = reward(prompts, completions)
        expected = raw_score([{"messages": p + c} for p, c in zip(prompts, completions)])
        self.assertEqual(rewards, expected)

    def test_module_reward_func_uses_the_env_url(self):
        self.assertEqual(warm_client.reward_func(["Hi"], [" there"]), raw_score([{"prompt": "Hi", "completion": " there"}]))


class VerlExample(unittest.TestCase):
    """examples/verl/warm_reward.py sends verl's /classify (vLLM) or /v1/embeddings (SGLang) request and returns the raw reward."""

    def test_compute_score_is_the_reward_of_prompt_plus_response(self):
        path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples", "verl", "warm_reward.py")
        spec = importlib.util.spec_from_file_location("warm_reward", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        score = module.compute_score("gsm8k", " there was a cat.", "42", extra_info={"question": "Once upon a time"}, url=URL)
        self.assertAlmostEqual(score, raw_score([{"text": "Once upon a time there was a cat."}])[0], places=5)
        # verl's SGLang engine request: /v1/embeddings, read data[-1]["embedding"][-1].
        sglang = module.compute_score("gsm8k", " there was a cat.", "42", extra_info={"question": "Once upon a time"}, url=URL, engine="sglang")
        self.assertAlmostEqual(sglang, score, places=5)


class Retries(unittest.TestCase):
    def test_503_is_retried_after_retry_after(self):
        # The server starts loading its model at the first refusal; loading took 6-14 s on a busy
        # 2-core machine (and over 10 s in CI), so the budget is the client's default 60 s.
        with WarmClient(os.environ["WARM_SERVE_LOADING_URL"], retry_budget=60) as client:
            started = time.monotonic()
            self.assertEqual(len(client.rewards([{"text": "hello"}])), 1)
        self.assertGreaterEqual(time.monotonic() - started, 1.0, "waited Retry-After: 1")

    def test_gives_up_beyond_the_retry_budget(self):
        starting = os.environ["WARM_SERVE_STARTING_URL"]
        with self.assertRaises(WarmServeError) as caught:
            with WarmClient(starting, retry_budget=0.5) as client:
                client.score([{"text": "a"}])
        self.assertEqual((caught.exception.status, caught.exception.error_type, caught.exception.attempts), (503, "not_ready", 1))
        with self.assertRaises(WarmServeError) as caught:
            with WarmClient(starting, retry_budget=1.5) as client:
                client.info()
        self.assertEqual(caught.exception.attempts, 2, "one retry fits 1.5 s, a second does not")
        self.assertIn("(after 2 attempts)", str(caught.exception))


class Connections(unittest.TestCase):
    def test_calls_share_one_kept_alive_connection_per_thread(self):
        with WarmClient(URL) as client:
            client.info()
            first = client._local.connection.sock
            client.rewards([{"text": "a"}])
            client.info()
            self.assertIs(client._local.connection.sock, first, "the same socket for three calls")
        self.assertIsNone(client._local.connection, "closed on leaving the with block")

    def test_threads_each_get_their_own_connection(self):
        client = WarmClient(URL)
        items = [{"text": "thread %d" % i} for i in range(8)]
        expected = raw_score(items)
        results, sockets = {}, {}

        def work(i):
            results[i] = [client.rewards([items[i]])[0] for _ in range(10)]
            sockets[i] = client._local.connection.sock
            client.close()

        threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.assertEqual(results, {i: [expected[i]] * 10 for i in range(8)})
        self.assertEqual(len({id(sock) for sock in sockets.values()}), 8)

    def test_a_connection_the_server_closed_is_replaced_at_once(self):
        # A server that answers one request per connection and then closes it without saying so
        # (as an idle timeout does): every call after the first finds its kept-alive connection dead.
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        accepted = []

        def serve():
            while True:
                try:
                    conn, _ = listener.accept()
                except OSError:
                    return
                accepted.append(conn)
                request = b""
                while b"\r\n\r\n" not in request:
                    request += conn.recv(65536)
                body = b'{"model": "m", "max_length": 1}'
                conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body))
                time.sleep(0.05)
                conn.close()

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        try:
            client = WarmClient("http://127.0.0.1:%d" % listener.getsockname()[1], retry_budget=0)
            started = time.monotonic()
            for _ in range(3):
                time.sleep(0.1)  # the server has closed the previous connection by now
                self.assertEqual(client.info()["model"], "m")
            self.assertEqual(len(accepted), 3, "one new connection per call")
            self.assertLess(time.monotonic() - started, 2, "no backoff wait: retry_budget is 0")
            client.close()
        finally:
            listener.close()


class Timeouts(unittest.TestCase):
    def test_no_answer_times_out(self):
        silent = socket.socket()
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)  # accepts connections, never answers
        port = silent.getsockname()[1]
        try:
            started = time.monotonic()
            with self.assertRaises(WarmServeError) as caught:
                WarmClient("http://127.0.0.1:%d" % port, timeout=0.3).score([{"text": "a"}])
            self.assertEqual(caught.exception.kind, "timeout")
            self.assertLess(time.monotonic() - started, 5)
        finally:
            silent.close()

    def test_closed_port_is_a_network_error(self):
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        probe.close()
        # retried within the budget: waits of 0.1, 0.2 and 0.4 s fit 1 s, 0.8 s more does not
        started = time.monotonic()
        with self.assertRaises(WarmServeError) as caught:
            WarmClient("http://127.0.0.1:%d" % port, retry_budget=1.0, backoff=0.1).info()
        self.assertEqual((caught.exception.kind, caught.exception.status), ("network", 0))
        self.assertEqual(caught.exception.attempts, 4)
        self.assertIn("(after 4 attempts)", str(caught.exception))
        self.assertGreaterEqual(time.monotonic() - started, 0.7)
        with self.assertRaises(WarmServeError) as caught:
            WarmClient("http://127.0.0.1:%d" % port, retry_budget=0).info()
        self.assertEqual(caught.exception.attempts, 1)


if __name__ == "__main__":
    unittest.main(verbosity=2)
