/**
 * Client connections while the server drains: every request that reaches the server gets an HTTP
 * answer (200 for work it finishes, else 503 draining with Retry-After), and no connection holds
 * the exit up. Only connections attempted after the listener has closed are refused.
 *
 * Two races lose requests when a server closes under clients in a closed loop (each sends its
 * next request as soon as it has an answer):
 * - closing a kept-alive connection while its client sends the next request on it: the request
 *   meets the FIN or RST (undici: "other side closed", ECONNRESET). Node's server.close() closes
 *   every idle connection at once, and did so as soon as the work was done.
 * - closing the listener while clients connect: a connection the kernel has completed but the
 *   server has not yet accepted is reset, request and all. Every answer sent while draining
 *   carries `Connection: close`, so each one sends its client to connect again at once.
 * With 16 such clients, SIGTERM cost 8 to 18 resets a run (test/serial/drain-direct-clients.test.ts).
 *
 * So, once the work is done (closeListener):
 * 1. answers are held until none has gone out for `drain_linger_ms`: by then a client in a
 *    closed loop is waiting for its answer on an open connection, not connecting;
 * 2. the listener closes (new connections are refused) and the held answers go out, each
 *    closing its connection;
 * 3. connections still open get up to `drain_linger_ms` of quiet (no request, no answer) before
 *    app.close() closes them: a connection accepted at the last moment delivers its request.
 * Until then the listener stays open and every request is answered at once: newcomers get 503
 * draining rather than a refused connection, and a load balancer's probes see /ready 503.
 *
 * Two kinds of connection would otherwise keep a draining server waiting until the client hung
 * up (with undici, about 70 s; past drain_timeout_ms, so exit 1):
 * - a connection the client opened but never sent a byte on. Node counts it as busy (its
 *   headers timeout starts at connect), and server.close() stops the timer that would have
 *   ended it. HTTP clients keep such spare connections: undici does after a fetch aborted while
 *   its connection was being set up, which is how aborting clients triggered it. preClose
 *   destroys them.
 * - a keep-alive connection whose request is answered after close() began: its answer carries
 *   `Connection: close`.
 */
import { Server as NetServer, type Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { ServerState } from './lifecycle.js';

/** An app's open connections (each with when it was last active), and the answers held while its listener closes. */
interface Connections {
  open: Map<Socket, number>;
  /** When the last answer went out. */
  lastAnswer: number;
  /** Set while answers are held: resolves when they may go. */
  hold?: Promise<void>;
  held: number;
  accepted: number;
  /** Never-used connections destroyed when the app closed. */
  unused: number;
}

const tracked = new WeakMap<FastifyInstance['server'], Connections>();

/** Track connections; answers sent while draining close their connection (and wait while closeListener holds them). */
export function installConnectionDraining(app: FastifyInstance, state: ServerState): void {
  const connections: Connections = { open: new Map(), lastAnswer: -Infinity, held: 0, accepted: 0, unused: 0 };
  const { open } = connections;
  tracked.set(app.server, connections);
  app.server.on('connection', (socket: Socket) => {
    connections.accepted++;
    open.set(socket, performance.now());
    socket.once('close', () => open.delete(socket));
  });
  const touch = (socket: Socket) => open.has(socket) && open.set(socket, performance.now());

  app.addHook('onRequest', async (request) => {
    touch(request.raw.socket);
  });

  app.addHook('onSend', async (_request, reply) => {
    if (state.phase !== 'draining') return;
    reply.header('connection', 'close');
    if (connections.hold) {
      connections.held++;
      await connections.hold;
    }
  });

  app.addHook('onResponse', async (request) => {
    connections.lastAnswer = performance.now();
    touch(request.raw.socket);
  });

  // closeListener has given these their time; a connection its client never used would hold the close up.
  app.addHook('preClose', async () => {
    for (const socket of open.keys()) {
      if (socket.bytesRead === 0) {
        connections.unused++;
        socket.destroy();
      }
    }
  });
}

/** What closeListener did, for the 'drained' log line. */
export interface ListenerCloseReport {
  /** Answers held until the listener had closed. */
  held: number;
  /** Connections accepted while answers were held. */
  accepted: number;
  /** Connections open when the listener closed, and when the linger ended (app.close() closes or waits for these). */
  open: number;
  left: number;
  held_ms: number;
  lingered_ms: number;
}

/**
 * Once the work is done: hold answers until none has gone out for `lingerMs`, close the listener,
 * let the held answers go, then wait until every open connection has been quiet for `lingerMs`
 * (see the top of this file). Both waits end by `deadline` (a performance.now() time).
 */
export async function closeListener(app: FastifyInstance, lingerMs: number, deadline: number): Promise<ListenerCloseReport> {
  const connections = tracked.get(app.server) ?? { open: new Map<Socket, number>(), lastAnswer: -Infinity, held: 0, accepted: 0, unused: 0 };
  const { open } = connections;
  const until = async (due: () => number) => {
    // Short steps: connections that close meanwhile bring the end forward.
    for (let wait; (wait = Math.min(due(), deadline) - performance.now()) > 0; ) await new Promise((resolve) => setTimeout(resolve, Math.min(wait, 10)));
  };
  const started = performance.now();
  const before = { held: connections.held, accepted: connections.accepted };
  let release = () => {};
  connections.hold = new Promise<void>((resolve) => (release = resolve));
  await until(() => connections.lastAnswer + lingerMs);
  // net.Server's close: stop listening without http.Server's closeIdleConnections(); app.close()
  // closes the http.Server (and what is left idle) next.
  if (app.server.listening) NetServer.prototype.close.call(app.server);
  const closed = performance.now();
  const report = { held: connections.held - before.held, accepted: connections.accepted - before.accepted, open: open.size };
  connections.hold = undefined;
  release();
  // Each answer sends its client to its next request, possibly on another open connection.
  await until(() => (open.size === 0 ? -Infinity : Math.max(connections.lastAnswer, ...open.values()) + lingerMs));
  return { ...report, left: open.size, held_ms: Math.round(closed - started), lingered_ms: Math.round(performance.now() - closed) };
}

/** Never-used connections destroyed when the app closed. */
export function unusedClosed(app: FastifyInstance): number {
  return tracked.get(app.server)?.unused ?? 0;
}
