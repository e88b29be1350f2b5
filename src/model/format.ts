/**
 * Input formatting: a ScoreInput becomes the exact text the reward model reads. Prompt and
 * completion go through the manifest template, chats through the tokenizer's own chat template
 * (as transformers' apply_chat_template renders it), raw text is used as is.
 */
import { Template } from '@huggingface/jinja';
import { errors } from '../errors.js';
import type { ScoreInput } from '../scoring/types.js';
import type { ModelDirectory } from './directory.js';

/** Turns request items into model text for one model directory. */
export class InputFormatter {
  private readonly chat?: Template;

  constructor(private readonly dir: ModelDirectory) {
    if (dir.chatTemplate !== undefined) {
      try {
        this.chat = new Template(dir.chatTemplate);
      } catch (err) {
        throw errors.model(dir.tokenizerConfigFile, `chat_template does not parse: ${(err as Error).message}`);
      }
    }
  }

  /** Whether `messages` items are accepted. */
  get supportsChat(): boolean {
    return this.chat !== undefined;
  }

  /** Model text for item `index` of a request; 422 naming the field when it cannot be formatted. */
  format(input: ScoreInput, index: number): string {
    const field = `items[${index}]`;
    if ('text' in input && typeof input.text === 'string') return input.text;
    if ('messages' in input && Array.isArray(input.messages)) return this.renderChat(input.messages, `${field}.messages`);
    if ('prompt' in input && typeof input.prompt === 'string' && typeof input.completion === 'string') {
      // One pass, so a prompt that contains "{completion}" is not substituted again.
      return this.dir.template.replace(/\{prompt\}|\{completion\}/g, (slot) =>
        slot === '{prompt}' ? input.prompt : input.completion,
      );
    }
    throw errors.validation(field, 'expected {prompt, completion}, {messages} or {text}');
  }

  private renderChat(messages: { role: string; content: string }[], field: string): string {
    if (!this.chat) {
      throw errors.validation(field, `model '${this.dir.name}' has no chat_template in tokenizer_config.json; send {prompt, completion} or {text} instead`);
    }
    try {
      return this.chat.render({
        messages,
        add_generation_prompt: false,
        bos_token: this.dir.bosToken ?? '',
        eos_token: this.dir.eosToken ?? '',
        pad_token: this.dir.padToken ?? '',
      });
    } catch (err) {
      throw errors.validation(field, `chat template rejected the messages: ${(err as Error).message}`);
    }
  }
}
