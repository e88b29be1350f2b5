/**
 * Input formatting: a ScoreInput becomes the exact text the reward model reads. Prompt and
 * completion go through the manifest template, chats through the tokenizer's own chat template
 * (as transformers' apply_chat_template renders it), raw text is used as is, and token ids pass
 * through untouched (the tokenizer checks and fits them).
 *
 * Chat templates render in a worker thread (chat-template-worker.ts) under a time and memory
 * budget: rendering is synchronous, and 17 items × 8,192 messages blocked the event loop 3.4 s
 * with the shipped template, while a template looping over `range(3000000)` blocked it 19.6 s.
 */
import { Template } from '@huggingface/jinja';
import { Piscina } from 'piscina';
import { errors } from '../errors.js';
import type { ScoreInput } from '../scoring/types.js';
import type { ChatMessage, RenderResult, TemplateData } from './chat-template-worker.js';
import type { ModelDirectory } from './directory.js';
import type { ModelInput } from './tokenizer.js';

const WORKER_URL = new URL(import.meta.url.endsWith('.ts') ? './chat-template-worker.ts' : './chat-template-worker.js', import.meta.url);

/** The rendering budget of one request's conversations. */
export interface TemplateBudget {
  /**
   * Most time (queue wait included) to render one request's conversations. Default: no limit,
   * as offline scoring wants; the server sets template_timeout_ms.
   */
  timeoutMs?: number;
  /** Heap of each rendering thread: a template that builds huge strings fails instead of growing the server. */
  heapMb?: number;
}

const DEFAULT_BUDGET: Required<TemplateBudget> = { timeoutMs: Infinity, heapMb: 256 };

/** Turns request items into model text for one model directory. */
export class InputFormatter {
  /** What the rendering threads need; undefined when the model has no chat template. */
  private readonly workerData?: TemplateData;
  /** Started on first use (warm-up or the first chat), so a service that never sees a chat starts no thread. */
  private pool?: Piscina<string | null, RenderResult | null>;
  /** Resolves once the first rendering thread has started: a request's budget does not pay for it. */
  private started?: Promise<unknown>;
  private readonly budget: Required<TemplateBudget>;

  constructor(
    private readonly dir: ModelDirectory,
    budget: TemplateBudget = DEFAULT_BUDGET,
  ) {
    this.budget = { ...DEFAULT_BUDGET, ...budget };
    if (dir.chatTemplate === undefined) return;
    try {
      new Template(dir.chatTemplate); // parse errors surface at load, not on the first chat request
    } catch (err) {
      throw errors.model(dir.tokenizerConfigFile, `chat_template does not parse: ${(err as Error).message}`);
    }
    this.workerData = {
      template: dir.chatTemplate,
      bos_token: dir.bosToken ?? '',
      eos_token: dir.eosToken ?? '',
      pad_token: dir.padToken ?? '',
    };
  }

  /** Whether `messages` items are accepted. */
  get supportsChat(): boolean {
    return this.workerData !== undefined;
  }

  /** Model text (or token ids) for every item of a request, in order; 422 naming the item when one cannot be formatted. */
  async formatAll(items: ScoreInput[], firstIndex = 0): Promise<ModelInput[]> {
    const texts: ModelInput[] = new Array(items.length);
    const chats: number[] = [];
    items.forEach((item, i) => {
      if ('messages' in item && Array.isArray(item.messages)) chats.push(i);
      else texts[i] = this.formatPlain(item, firstIndex + i);
    });
    if (chats.length > 0) {
      const rendered = await this.render(chats.map((i) => (items[i] as { messages: ChatMessage[] }).messages), chats.map((i) => firstIndex + i));
      chats.forEach((i, k) => (texts[i] = rendered[k]));
    }
    return texts;
  }

  /** Model text (or token ids) for item `index` of a request. */
  async format(input: ScoreInput, index: number): Promise<ModelInput> {
    return (await this.formatAll([input], index))[0];
  }

  /**
   * Render the template once, as a model loads: a template that cannot render a two-message chat
   * within the budget fails the load instead of every chat request.
   */
  async warmup(): Promise<void> {
    if (!this.workerData) return;
    const conversation = [{ role: 'user', content: 'warm-up' }, { role: 'assistant', content: 'warm-up' }];
    try {
      await this.render([conversation], [0]);
    } catch (err) {
      throw errors.model(this.dir.tokenizerConfigFile, `chat_template failed on a two-message chat at start-up: ${(err as Error).message}`);
    }
  }

  /** Stop the rendering threads. */
  async close(): Promise<void> {
    await this.pool?.close({ force: true });
  }

  private formatPlain(input: ScoreInput, index: number): ModelInput {
    if ('text' in input && typeof input.text === 'string') return input.text;
    if ('input_ids' in input && Array.isArray(input.input_ids)) return input.input_ids;
    if ('prompt' in input && typeof input.prompt === 'string' && typeof input.completion === 'string') {
      // One pass, so a prompt that contains "{completion}" is not substituted again.
      return this.dir.template.replace(/\{prompt\}|\{completion\}/g, (slot) =>
        slot === '{prompt}' ? input.prompt : input.completion,
      );
    }
    throw errors.validation(['items', index], 'expected {prompt, completion}, {messages}, {text} or {input_ids}');
  }

  /** Render conversations (request indices `indices`) in the pool, within the budget. */
  private async render(conversations: ChatMessage[][], indices: number[]): Promise<string[]> {
    if (!this.workerData) {
      throw errors.validation(['items', indices[0], 'messages'], `model '${this.dir.name}' has no chat_template in tokenizer_config.json; send {prompt, completion} or {text} instead`);
    }
    this.pool ??= new Piscina({
      filename: WORKER_URL.href,
      workerData: this.workerData,
      minThreads: 1,
      maxThreads: 2,
      idleTimeout: 60_000,
      resourceLimits: { maxOldGenerationSizeMb: this.budget.heapMb },
    });
    this.started ??= this.pool.run(null, { name: 'ping' });
    await this.started;
    const { timeoutMs, heapMb } = this.budget;
    const where = indices.length === 1 ? ['items', indices[0], 'messages'] : 'items';
    let result: RenderResult;
    try {
      const signal = Number.isFinite(timeoutMs) ? AbortSignal.timeout(timeoutMs) : undefined;
      result = (await this.pool.run(JSON.stringify(conversations), { signal }))!;
    } catch (err) {
      // The pool ends the thread of an aborted or failed task and starts another for the next one.
      if ((err as Error).name === 'AbortError') {
        throw errors.validation(where, `the chat template did not render ${conversations.length} conversation(s) within ${timeoutMs} ms; send fewer or shorter messages (template_timeout_ms)`);
      }
      if ((err as { code?: string }).code === 'ERR_WORKER_OUT_OF_MEMORY') {
        throw errors.validation(where, `the chat template needed more than ${heapMb} MB to render ${conversations.length} conversation(s); send fewer or shorter messages`);
      }
      throw err;
    }
    if ('failed' in result) {
      throw errors.validation(['items', indices[result.failed], 'messages'], `chat template rejected the messages: ${result.error}`);
    }
    return result.texts;
  }
}
