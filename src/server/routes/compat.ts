/** The compatibility routes: other servers' wire formats over the same scoring service. */
import type { ServerContext, ZodApp } from '../context.js';
import { embeddingsRoute } from './compat-embeddings.js';
import { openRlhfRoute } from './compat-openrlhf.js';
import { slimeRoute } from './compat-slime.js';
import { teiRoutes } from './compat-tei.js';
import { vllmRoute } from './compat-vllm.js';
import { tokenizeRoute } from './tokenize.js';

/**
 * Register POST /get_reward (OpenRLHF), /reward (slime), /predict and /rerank (TEI), /classify
 * (vLLM and SGLang / verl), /v1/embeddings (OpenAI / SGLang / verl) and /tokenize (vLLM).
 */
export function compatRoutes(app: ZodApp, ctx: ServerContext): void {
  openRlhfRoute(app, ctx);
  slimeRoute(app, ctx);
  teiRoutes(app, ctx);
  vllmRoute(app, ctx);
  embeddingsRoute(app, ctx);
  tokenizeRoute(app, ctx);
}
