import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { checkpointFingerprint, loadCheckpoint } from '../checkpoint/index.js';
import { GoldenFixture, withFixtures } from '../testing/fixtures.js';
import { measureQuantAccuracy } from './quant-accuracy.js';

/**
 * The accuracy each reduced-precision weight storage is documented to keep (engine/BENCHMARKS.md), on the
 * reference fixture: 48 prompt tokens, then 256 tokens generated greedily by fp32 and read back by each.
 * The fixture's random weights are a stress test: its top logits are often closer than quantisation noise.
 */
describe('reduced-precision weights against fp32 on the reference fixture', () => {
  withFixtures(() => {
    const golden = new GoldenFixture();
    const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gooseherd-quant-'));
    afterAll(() => fs.rmSync(cacheDir, { recursive: true, force: true }));

    const bounds = {
      fp16: { maxLogitError: 1e-4, greedyAgreement: 1 }, // bf16 weights convert to fp16 exactly
      int8: { maxLogitError: 0.25, greedyAgreement: 0.9 },
      int4: { maxLogitError: 2.5, greedyAgreement: 0.5 },
    } as const;

    for (const dtype of ['fp16', 'int8', 'int4'] as const) {
      it(`${dtype} stays within its stated bounds`, async () => {
        const ckpt = await loadCheckpoint(golden.pthPath);
        const acc = await measureQuantAccuracy(ckpt, checkpointFingerprint(ckpt), dtype, golden.tokens, 256, {
          cacheDir,
        });
        expect(acc.maxLogitError).toBeLessThan(bounds[dtype].maxLogitError);
        expect(acc.greedyAgreement).toBeGreaterThanOrEqual(bounds[dtype].greedyAgreement);
        if (dtype !== 'fp16') expect(acc.maxLogitError).toBeGreaterThan(0); // it really ran quantised
      });
    }
  });
});
