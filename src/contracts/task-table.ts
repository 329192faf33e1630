/**
 * The one list of tasks Lathe knows (as Transformers.js' SUPPORTED_TASKS): a model's manifest names
 * one of these, and every route, the runtime, fine-tuning and `lathe models pull` read what a task
 * is from its row here instead of comparing task names. Adding a task is its service file plus one
 * row. Imports nothing, so any folder may read it.
 */

/** What a task's models take in; `tensor`: raw tensors only, served by /v2. */
export type Modality = 'text' | 'vision' | 'audio' | 'tensor';

/**
 * The ways a task's models are used: each a route (OCR's three models play three parts in one
 * route) or fine-tuning's backbones. A service asks for the tasks of its use, never for names.
 */
export const USES = {
  embeddings: 'POST /v1/embeddings',
  textClassify: 'POST /v1/text/classify',
  textTokens: 'POST /v1/text/tokens',
  visionClassify: 'POST /v1/vision/classify',
  visionDetect: 'POST /v1/vision/detect',
  ocrDetection: 'POST /v1/vision/ocr (detection)',
  ocrRecognition: 'POST /v1/vision/ocr (recognition)',
  ocrDirection: 'POST /v1/vision/ocr (direction)',
  speechVad: 'POST /v1/speech/vad',
  speechKeywords: 'POST /v1/speech/keywords',
  transcriptions: 'POST /v1/audio/transcriptions',
  speech: 'POST /v1/audio/speech',
  chatCompletions: 'POST /v1/chat/completions',
  completions: 'POST /v1/completions',
  generate: 'POST /v2/models/{model}/generate',
  translation: 'POST /v1/text/translation',
  summarization: 'POST /v1/text/summarization',
  text2text: 'POST /v1/text/text2text',
} as const;
export type Use = keyof typeof USES;

export type HeadInput = 'text' | 'image' | 'audio';
export type HeadKind = 'classification' | 'regression';

export interface TaskRow {
  readonly modality: Modality;
  /** Every model of any task is also served raw by /v2 (Open Inference Protocol). */
  readonly uses: readonly Use[];
  /** The shape of what its route answers (the Hugging Face task spec it follows), or `tensors` for /v2 only. */
  readonly output: string;
  /** The model its route runs when a request names none. */
  readonly defaultModel?: string;
  /**
   * A Hugging Face-layout text model of this task run by ONNX Runtime is served whole by session
   * workers (tokenize -> run -> read one vector per text): `pooled` pools the token vectors as its
   * parameters say, `logits` reads the output as it is.
   */
  readonly textWorkers?: 'pooled' | 'logits';
  /** What fine-tuning may train a head on: a text encoder, or an image model with image preprocessing. */
  readonly backbone?: 'text' | 'image';
  /** The head fine-tuning registers with this task: the backbone's input and what the head does. */
  readonly head?: { readonly input: HeadInput; readonly kind: HeadKind };
  /**
   * A decoder-only causal LM in the Hugging Face ONNX layout (input_ids, attention_mask,
   * position_ids, past_key_values.* in; logits, present.* out): its workers run the decode loop.
   * `seq2seq`: an encoder-decoder text model in the Optimum layout (encoder_model.onnx and
   * decoder_model_merged.onnx): its workers encode once per request and batch the decoder steps.
   */
  readonly decoder?: 'causal-lm' | 'seq2seq';
  /** Its models run as Transformers.js pipelines (`"runtime": "transformers"`): `lathe models pull` writes that. */
  readonly pipeline?: true;
  /**
   * `lathe models pull`: what a pulled model of this task needs beyond its signature. `yolo`: an
   * Ultralytics export's letterbox (gray padding, RGB/255) and decoder (end-to-end when its output rows are 6 wide).
   */
  readonly pulledDetector?: 'yolo';
  /** `lathe models pull`: config.json's `id2label` are its labels. */
  readonly labelled?: boolean;
  /** `lathe models pull`: Transformers' head class names (in `architectures`) that mean this task. */
  readonly architectures?: readonly RegExp[];
  /** `lathe models pull`: config.json `model_type`s that mean this task when no head class says otherwise. */
  readonly modelTypes?: readonly string[];
}

/** Row order matters only to `lathe models pull`: the first row whose architectures match wins. */
export const TASKS = Object.freeze({
  'text-classification': {
    modality: 'text',
    uses: ['textClassify'],
    output: 'label-scores',
    textWorkers: 'logits',
    head: { input: 'text', kind: 'classification' },
    labelled: true,
    architectures: [/ForSequenceClassification$/],
  },
  'token-classification': {
    modality: 'text',
    uses: ['textTokens'],
    output: 'entities',
    labelled: true,
    architectures: [/ForTokenClassification$/],
  },
  'image-classification': {
    modality: 'vision',
    uses: ['visionClassify'],
    output: 'label-scores',
    backbone: 'image',
    head: { input: 'image', kind: 'classification' },
    labelled: true,
    architectures: [/ForImageClassification$/],
  },
  'audio-classification': {
    modality: 'audio',
    uses: [],
    output: 'tensors',
    head: { input: 'audio', kind: 'classification' },
    labelled: true,
    architectures: [/ForAudioClassification$/],
  },
  'automatic-speech-recognition': {
    modality: 'audio',
    uses: ['transcriptions'],
    output: 'transcription',
    architectures: [/(ForCTC|ForSpeechSeq2Seq)$/, /^Whisper.*ForConditionalGeneration$/],
    modelTypes: ['whisper', 'wav2vec2', 'wav2vec2-bert', 'hubert', 'wavlm', 'moonshine', 'speecht5'],
  },
  'text-to-speech': {
    modality: 'text',
    uses: ['speech'],
    output: 'audio',
    pipeline: true,
    architectures: [/^Vits(Model)?$/],
    modelTypes: ['vits'],
  },
  'text-generation': {
    modality: 'text',
    uses: ['chatCompletions', 'completions', 'generate'],
    output: 'generated-text',
    decoder: 'causal-lm',
    architectures: [/ForCausalLM$/],
  },
  translation: {
    modality: 'text',
    uses: ['translation', 'text2text'],
    output: 'translation-text',
    decoder: 'seq2seq',
    architectures: [/^(MarianMTModel|M2M100ForConditionalGeneration|NllbMoeForConditionalGeneration)$/],
    modelTypes: ['marian', 'm2m_100', 'nllb-moe'],
  },
  summarization: {
    modality: 'text',
    uses: ['summarization', 'text2text'],
    output: 'summary-text',
    decoder: 'seq2seq',
    architectures: [/^(Bart|Pegasus|PegasusX|LED|BigBirdPegasus)ForConditionalGeneration$/],
    modelTypes: ['bart', 'pegasus', 'pegasus_x', 'led'],
  },
  'text2text-generation': {
    modality: 'text',
    uses: ['text2text', 'translation', 'summarization'],
    output: 'generated-text',
    decoder: 'seq2seq',
    architectures: [/^(T5|MT5|UMT5|LongT5|Blenderbot|BlenderbotSmall)ForConditionalGeneration$/],
    modelTypes: ['t5', 'mt5', 'umt5', 'longt5', 'blenderbot', 'blenderbot-small'],
  },
  'question-answering': { modality: 'text', uses: [], output: 'tensors', architectures: [/ForQuestionAnswering$/] },
  'feature-extraction': { modality: 'text', uses: ['embeddings'], output: 'embeddings', textWorkers: 'pooled', backbone: 'text' },
  'sentence-similarity': { modality: 'text', uses: ['embeddings'], output: 'embeddings', textWorkers: 'pooled', backbone: 'text' },
  'text-regression': { modality: 'text', uses: [], output: 'tensors', head: { input: 'text', kind: 'regression' } },
  'image-regression': { modality: 'vision', uses: [], output: 'tensors', head: { input: 'image', kind: 'regression' } },
  'audio-regression': { modality: 'audio', uses: [], output: 'tensors', head: { input: 'audio', kind: 'regression' } },
  'object-detection': {
    modality: 'vision',
    uses: ['visionDetect'],
    output: 'detections',
    defaultModel: 'blazeface-front',
    pulledDetector: 'yolo',
    labelled: true,
    modelTypes: ['yolov8', 'yolov9', 'yolov10', 'yolo11', 'yolo12'],
  },
  'text-detection': { modality: 'vision', uses: ['ocrDetection'], output: 'text-boxes' },
  'text-recognition': { modality: 'vision', uses: ['ocrRecognition'], output: 'ocr-text', defaultModel: 'paddleocr-rec' },
  'text-orientation': { modality: 'vision', uses: ['ocrDirection'], output: 'label-scores' },
  'voice-activity-detection': { modality: 'audio', uses: ['speechVad'], output: 'speech-segments', defaultModel: 'silero-vad' },
  'keyword-spotting': { modality: 'audio', uses: ['speechKeywords'], output: 'keyword-scores', defaultModel: 'keyword-spotting' },
} as const satisfies Record<string, TaskRow>);

export type TaskName = keyof typeof TASKS;

/**
 * `lathe models pull`, when neither a head class nor the model type decides: a text classifier when
 * `id2label` names real labels, else the encoder's hidden states (as sentence-transformers exports are).
 */
export const PULL_FALLBACK = { labelled: 'text-classification', unlabelled: 'feature-extraction' } as const satisfies Record<
  string,
  TaskName
>;

/** Every task name, sorted (for messages). */
export const TASK_NAMES: readonly TaskName[] = Object.freeze((Object.keys(TASKS) as TaskName[]).sort());

export function isTask(name: string): name is TaskName {
  return Object.hasOwn(TASKS, name);
}

/** The row of a task; undefined for a name not in the table (a manifest that did not load). */
export function taskRow(name: string): TaskRow | undefined {
  return isTask(name) ? TASKS[name] : undefined;
}

/** The tasks whose rows pass `test`, in table order. */
export function tasksWhere(test: (row: TaskRow, name: TaskName) => boolean): readonly TaskName[] {
  return (Object.entries(TASKS) as Array<[TaskName, TaskRow]>).filter(([name, row]) => test(row, name)).map(([name]) => name);
}

const tasksByUse = new Map<Use, readonly TaskName[]>();

/** The tasks whose models serve `use`, in table order (worked out once per use: routes ask on every request). */
export function tasksFor(use: Use): readonly TaskName[] {
  let tasks = tasksByUse.get(use);
  if (!tasks) {
    tasks = Object.freeze(tasksWhere((row) => row.uses.includes(use)));
    tasksByUse.set(use, tasks);
  }
  return tasks;
}

/** The one task serving `use`, for routes with a default model; the table has exactly one. */
export function defaultModelFor(use: Use): string {
  const models = tasksFor(use).flatMap((t) => (TASKS[t] as TaskRow).defaultModel ?? []);
  if (models.length !== 1) throw new Error(`the task table names ${models.length} default models for ${USES[use]}`);
  return models[0]!;
}

/** The tasks a fine-tuned head can have. */
export type HeadTask = { [K in TaskName]: (typeof TASKS)[K] extends { head: object } ? K : never }[TaskName];

/** The task fine-tuning registers a head under. */
export function headTask(input: HeadInput, kind: HeadKind): HeadTask {
  const found = tasksWhere((row) => row.head?.input === input && row.head.kind === kind);
  if (found.length !== 1) throw new Error(`the task table has ${found.length} tasks for ${input} ${kind} heads`);
  return found[0] as HeadTask;
}

/** Why a manifest's task is refused: it names the known ones. */
export function unknownTaskMessage(name: string): string {
  return `unknown task "${name}"; the known tasks are ${TASK_NAMES.join(', ')}`;
}
