import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PreTrainedTokenizer } from '@huggingface/transformers';
import { byteBpeTokenizer } from '../../test/support/byte-bpe-tokenizer.js';
import { AppError } from '../common/errors/app-error.js';
import { ErrorCode } from '../common/errors/error-code.js';
import { chatMessagesSchema, renderChatPrompt, type ChatMessage } from './chat-template.js';

// chat_template of Qwen/Qwen2-0.5B-Instruct's tokenizer_config.json (ChatML with a default system message).
const QWEN2_TEMPLATE =
  "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

// chat_template of meta-llama/Meta-Llama-3-8B-Instruct's tokenizer_config.json.
const LLAMA3_TEMPLATE =
  "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}";

// chat_template of mistralai/Mistral-7B-Instruct-v0.1's tokenizer_config.json: it refuses roles that do not alternate.
const MISTRAL_TEMPLATE =
  "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token + ' ' }}{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}{% endfor %}";

function tokenizerWith(chatTemplate: string | undefined, specials: string[], eosToken: string, bosToken?: string): PreTrainedTokenizer {
  const { tokenizerJson, tokenizerConfig } = byteBpeTokenizer({ words: ['Hello'], specials, chatTemplate, eosToken, bosToken });
  return new PreTrainedTokenizer(tokenizerJson, tokenizerConfig);
}

const qwen = tokenizerWith(QWEN2_TEMPLATE, ['<|endoftext|>', '<|im_start|>', '<|im_end|>'], '<|im_end|>');
const llama = tokenizerWith(
  LLAMA3_TEMPLATE,
  ['<|begin_of_text|>', '<|end_of_text|>', '<|start_header_id|>', '<|end_header_id|>', '<|eot_id|>'],
  '<|eot_id|>',
  '<|begin_of_text|>',
);
const mistral = tokenizerWith(MISTRAL_TEMPLATE, ['<s>', '</s>'], '</s>', '<s>');

const messages = (raw: unknown): ChatMessage[] => chatMessagesSchema.parse(raw);

describe('renderChatPrompt', () => {
  it('ChatML (Qwen2): the default system message, each turn, then the generation prompt', () => {
    const prompt = renderChatPrompt(
      qwen,
      messages([
        { role: 'user', content: 'Hi' },
        { role: 'assistant', content: 'Hello!' },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'Two' },
            { type: 'text', text: 'parts' },
          ],
        },
      ]),
    );
    assert.equal(
      prompt,
      '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello!<|im_end|>\n' +
        '<|im_start|>user\nTwo\nparts<|im_end|>\n<|im_start|>assistant\n',
    );
  });

  it('ChatML (Qwen2) with a system message and a tool result keeps them as given', () => {
    const prompt = renderChatPrompt(
      qwen,
      messages([
        { role: 'system', content: 'Be brief.' },
        { role: 'tool', content: '42', tool_call_id: 'call_1' },
      ]),
    );
    assert.equal(prompt, '<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>tool\n42<|im_end|>\n<|im_start|>assistant\n');
  });

  it('Llama 3: bos_token from the config first, trimmed contents, then the assistant header', () => {
    const prompt = renderChatPrompt(
      llama,
      messages([
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: '  Hi there \n' },
        { role: 'assistant', content: null },
      ]),
    );
    assert.equal(
      prompt,
      '<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>' +
        '<|start_header_id|>user<|end_header_id|>\n\nHi there<|eot_id|>' +
        '<|start_header_id|>assistant<|end_header_id|>\n\n<|eot_id|>' +
        '<|start_header_id|>assistant<|end_header_id|>\n\n',
    );
  });

  it('equals what the Transformers.js tokenizer renders itself', () => {
    const chat = [
      { role: 'system', content: 'S' },
      { role: 'user', content: 'U' },
    ];
    assert.equal(
      renderChatPrompt(llama, messages(chat)),
      llama.apply_chat_template(chat, { tokenize: false, add_generation_prompt: true }),
    );
  });

  it("a template's raise_exception is a 400 VALIDATION_FAILED with the template's words", () => {
    assert.equal(renderChatPrompt(mistral, messages([{ role: 'user', content: 'Hi' }])), '<s>[INST] Hi [/INST]');
    assert.throws(
      () =>
        renderChatPrompt(
          mistral,
          messages([
            { role: 'user', content: 'a' },
            { role: 'user', content: 'b' },
          ]),
        ),
      (error: unknown) =>
        error instanceof AppError &&
        error.code === ErrorCode.ValidationFailed &&
        error.status === 400 &&
        error.message ===
          "the model's chat template refused these messages: Conversation roles must alternate user/assistant/user/assistant/...",
    );
  });

  it('a model without a chat template and an empty conversation are 400 VALIDATION_FAILED', () => {
    const plain = tokenizerWith(undefined, ['<|endoftext|>'], '<|endoftext|>');
    assert.throws(
      () => renderChatPrompt(plain, messages([{ role: 'user', content: 'Hi' }])),
      (error: unknown) => error instanceof AppError && error.code === ErrorCode.ValidationFailed && /no chat template/.test(error.message),
    );
    assert.throws(
      () => renderChatPrompt(qwen, []),
      (error: unknown) =>
        error instanceof AppError &&
        error.code === ErrorCode.ValidationFailed &&
        error.message === 'messages must hold at least one message',
    );
  });
});

describe('chatMessagesSchema', () => {
  const problems = (raw: unknown) => {
    const result = chatMessagesSchema.safeParse(raw);
    assert.equal(result.success, false);
    return result.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  };

  it('refuses an empty list, unknown roles, non-text parts, bad content and lone surrogates, naming the field', () => {
    assert.deepEqual(problems([]), [': messages must hold at least one message']);
    assert.deepEqual(problems([{ role: 'developer', content: 'x' }]), ['0.role: role must be one of system, user, assistant, tool']);
    assert.deepEqual(problems([{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'x' } }] }]), [
      "0.content: content must be a string or a non-empty list of {type: 'text', text} parts",
    ]);
    assert.deepEqual(problems([{ role: 'user', content: 5 }]), [
      "0.content: content must be a string or a non-empty list of {type: 'text', text} parts",
    ]);
    assert.deepEqual(problems([{ role: 'user' }]), [
      "0.content: content must be a string or a non-empty list of {type: 'text', text} parts",
    ]);
    assert.deepEqual(problems([{ role: 'user', content: 'a\ud800' }]), ['0.content: has an unpaired UTF-16 surrogate']);
    assert.deepEqual(problems([{ role: 'tool', content: 'x' }]), ['0.tool_call_id: Invalid input: expected string, received undefined']);
    assert.deepEqual(problems([{ role: 'user', content: 'x', extra: 1 }]), ['0: Unrecognized key: "extra"']);
  });
});
