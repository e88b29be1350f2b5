/**
 * Let no client connection hold the server open once it closes. Node's server.close() closes
 * only connections that sit idle between two requests and waits for every other one to end, so
 * two kinds of connection kept a draining server waiting until the client hung up (with undici,
 * about 70 s; past drain_timeout_ms, so exit 1):
 *
 * - a connection the client opened but never sent a byte on. Node counts it as busy (its
 *   headers timeout starts at connect), and server.close() stops the timer that would have
 *   ended it. HTTP clients keep such spare connections: undici does after a fetch aborted while
 *   its connection was being set up, which is how aborting clients triggered it.
 * - a keep-alive connection whose request is answered after close() began.
 */
import type { Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { ServerState } from './lifecycle.js';

/** Answers sent while draining close their connection; connections never used are closed with the server. */
export function installConnectionDraining(app: FastifyInstance, state: ServerState): void {
  const open = new Set<Socket>();
  app.server.on('connection', (socket: Socket) => {
    open.add(socket);
    socket.once('close', () => open.delete(socket));
  });

  app.addHook('onSend', async (_request, reply) => {
    if (state.phase === 'draining') reply.header('connection', 'close');
  });

  // preClose runs just before the listening socket closes, with no I/O in between: no new
  // connection can arrive after this sweep. A request already on its way in the kernel is
  // lost with its connection, as with any HTTP/1.1 server closing an idle connection.
  app.addHook('preClose', async () => {
    for (const socket of open) if (socket.bytesRead === 0) socket.destroy();
  });
}
