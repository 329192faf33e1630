import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ChatCompletion, ChatCompletionChunk, ChatCompletionCreateParamsBase } from 'openai/resources/chat/completions';
import type { Completion, CompletionCreateParamsBase } from 'openai/resources/completions';
import { z } from 'zod';
import { AppError } from '../common/errors/app-error.js';
import { ErrorCode } from '../common/errors/error-code.js';
import {
  chatCompletionChunkSchema,
  chatCompletionSchema,
  textCompletionChunkSchema,
  textCompletionSchema,
  utf8Bytes,
  type ChatCompletionChunk as OurChunk,
  type ChatCompletionResponse,
  type TextCompletionResponse,
} from './openai-responses.js';
import {
  chatCompletionRequestSchema,
  checkTokenIds,
  completionRequestSchema,
  parseChatCompletionRequest,
  parseCompletionRequest,
  type ChatCompletionRequest,
  type CompletionRequest,
} from './openai-schemas.js';

// Type-level checks: what Lathe answers is assignable to the openai package's own types, and every
// request field Lathe takes is one the openai package knows, or one of vLLM's extras.
type Assert<T extends true> = T;
type VllmExtras = 'top_k' | 'min_p' | 'repetition_penalty' | 'stop_token_ids' | 'ignore_eos' | 'truncate_prompt_tokens';
export type ResponseChecks = [
  Assert<ChatCompletionResponse extends ChatCompletion ? true : false>,
  Assert<OurChunk extends ChatCompletionChunk ? true : false>,
  Assert<TextCompletionResponse extends Completion ? true : false>,
  Assert<Exclude<keyof ChatCompletionRequest, keyof ChatCompletionCreateParamsBase | VllmExtras> extends never ? true : false>,
  Assert<Exclude<keyof CompletionRequest, keyof CompletionCreateParamsBase | VllmExtras> extends never ? true : false>,
];

/** The 400 a body gets: [field, problem] pairs. */
function refusal(parse: () => unknown): Array<[string, string]> {
  try {
    parse();
  } catch (error) {
    assert.ok(error instanceof AppError);
    assert.equal(error.code, ErrorCode.ValidationFailed);
    assert.equal(error.status, 400);
    return (error.details as Array<{ field: string; problems: string[] }>).map((d) => [d.field, d.problems[0]!]);
  }
  assert.fail('the body was accepted');
}

const chat = (extra: Record<string, unknown>) => ({ model: 'm', messages: [{ role: 'user', content: 'Hi' }], ...extra });
const completion = (extra: Record<string, unknown>) => ({ model: 'm', prompt: 'Hi', ...extra });

describe('chat completions request', () => {
  it('fills OpenAI and vLLM defaults', () => {
    const { settings, messages } = parseChatCompletionRequest(chat({}));
    assert.deepEqual(messages, [{ role: 'user', content: 'Hi' }]);
    assert.deepEqual(settings, {
      model: 'm',
      n: 1,
      stream: false,
      includeUsage: false,
      maxTokens: undefined,
      stop: [],
      stopTokenIds: [],
      seed: undefined,
      logprobs: null,
      ignoreEos: false,
      truncatePromptTokens: undefined,
      sampling: {
        temperature: 1,
        topK: 0,
        topP: 1,
        minP: 0,
        repetitionPenalty: 1,
        presencePenalty: 0,
        frequencyPenalty: 0,
        logitBias: undefined,
        logprobs: false,
        topLogprobs: 0,
      },
      unset: ['temperature', 'topP', 'topK', 'minP', 'repetitionPenalty'],
    });
  });

  it('maps every field it takes', () => {
    const { settings } = parseChatCompletionRequest(
      chat({
        max_tokens: 10,
        max_completion_tokens: 20,
        temperature: 0.5,
        top_p: 0.9,
        n: 3,
        stream: true,
        stream_options: { include_usage: true },
        stop: 'END',
        seed: -7,
        presence_penalty: 0.5,
        frequency_penalty: -0.5,
        logprobs: true,
        top_logprobs: 5,
        logit_bias: { '42': -100, '7': 2.5 },
        user: 'u1',
        top_k: -1,
        min_p: 0.05,
        repetition_penalty: 1.1,
        stop_token_ids: [2],
        ignore_eos: true,
        truncate_prompt_tokens: 100,
      }),
    );
    assert.deepEqual(settings, {
      model: 'm',
      n: 3,
      stream: true,
      includeUsage: true,
      maxTokens: 20,
      stop: ['END'],
      stopTokenIds: [2],
      seed: -7,
      logprobs: 5,
      ignoreEos: true,
      truncatePromptTokens: 100,
      sampling: {
        temperature: 0.5,
        topK: 0,
        topP: 0.9,
        minP: 0.05,
        repetitionPenalty: 1.1,
        presencePenalty: 0.5,
        frequencyPenalty: -0.5,
        logitBias: new Map([
          [7, 2.5],
          [42, -100],
        ]),
        logprobs: true,
        topLogprobs: 5,
      },
      unset: [],
    });
    assert.equal(parseChatCompletionRequest(chat({ logprobs: true })).settings.logprobs, 0);
    // null is OpenAI's "not set": the model's defaults apply to it as to an absent field.
    assert.deepEqual(parseChatCompletionRequest(chat({ temperature: null, top_p: 0.5 })).settings.unset, [
      'temperature',
      'topK',
      'minP',
      'repetitionPenalty',
    ]);
  });

  it('refuses out-of-range and unknown fields with a 400 naming each field', () => {
    assert.deepEqual(
      refusal(() => parseChatCompletionRequest(chat({ temperature: 2.5, top_p: 0, n: 17 }))),
      [
        ['temperature', 'Too big: expected number to be <=2'],
        ['top_p', 'Too small: expected number to be >0'],
        ['n', 'Too big: expected number to be <=16'],
      ],
    );
    assert.deepEqual(
      refusal(() => parseChatCompletionRequest(chat({ stop: ['a', 'b', 'c', 'd', 'e'] }))),
      [['stop', 'stop must be a string or a list of at most 4 strings, each of 1 to 1024 characters']],
    );
    assert.deepEqual(
      refusal(() => parseChatCompletionRequest(chat({ presence_penalty: -3, frequency_penalty: 2.1 }))),
      [
        ['presence_penalty', 'Too small: expected number to be >=-2'],
        ['frequency_penalty', 'Too big: expected number to be <=2'],
      ],
    );
    assert.deepEqual(
      refusal(() => parseChatCompletionRequest(chat({ logprobs: true, top_logprobs: 21 }))),
      [['top_logprobs', 'Too big: expected number to be <=20']],
    );
    assert.deepEqual(
      refusal(() => parseChatCompletionRequest(chat({ top_logprobs: 2 }))),
      [['top_logprobs', 'top_logprobs needs logprobs: true']],
    );
    assert.deepEqual(
      refusal(() => parseChatCompletionRequest(chat({ stream_options: { include_usage: true } }))),
      [['stream_options', 'stream_options is only allowed when stream is true']],
    );
    assert.deepEqual(
      refusal(() => parseChatCompletionRequest(chat({ logit_bias: { abc: 1, '5': 101 } }))),
      [
        ['logit_bias.5', 'Too big: expected number to be <=100'],
        ['logit_bias.abc', 'logit_bias keys are token ids'],
      ],
    );
    assert.deepEqual(
      refusal(() => parseChatCompletionRequest(chat({ tools: [], max_tokens: 0, seed: 1.5 }))),
      [
        ['seed', 'Invalid input: expected int, received number'],
        ['max_tokens', 'Too small: expected number to be >=1'],
        ['(body)', 'Unrecognized key: "tools"'],
      ],
    );
    assert.deepEqual(
      refusal(() => parseChatCompletionRequest({ model: 'm', messages: [] })),
      [['messages', 'messages must hold at least one message']],
    );
    assert.deepEqual(
      refusal(() => parseChatCompletionRequest({ model: 'm', messages: [{ role: 'developer', content: 'x' }] })),
      [['messages.0.role', 'role must be one of system, user, assistant, tool']],
    );
    assert.deepEqual(
      refusal(() => parseChatCompletionRequest(chat({ top_k: -2, min_p: 1.5, repetition_penalty: 0 }))),
      [
        ['top_k', 'Too small: expected number to be >=-1'],
        ['min_p', 'Too big: expected number to be <=1'],
        ['repetition_penalty', 'Too small: expected number to be >0'],
      ],
    );
  });

  it('takes a limit on n from the configuration', () => {
    assert.equal(parseChatCompletionRequest(chat({ n: 40 }), { maxChoices: 64, maxPrompts: 4 }).settings.n, 40);
  });

  it('an empty body is 400 EMPTY_BODY', () => {
    assert.throws(
      () => parseChatCompletionRequest(undefined),
      (e: unknown) => e instanceof AppError && e.code === ErrorCode.EmptyBody,
    );
  });
});

describe('completions request', () => {
  it('takes a string, strings, token ids or lists of token ids, and defaults max_tokens to 16', () => {
    const forms: Array<[unknown, Array<string | number[]>]> = [
      ['Hi', ['Hi']],
      [
        ['a', 'b'],
        ['a', 'b'],
      ],
      [[1, 2, 3], [[1, 2, 3]]],
      [
        [[1], [2, 3]],
        [[1], [2, 3]],
      ],
    ];
    for (const [prompt, prompts] of forms) {
      const parsed = parseCompletionRequest(completion({ prompt }));
      assert.deepEqual(parsed.prompts, prompts);
      assert.equal(parsed.settings.maxTokens, 16);
    }
    const { settings } = parseCompletionRequest(completion({ logprobs: 3, max_tokens: 5, stop: ['x', 'y'] }));
    assert.deepEqual([settings.logprobs, settings.sampling.topLogprobs, settings.maxTokens, settings.stop], [3, 3, 5, ['x', 'y']]);
  });

  it('refuses empty and malformed prompts, logprobs above 5 and chat-only fields', () => {
    const promptProblem = 'prompt must be a string, a list of strings, a list of token ids or a list of those (at most 64)';
    assert.deepEqual(
      refusal(() => parseCompletionRequest(completion({ prompt: '' }))),
      [['prompt', 'a prompt must not be empty']],
    );
    assert.deepEqual(
      refusal(() => parseCompletionRequest(completion({ prompt: [] }))),
      [['prompt', promptProblem]],
    );
    assert.deepEqual(
      refusal(() => parseCompletionRequest(completion({ prompt: 5 }))),
      [['prompt', promptProblem]],
    );
    assert.deepEqual(
      refusal(() => parseCompletionRequest(completion({ prompt: [1, -1] }))),
      [['prompt.1', 'Too small: expected number to be >=0']],
    );
    assert.deepEqual(
      refusal(() => parseCompletionRequest(completion({ prompt: [[]] }))),
      [['prompt.0', 'Too small: expected array to have >=1 items']],
    );
    assert.deepEqual(
      refusal(() => parseCompletionRequest(completion({ prompt: Array(65).fill('a') }))),
      [['prompt', promptProblem]],
    );
    assert.deepEqual(
      refusal(() => parseCompletionRequest(completion({ logprobs: 6 }))),
      [['logprobs', 'Too big: expected number to be <=5']],
    );
    assert.deepEqual(
      refusal(() => parseCompletionRequest(completion({ logprobs: true, messages: [] }))),
      [
        ['logprobs', 'Invalid input: expected number, received boolean'],
        ['(body)', 'Unrecognized key: "messages"'],
      ],
    );
  });

  it('checkTokenIds refuses ids outside the vocabulary, naming each field', () => {
    const { settings, prompts } = parseCompletionRequest(
      completion({ prompt: [1, 99], logit_bias: { '100': 1 }, stop_token_ids: [3, 500] }),
    );
    assert.deepEqual(
      refusal(() => checkTokenIds(settings, 50, prompts)),
      [
        ['logit_bias.100', "token id 100 is not in the model's vocabulary (50 tokens)"],
        ['stop_token_ids.1', "token id 500 is not in the model's vocabulary (50 tokens)"],
        ['prompt.1', "token id 99 is not in the model's vocabulary (50 tokens)"],
      ],
    );
    checkTokenIds(settings, 501, prompts);
  });
});

describe('request schemas in the OpenAPI document', () => {
  it('convert to JSON Schema with their bounds', () => {
    const chatSchema = z.toJSONSchema(chatCompletionRequestSchema(), { io: 'input' }) as {
      properties: Record<string, { anyOf?: Array<Record<string, unknown>> }>;
      required: string[];
    };
    assert.deepEqual(chatSchema.required, ['model', 'messages']);
    assert.deepEqual(chatSchema.properties.temperature!.anyOf![0], { type: 'number', minimum: 0, maximum: 2 });
    const completionSchema = z.toJSONSchema(completionRequestSchema(), { io: 'input' }) as { required: string[] };
    assert.deepEqual(completionSchema.required, ['model', 'prompt']);
  });
});

describe('response objects', () => {
  it('parse OpenAI-shaped chat completions, chunks and text completions', () => {
    const usage = { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 };
    const logprob = { token: 'é', logprob: -0.1, bytes: utf8Bytes('é'), top_logprobs: [{ token: 'é', logprob: -0.1, bytes: [195, 169] }] };
    const response: ChatCompletion = chatCompletionSchema.parse({
      id: 'chatcmpl-1',
      object: 'chat.completion',
      created: 1700000000,
      model: 'm',
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: 'é!', refusal: null },
          logprobs: { content: [logprob], refusal: null },
          finish_reason: 'length',
        },
      ],
      usage,
    });
    assert.equal(response.choices[0]!.message.content, 'é!');
    const chunks: ChatCompletionChunk[] = [
      { index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null },
      { index: 0, delta: { content: 'é' }, logprobs: { content: [logprob], refusal: null }, finish_reason: null },
      { index: 0, delta: {}, finish_reason: 'stop' },
    ].map((choice) =>
      chatCompletionChunkSchema.parse({
        id: 'chatcmpl-1',
        object: 'chat.completion.chunk',
        created: 1,
        model: 'm',
        choices: [choice],
        usage: null,
      }),
    );
    assert.equal(chunks.length, 3);
    chatCompletionChunkSchema.parse({ id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [], usage });
    const text: Completion = textCompletionSchema.parse({
      id: 'cmpl-1',
      object: 'text_completion',
      created: 1,
      model: 'm',
      choices: [
        {
          index: 0,
          text: ' world',
          logprobs: { tokens: [' world'], token_logprobs: [-0.5], top_logprobs: [{ ' world': -0.5 }], text_offset: [5] },
          finish_reason: 'stop',
        },
      ],
      usage,
    });
    assert.equal(text.choices[0]!.text, ' world');
    textCompletionChunkSchema.parse({
      id: 'cmpl-1',
      object: 'text_completion',
      created: 1,
      model: 'm',
      choices: [{ index: 0, text: 'a', logprobs: null, finish_reason: null }],
    });
    assert.equal(chatCompletionSchema.safeParse({ ...response, object: 'chat.completion.chunk' }).success, false);
    assert.equal(
      chatCompletionSchema.safeParse({ ...response, choices: [{ ...response.choices[0], finish_reason: 'tool_calls' }] }).success,
      false,
    );
  });
});
