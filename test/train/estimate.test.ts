import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { estimateTrainingMs } from '../../src/train/estimate.js';

// README, "Benchmarks" → Training: top-k (k = 2), lesson data (19 training + 19 validation images), 10 epochs, cold: 9.76 s
const README_TOP_K_MS = 9760;
const lesson = { trainImages: 19, validImages: 19, epochs: 10, engine: 'onnxruntime' as const };

describe('training time estimates', () => {
  it('top-k on the lesson data lands within 2× of the README measurement (it was 3–8× too high)', () => {
    const estimate = estimateTrainingMs('top-k', { ...lesson, images: 38 });
    assert.ok(estimate > README_TOP_K_MS / 2 && estimate < README_TOP_K_MS * 2, `estimate ${(estimate / 1000).toFixed(1)} s vs measured 9.8 s`);
  });

  it('top-k trains each image once per epoch: cached augmented views add backbone passes, not epoch cost', () => {
    const plain = estimateTrainingMs('top-k', { ...lesson, images: 38 });
    const fourViews = estimateTrainingMs('top-k', { ...lesson, images: 19 * 5 + 19 });
    const backboneOnly = estimateTrainingMs('head', { ...lesson, images: 19 * 5 + 19 }) - estimateTrainingMs('head', { ...lesson, images: 38 });
    assert.ok(Math.abs(fourViews - plain - backboneOnly) < 1, `${fourViews} − ${plain} should be the extra backbone passes (${backboneOnly})`);
  });

  it('head < top-k < full on the same work', () => {
    const work = { ...lesson, images: 38 };
    assert.ok(estimateTrainingMs('head', work) < estimateTrainingMs('top-k', work));
    assert.ok(estimateTrainingMs('top-k', work) < estimateTrainingMs('full', { ...work, images: 19 }));
  });
});
