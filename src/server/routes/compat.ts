/** The compatibility routes: other servers' wire formats over the same scoring service. */
import type { ServerContext, ZodApp } from '../context.js';
import { openRlhfRoute } from './compat-openrlhf.js';
import { teiRoutes } from './compat-tei.js';
import { vllmRoute } from './compat-vllm.js';

/** Register POST /get_reward (OpenRLHF), /predict and /rerank (TEI), /classify (vLLM / verl). */
export function compatRoutes(app: ZodApp, ctx: ServerContext): void {
  openRlhfRoute(app, ctx);
  teiRoutes(app, ctx);
  vllmRoute(app, ctx);
}
