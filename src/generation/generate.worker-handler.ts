/**
 * The `generate` extension of a decoder model's session worker: the tokenizer and config files
 * loaded beside the session, and a TextGenerator (the decode loop with continuous batching) over
 * it. Loaded by the session worker from the URL GenerationWorkers gives, so tokenizing, sampling
 * and detokenizing never run on the thread that answers HTTP.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AppError } from '../common/errors/app-error.js';
import { ErrorCode } from '../common/errors/error-code.js';
import { configureTransformers, loadTokenizer } from '../nlp/hf-tokenizer.js';
import type { PlainValue } from '../runtime/work.js';
import type { GenerateExtension, GenerateHandler } from '../runtime/worker-extension.js';
import { generationWorkerConfig } from './generation-worker-config.js';
import { lastPositionGraph, servedOutputs } from './last-position-graph.js';
import { type GenerateRequest, type GenerationTokenizer, modelConfig, TextGenerator, type Vocabulary } from './text-generator.js';

export const extension: GenerateExtension = {
  /** The graph with its LM head on the last position only (last-position-graph.ts), where that is exact. */
  async graph(raw, modelPath) {
    const spec = generationWorkerConfig.parse(raw);
    if (!spec.lastPositionLogits) return modelPath;
    return (await lastPositionGraph(modelPath, spec.cacheDir)) ?? modelPath;
  },

  async load(raw, session) {
    const spec = generationWorkerConfig.parse(raw);
    const kv = session.inputs.find((t) => t.name === 'past_key_values.0.key');
    if (!kv || !session.inputs.some((t) => t.name === 'input_ids') || !session.inputs.some((t) => t.name === 'attention_mask')) {
      throw new AppError(
        ErrorCode.ModelLoadFailed,
        `model "${spec.model}": a text-generation model takes input_ids, attention_mask and past_key_values.{i}.key/value (a decoder exported with its cache)`,
      );
    }
    if (kv.type !== 'float32' && kv.type !== 'float16') {
      throw new AppError(
        ErrorCode.ModelLoadFailed,
        `model "${spec.model}": its cache is ${kv.type}; float32 and float16 caches are served`,
      );
    }
    let generator: TextGenerator;
    try {
      configureTransformers(spec.cacheDir);
      const readJson = async (name: string, required: boolean) => {
        try {
          return JSON.parse(await readFile(join(spec.folder, name), 'utf8')) as Record<string, unknown>;
        } catch (err) {
          if (!required && (err as NodeJS.ErrnoException).code === 'ENOENT') return {};
          throw err;
        }
      };
      const [tokenizer, config, generation, tokenizerJson] = await Promise.all([
        loadTokenizer(spec.folder),
        readJson('config.json', true),
        readJson('generation_config.json', false),
        readJson('tokenizer.json', true),
      ]);
      const model = modelConfig(config, generation, kv.type === 'float16' ? 'FP16' : 'FP32');
      model.positionIds = session.inputs.some((t) => t.name === 'position_ids');
      Object.assign(model, servedOutputs(session.outputs.map((t) => t.name)));
      generator = new TextGenerator(
        tokenizer as unknown as GenerationTokenizer,
        model,
        (feeds, outputs) => session.run(feeds, outputs),
        {
          maxSequences: spec.maxSequences,
          kvBudgetBytes: spec.kvCacheBytes,
          prefillChunkTokens: spec.prefillChunkTokens,
          maxWaiting: spec.queue,
          retryAfterSeconds: spec.retryAfterSeconds,
        },
        vocabularyOf(tokenizer.get_vocab(), tokenizerJson),
      );
    } catch (err) {
      const reason = (err instanceof Error ? err.message : String(err)).split('\n')[0]!.slice(0, 500);
      throw new AppError(ErrorCode.ModelLoadFailed, `model "${spec.model}": tokenizer or config files could not be read: ${reason}`);
    }
    return new Generations(generator);
  },
};

/** id -> piece, and whether pieces spell bytes (ByteLevel) or SentencePiece text, from tokenizer.json's decoder. */
function vocabularyOf(vocab: Map<string, number>, tokenizerJson: Record<string, unknown>): Vocabulary {
  const pieces: string[] = [];
  for (const [piece, id] of vocab) pieces[id] = piece;
  const decoder = JSON.stringify(tokenizerJson.decoder ?? null);
  return { pieces, scheme: decoder.includes('"ByteLevel"') ? 'byte-level' : 'sentencepiece' };
}

class Generations implements GenerateHandler {
  constructor(private readonly generator: TextGenerator) {}

  async generate(id: number, input: PlainValue, emit: (event: PlainValue) => void): Promise<PlainValue> {
    const result = await this.generator.generate(id, input as unknown as GenerateRequest, (event) => {
      emit({ ...event, engine: this.load() } as unknown as PlainValue);
    });
    return { ...result, engine: this.load() } as unknown as PlainValue;
  }

  private load() {
    const { running, waiting, kvBytes, steps, rows, joinedMidBatch } = this.generator.stats();
    return { running, waiting, kvBytes, steps, rows, joinedMidBatch };
  }

  cancel(id: number): void {
    this.generator.cancel(id);
  }
}
