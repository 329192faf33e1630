import { z } from 'zod';
import { AppError } from '../common/errors/app-error.js';
import { ErrorCode } from '../common/errors/error-code.js';
import { wellFormedText } from '../common/http/validate-body.js';

/** Most messages one chat request may hold (each one is rendered by the template before the prompt's tokens are counted). */
export const MAX_CHAT_MESSAGES = 2048;

const textPart = z.strictObject({ type: z.literal('text'), text: wellFormedText });
const content = z.union([wellFormedText, z.array(textPart).min(1)], {
  error: "content must be a string or a non-empty list of {type: 'text', text} parts",
});
const name = wellFormedText.max(256).optional();

/** One message of OpenAI's chat format, text only: roles system, user, assistant and tool. */
export const chatMessageSchema = z.discriminatedUnion(
  'role',
  [
    z.strictObject({ role: z.literal('system'), content, name }),
    z.strictObject({ role: z.literal('user'), content, name }),
    z.strictObject({ role: z.literal('assistant'), content: content.nullable().optional(), name, refusal: z.null().optional() }),
    z.strictObject({ role: z.literal('tool'), content, tool_call_id: wellFormedText.max(256) }),
  ],
  { error: 'role must be one of system, user, assistant, tool' },
);

export const chatMessagesSchema = z
  .array(chatMessageSchema)
  .min(1, 'messages must hold at least one message')
  .max(MAX_CHAT_MESSAGES, `messages may hold at most ${MAX_CHAT_MESSAGES} messages`);

export type ChatMessage = z.infer<typeof chatMessageSchema>;

/** A message as the template sees it: content is always a string (text parts joined with "\n", as vLLM does). */
export interface TemplateMessage {
  role: string;
  content: string;
  name?: string;
  tool_call_id?: string;
}

/**
 * The part of a Transformers.js tokenizer that renders chats: its `apply_chat_template` compiles
 * tokenizer_config.json's `chat_template` with @huggingface/jinja and renders it with the messages,
 * `add_generation_prompt` and the special tokens (bos_token, eos_token, ...) of the config.
 */
export interface ChatTemplateTokenizer {
  chat_template: unknown;
  apply_chat_template(conversation: TemplateMessage[], options: { tokenize: false; add_generation_prompt: boolean }): unknown;
}

/** The message the template sees: text parts joined with "\n", a missing assistant content as "". */
export function toTemplateMessage(message: ChatMessage): TemplateMessage {
  const text =
    message.content == null ? '' : typeof message.content === 'string' ? message.content : message.content.map((p) => p.text).join('\n');
  const out: TemplateMessage = { role: message.role, content: text };
  if ('name' in message && message.name !== undefined) out.name = message.name;
  if (message.role === 'tool') out.tool_call_id = message.tool_call_id;
  return out;
}

/**
 * The prompt text of a chat, exactly as Transformers.js's apply_chat_template renders it with
 * `add_generation_prompt: true` and no tools. The template already holds the special tokens it
 * wants (a BOS, say), so the prompt is tokenized without adding special tokens (Hugging Face and
 * vLLM do the same). A model without a chat template, or a template that refuses the conversation
 * (`raise_exception`, e.g. roles that do not alternate), is a 400 VALIDATION_FAILED.
 */
export function renderChatPrompt(tokenizer: ChatTemplateTokenizer, messages: readonly ChatMessage[]): string {
  if (messages.length === 0) {
    throw new AppError(ErrorCode.ValidationFailed, 'messages must hold at least one message', [
      { field: 'messages', problems: ['messages must hold at least one message'] },
    ]);
  }
  if (tokenizer.chat_template == null) {
    throw new AppError(
      ErrorCode.ValidationFailed,
      'this model has no chat template (tokenizer_config.json chat_template); use /v1/completions',
      [{ field: 'messages', problems: ['the model has no chat template'] }],
    );
  }
  let rendered: unknown;
  try {
    rendered = tokenizer.apply_chat_template(messages.map(toTemplateMessage), { tokenize: false, add_generation_prompt: true });
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new AppError(ErrorCode.ValidationFailed, `the model's chat template refused these messages: ${reason}`, [
      { field: 'messages', problems: [reason] },
    ]);
  }
  if (typeof rendered !== 'string') throw new Error('apply_chat_template with tokenize: false returned no string');
  return rendered;
}
