import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defaultModelFor, headTask, isTask, TASK_NAMES, TASKS, tasksFor, tasksWhere, unknownTaskMessage, USES } from './task-table.js';

describe('task table', () => {
  it('is frozen', () => {
    assert.equal(Object.isFrozen(TASKS), true);
    assert.throws(() => Object.assign(TASKS, { 'new-task': {} }), TypeError);
  });

  it('gives each use the tasks its route accepts, in table order', () => {
    const byUse = Object.fromEntries(Object.keys(USES).map((use) => [use, tasksFor(use as keyof typeof USES)]));
    assert.deepEqual(byUse, {
      embeddings: ['feature-extraction', 'sentence-similarity'],
      textClassify: ['text-classification'],
      textTokens: ['token-classification'],
      visionClassify: ['image-classification'],
      visionDetect: ['object-detection'],
      ocrDetection: ['text-detection'],
      ocrRecognition: ['text-recognition'],
      ocrDirection: ['text-orientation'],
      speechVad: ['voice-activity-detection'],
      speechKeywords: ['keyword-spotting'],
      transcriptions: ['automatic-speech-recognition'],
      speech: ['text-to-speech'],
      chatCompletions: ['text-generation'],
      completions: ['text-generation'],
      generate: ['text-generation'],
      translation: ['translation', 'text2text-generation'],
      summarization: ['summarization', 'text2text-generation'],
      text2text: ['translation', 'summarization', 'text2text-generation'],
    });
  });

  it('names the default models, backbones, text workers and head tasks', () => {
    assert.deepEqual(
      [defaultModelFor('ocrRecognition'), defaultModelFor('speechVad'), defaultModelFor('speechKeywords'), defaultModelFor('visionDetect')],
      ['paddleocr-rec', 'silero-vad', 'keyword-spotting', 'blazeface-front'],
    );
    assert.throws(() => defaultModelFor('embeddings'), { message: 'the task table names 0 default models for POST /v1/embeddings' });
    assert.deepEqual(
      tasksWhere((row) => row.backbone !== undefined),
      ['image-classification', 'feature-extraction', 'sentence-similarity'],
    );
    assert.deepEqual(
      tasksWhere((row) => row.textWorkers !== undefined),
      ['text-classification', 'feature-extraction', 'sentence-similarity'],
    );
    assert.deepEqual(
      [
        headTask('text', 'classification'),
        headTask('image', 'classification'),
        headTask('audio', 'classification'),
        headTask('text', 'regression'),
        headTask('image', 'regression'),
        headTask('audio', 'regression'),
      ],
      ['text-classification', 'image-classification', 'audio-classification', 'text-regression', 'image-regression', 'audio-regression'],
    );
  });

  it('knows only its own rows, and refuses others by naming the known tasks, sorted', () => {
    assert.deepEqual(
      [isTask('feature-extraction'), isTask('image-segmentation'), isTask('toString'), isTask('')],
      [true, false, false, false],
    );
    assert.deepEqual(TASK_NAMES, [...Object.keys(TASKS)].sort());
    assert.equal(
      unknownTaskMessage('image-segmentation'),
      'unknown task "image-segmentation"; the known tasks are audio-classification, audio-regression, automatic-speech-recognition, feature-extraction, image-classification, image-regression, keyword-spotting, object-detection, question-answering, sentence-similarity, summarization, text-classification, text-detection, text-generation, text-orientation, text-recognition, text-regression, text-to-speech, text2text-generation, token-classification, translation, voice-activity-detection',
    );
  });
});
