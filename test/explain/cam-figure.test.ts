import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { camFigure } from '../../src/plots/cam-figure.js';
import type { Explanation } from '../../src/explain/index.js';

function explanation(overrides: Partial<Explanation> = {}): Explanation {
  const map = new Float32Array(49);
  map[1 * 7 + 5] = 1; // row 1, column 5
  map[6 * 7 + 0] = 0.25;
  return {
    file: '/x/poster.jpg', className: 'logo', classIndex: 0, probability: 0.875, probabilities: [0.875, 0.125],
    predictedClassName: 'logo', map, mapSize: 7, imageWidth: 700, imageHeight: 350,
    region: { left: 0, top: 0, width: 700, height: 350 }, ...overrides,
  };
}

describe('camFigure', () => {
  it('draws the map as a heat map in image pixel coordinates, top row first', () => {
    const figure = camFigure(explanation());
    assert.equal(figure.data.length, 1);
    const trace = figure.data[0] as unknown as Record<string, unknown> & { z: number[][] };
    assert.equal(trace.type, 'heatmap');
    assert.equal(trace.z.length, 7);
    assert.equal(trace.z[1][5], 1);
    assert.equal(trace.z[6][0], 0.25);
    // cells 100 × 50 px; cell centres from (50, 25)
    assert.deepEqual([trace.x0, trace.dx, trace.y0, trace.dy], [50, 100, 25, 50]);
    assert.deepEqual([trace.zmin, trace.zmax], [0, 1]);
    const layout = figure.layout as { yaxis: { range: number[] }; xaxis: { range: number[] }; title: { text: string } };
    assert.deepEqual(layout.yaxis.range, [350, 0], 'y grows downwards like the image');
    assert.deepEqual(layout.xaxis.range, [0, 700]);
    assert.match(layout.title.text, /"logo" \(p = 0\.88\)/);
    assert.doesNotThrow(() => JSON.stringify(figure));
  });

  it('places a center-crop map over the centred square, and can draw the image underneath', () => {
    const figure = camFigure(explanation({ region: { left: 175, top: 0, width: 350, height: 350 } }), { imageUrl: 'data:image/png;base64,AAAA' });
    const trace = figure.data[0] as Record<string, unknown>;
    assert.deepEqual([trace.x0, trace.dx], [175 + 25, 50]);
    assert.equal(trace.opacity, 0.5);
    const images = (figure.layout as { images: Record<string, unknown>[] }).images;
    assert.equal(images[0].source, 'data:image/png;base64,AAAA');
    assert.deepEqual([images[0].sizex, images[0].sizey], [700, 350]);
  });
});
