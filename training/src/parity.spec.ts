/**
 * Parity between the PyTorch trainer and the TypeScript engine: a tiny model trained and exported by
 * training/trainer (2 layers, width 64, byte vocabulary), and its logits on a recorded sample computed by the
 * trainer on the GPU (export.py golden), must be what the engine computes on the CPU from the exported file.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { checkpointFingerprint, loadCheckpoint, Rwkv7Engine } from '@gooseherd/engine';

const MODELS = path.join(__dirname, '..', 'models', 'parity');
const TOLERANCE = 1e-3;

interface Golden {
  readonly tokens: number[];
  readonly logits: number[][];
  readonly device: string;
  readonly text: string;
}

describe('trainer ↔ engine parity', () => {
  let engine: Rwkv7Engine;
  let golden: Golden;
  let cacheDir: string;

  beforeAll(async () => {
    golden = JSON.parse(fs.readFileSync(path.join(MODELS, 'tiny-golden.json'), 'utf8')) as Golden;
    const ckpt = await loadCheckpoint(path.join(MODELS, 'tiny.safetensors'));
    cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gh-parity-'));
    engine = Rwkv7Engine.create(ckpt, checkpointFingerprint(ckpt), { threads: 1, spinning: false, cacheDir });
  });

  afterAll(async () => {
    await engine?.release();
    if (cacheDir) fs.rmSync(cacheDir, { recursive: true, force: true });
  });

  it('the golden sample is the dialect text as byte tokens (byte + 1)', () => {
    expect(golden.tokens).toEqual(Array.from(Buffer.from(golden.text, 'utf8'), (b) => b + 1));
    expect(engine.config).toMatchObject({ nLayer: 2, nEmbd: 64, vocabSize: 320 });
  });

  it('chunked prefill logits agree with the trainer within 1e-3 at every position', async () => {
    const V = engine.config.vocabSize;
    const { logits } = await engine.evaluate(golden.tokens, engine.zeroState(1));
    let worst = 0;
    golden.logits.forEach((row, p) =>
      row.forEach((g, v) => (worst = Math.max(worst, Math.abs(logits[p * V + v] - g)))),
    );
    expect(worst).toBeLessThan(TOLERANCE);
  });

  it('step-by-step decode logits agree with the trainer within 1e-3', async () => {
    let state = engine.zeroState(1);
    let worst = 0;
    for (let p = 0; p < golden.tokens.length; p++) {
      const out = await engine.step([golden.tokens[p]], state);
      state = out.state;
      golden.logits[p].forEach((g, v) => (worst = Math.max(worst, Math.abs(out.logits[v] - g))));
    }
    expect(worst).toBeLessThan(TOLERANCE);
  });

  it('the trained model is not a trivial one (logits vary across positions)', () => {
    const spread = golden.logits.map((row) => Math.max(...row) - Math.min(...row));
    expect(Math.min(...spread)).toBeGreaterThan(0.1);
  });
});
