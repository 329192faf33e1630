/**
 * The OpenAPI declarations of TEI's routes, shared by the root routes (the default model) and the
 * /tei/{model}/ ones.
 */
import { ErrorCode } from '../common/errors/error-code.js';
import type { ApiEndpointOptions } from '../common/openapi/api-endpoint.decorator.js';
import { TASK_HEADERS } from '../tasks/task-openapi.js';
import {
  TEI_MAX_CLIENT_BATCH,
  teiDecodeRequest,
  teiEmbedAllRequest,
  teiEmbedRequest,
  teiModelParams,
  teiModelQuery,
  teiPredictRequest,
  teiRerankRequest,
  teiTokenizeRequest,
} from './tei-schemas.js';

const ERRORS = [
  ErrorCode.ValidationFailed,
  ErrorCode.EmptyBody,
  ErrorCode.InputTooLong,
  ErrorCode.TooManyInputs,
  ErrorCode.ModelNotFound,
  ErrorCode.ModelLoadFailed,
  ErrorCode.Overloaded,
  ErrorCode.DeadlineExceeded,
];

const TEI_NOTE =
  `Text-embeddings-inference's API (its OpenAPI document's bodies). At most ${TEI_MAX_CLIENT_BATCH} inputs per request. ` +
  'Errors are TEI\'s `{"error": "...", "error_type": "Validation" | "Empty" | "Overloaded" | "Backend" | "Unhealthy"}` with the status Lathe\'s error table gives. ';
const ROOT_NOTE =
  "The model: `?model=`, else the `X-Model` request header, else the server's LATHE_TEI_MODEL; /tei/{model}/... names it in the path. ";

/** A route's declaration and the example model that serves it. */
type Route = Omit<ApiEndpointOptions, 'auth'> & { model: string };

const ROUTES: Record<string, Route> = {
  embed: {
    model: 'bert-mini',
    summary: 'TEI /embed: one pooled vector per input',
    description: '`normalize` (default true), `truncate`, `truncation_direction`, `prompt_name`, `dimensions`. Answers a list of vectors. ',
    body: teiEmbedRequest,
    bodyExample: { inputs: ['What is Deep Learning?'], normalize: true },
    ok: { example: [[0.012, -0.034, 0.101]] },
  },
  embedAll: {
    model: 'bert-mini',
    summary: "TEI /embed_all: every token's vector, unpooled",
    description: 'One list of token vectors per input, special tokens included. ',
    body: teiEmbedAllRequest,
    bodyExample: { inputs: 'What is Deep Learning?' },
    ok: {
      example: [
        [
          [0.012, -0.034],
          [0.2, 0.1],
        ],
      ],
    },
  },
  embedSparse: {
    model: 'splade',
    summary: 'TEI /embed_sparse: sparse vectors from a SPLADE model',
    description:
      'The non-zero entries of a SPLADE model\'s vector (manifest "pooling": "splade": max over tokens of log(1 + relu) of masked-LM logits); other models are 400. ',
    body: teiEmbedAllRequest,
    bodyExample: { inputs: 'What is Deep Learning?' },
    ok: { example: [[{ index: 1012, value: 0.52 }]] },
  },
  rerank: {
    model: 'reranker',
    summary: 'TEI /rerank: a cross-encoder scores (query, text) pairs, best first',
    description:
      'The model must be a text-classification model with one label (a cross-encoder). Scores are the sigmoid of the logit (`raw_scores`: the logit). ',
    body: teiRerankRequest,
    bodyExample: { query: 'What is Deep Learning?', texts: ['Deep Learning is ...', 'Paris is in France'], return_text: true },
    ok: { example: [{ index: 0, text: 'Deep Learning is ...', score: 0.93 }] },
  },
  predict: {
    model: 'sentiment',
    summary: 'TEI /predict: every label with its score, for a text or a text pair',
    description:
      'A string or [text, text_pair]: one list of {label, score} best first; a batch of [text] / [text, text_pair]: one list each. ' +
      'Softmax (sigmoid for one label); `raw_scores`: logits. ',
    body: teiPredictRequest,
    bodyExample: { inputs: 'what a lovely day' },
    ok: { example: [{ label: 'positive', score: 0.93 }] },
  },
  tokenize: {
    model: 'bert-mini',
    summary: "TEI /tokenize: each text's tokens with byte offsets",
    description: '`start`/`stop` are UTF-8 byte offsets into the (prompted) text; special tokens have null offsets. ',
    body: teiTokenizeRequest,
    bodyExample: { inputs: 'test', add_special_tokens: true },
    ok: { example: [[{ id: 2, text: '[CLS]', special: true, start: null, stop: null }]] },
  },
  decode: {
    model: 'bert-mini',
    summary: 'TEI /decode: token ids back to text',
    description: 'One id list or a list of them; one string each. ',
    body: teiDecodeRequest,
    bodyExample: { ids: [2, 67, 3], skip_special_tokens: true },
    ok: { example: ['test'] },
  },
  info: {
    model: 'bert-mini',
    summary: "TEI /info: the model's type and limits",
    description: 'model_type is {embedding: {pooling}}, {classifier: {id2label, label2id}} or {reranker: ...} (one label). ',
    ok: { example: { model_id: 'bert-mini', model_type: { embedding: { pooling: 'mean' } }, max_input_length: 64 } },
  },
};

/** The declaration of TEI route `name`, at the root (default model) or under /tei/{model}/. */
export function teiRoute(name: keyof typeof ROUTES, where: 'root' | 'model'): ApiEndpointOptions {
  const { model, ...route } = ROUTES[name]!;
  return {
    ...route,
    summary: where === 'root' ? route.summary : `${route.summary} (model in the path)`,
    description: route.description + TEI_NOTE + (where === 'root' ? ROOT_NOTE : '') + TASK_HEADERS,
    auth: 'infer',
    errors: ERRORS,
    ...(where === 'model' ? { params: teiModelParams(model) } : { query: teiModelQuery(model) }),
  };
}
