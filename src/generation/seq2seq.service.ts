import { Injectable } from '@nestjs/common';
import type { AppConfig } from '../config/app-config.js';
import { InjectConfig } from '../config/config.module.js';
import { AppError } from '../common/errors/app-error.js';
import { ErrorCode } from '../common/errors/error-code.js';
import { validate } from '../common/http/validate-body.js';
import { tasksFor, type Use } from '../contracts/task-table.js';
import { readTextInputs } from '../nlp/text-input.js';
import type { PlainValue } from '../runtime/work.js';
import { TaskModels, type TaskTrace } from '../tasks/task-models.service.js';
import type { Seq2SeqAnswer, Seq2SeqCall, Seq2SeqTask } from './seq2seq-generator.js';
import { MAX_SEQ2SEQ_INPUTS, type Seq2SeqParameters, seq2seqQuery, seq2seqRequest } from './seq2seq-schemas.js';
import { seq2seqParameters } from './seq2seq-worker-config.js';

/** Each route: the use it serves, the pipeline task it runs as, and the key its answers carry. */
export const SEQ2SEQ_ROUTES = {
  translation: { task: 'translation', key: 'translation_text' },
  summarization: { task: 'summarization', key: 'summary_text' },
  text2text: { task: 'text2text-generation', key: 'generated_text' },
} as const satisfies Partial<Record<Use, { task: Seq2SeqTask; key: string }>>;
export type Seq2SeqRoute = keyof typeof SEQ2SEQ_ROUTES;

/**
 * Translation, summarization and text2text generation on the main thread: validates, finds the
 * model, and sends each input text to the model's workers as one call (the worker batches calls
 * across requests); answers one object per input, in order.
 */
@Injectable()
export class Seq2SeqService {
  constructor(
    private readonly models: TaskModels,
    @InjectConfig() private readonly config: AppConfig,
  ) {}

  async run(
    route: Seq2SeqRoute,
    body: unknown,
    query: unknown,
    trace: TaskTrace,
    signal?: AbortSignal,
  ): Promise<Array<Record<string, string>>> {
    const r = validate(seq2seqRequest, body);
    const q = validate(seq2seqQuery, query ?? {});
    if (r.inputs !== undefined && r.input !== undefined) throw invalid('inputs', 'give inputs or input, not both');
    const name = r.model ?? q.model;
    if (!name) throw invalid('model', 'name the model in the body ("model") or the query (?model=)');
    const { inputs } = readTextInputs(r.inputs ?? r.input, r.inputs !== undefined ? 'inputs' : 'input', MAX_SEQ2SEQ_INPUTS);
    const { task, key } = SEQ2SEQ_ROUTES[route];
    const model = await this.models.get(name, tasksFor(route), trace);
    const calls = (inputs as string[]).map((text) => callOf(task, text, r.parameters ?? {}));
    this.checkRows(model.manifest.parameters, calls);
    const started = process.hrtime.bigint();
    const controller = new AbortController();
    signal?.addEventListener('abort', () => controller.abort(), { once: true });
    try {
      const answers = await Promise.all(
        calls.map(async (call) => {
          const done = await model.runner.generate(call as unknown as PlainValue, () => undefined, controller.signal);
          return done.output as unknown as Seq2SeqAnswer;
        }),
      );
      trace.inferenceMs += Number(process.hrtime.bigint() - started) / 1e6;
      return answers.map((a) => ({ [key]: a.text }));
    } catch (err) {
      // One refused or failed text ends its siblings: their rows leave the batch at the next step.
      controller.abort();
      throw err instanceof AppError ? err : new AppError(ErrorCode.Internal, err instanceof Error ? err.message : String(err));
    }
  }

  /** A request whose rows (inputs x beams) pass what the model can ever hold would only ever get 429: refused at once. */
  private checkRows(parameters: unknown, calls: Seq2SeqCall[]): void {
    const own = seq2seqParameters.safeParse(parameters ?? {});
    const limits = own.success ? own.data : {};
    const capacity = (limits.maxSequences ?? this.config.generation.maxSequences) + (limits.queue ?? this.config.generation.queue);
    const rows = calls.reduce((sum, c) => sum + (c.numBeams ?? 1), 0);
    if (rows > capacity) {
      const beams = calls[0]?.numBeams ?? 1;
      throw invalid(
        'inputs',
        `${calls.length} input${calls.length === 1 ? '' : 's'} x ${beams} beam${beams === 1 ? '' : 's'} need ${rows} decoder rows; ` +
          `this model holds at most ${capacity} (running and waiting)`,
      );
    }
  }
}

function invalid(field: string, message: string): AppError {
  return new AppError(ErrorCode.ValidationFailed, message, [{ field, problems: [message] }]);
}

function callOf(task: Seq2SeqTask, text: string, p: Seq2SeqParameters): Seq2SeqCall {
  const g = { ...p, ...p.generate_parameters };
  const call: Seq2SeqCall = {
    task,
    text,
    srcLang: p.src_lang,
    tgtLang: p.tgt_lang,
    maxNewTokens: g.max_new_tokens,
    minNewTokens: g.min_new_tokens,
    numBeams: g.num_beams,
    lengthPenalty: g.length_penalty,
    earlyStopping: g.early_stopping,
    doSample: g.do_sample,
    temperature: g.temperature,
    topK: g.top_k,
    topP: g.top_p,
    repetitionPenalty: g.repetition_penalty,
    noRepeatNgramSize: g.no_repeat_ngram_size,
    seed: g.seed,
  };
  return Object.fromEntries(Object.entries(call).filter(([, v]) => v !== undefined)) as unknown as Seq2SeqCall;
}
