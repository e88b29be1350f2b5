/**
 * The worker-thread side of chat-template rendering (format.ts): @huggingface/jinja renders
 * synchronously, and a long conversation or a slow template would otherwise block the server's
 * event loop. Run by a piscina pool; the main thread bounds each task's time and memory.
 */
import { Template } from '@huggingface/jinja';
import { workerData } from 'node:worker_threads';

/** One chat message, as the request schema admits it. */
export interface ChatMessage {
  role: string;
  content: string;
}

/** What every render of one model's template shares (the pool's workerData). */
export interface TemplateData {
  template: string;
  bos_token: string;
  eos_token: string;
  pad_token: string;
}

/** The answer to one task: every conversation rendered, or the first that the template rejected. */
export type RenderResult = { texts: string[] } | { failed: number; error: string };

const { template, ...tokens } = workerData as TemplateData;
const compiled = new Template(template);

/** Answers once the thread has loaded this module (and parsed the template). */
export function ping(): null {
  return null;
}

/**
 * Render each conversation as transformers' apply_chat_template does (no generation prompt).
 * The conversations come as one JSON text: posting a string costs the server's event loop a
 * copy, while posting 17,000 message objects cost it 20 ms of structured cloning.
 */
export default function render(json: string): RenderResult {
  const conversations = JSON.parse(json) as ChatMessage[][];
  const texts: string[] = [];
  for (let i = 0; i < conversations.length; i++) {
    try {
      texts.push(compiled.render({ messages: conversations[i], add_generation_prompt: false, ...tokens }));
    } catch (err) {
      return { failed: i, error: (err as Error).message };
    }
  }
  return { texts };
}
