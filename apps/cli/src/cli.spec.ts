import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { GoldenFixture, maxAbsDiff, withFixtures } from '../../../engine/src/testing/fixtures';

/**
 * The CLI contract, checked from outside: the compiled `bin/gooseherd.js` run as a real process
 * (what `npx gooseherd` runs), its exit code, stdout, stderr and the files it writes.
 */
const BIN = path.resolve(__dirname, '../bin/gooseherd.js');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'gooseherd-cli-'));
const env = { ...process.env, GOOSEHERD_CACHE_DIR: path.join(work, 'cache') };

function gooseherd(...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { env, encoding: 'utf8', timeout: 600_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function readF32(file: string): Float32Array {
  const b = fs.readFileSync(file);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

describe('gooseherd CLI', () => {
  it('prints help for every command and exits 0', () => {
    for (const args of [
      [],
      ['model'],
      ['model', 'inspect'],
      ['model', 'eval'],
      ['model', 'tokenize'],
      ['model', 'generate'],
      ['model', 'bench'],
    ]) {
      const r = gooseherd(...args, '--help');
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/Usage: gooseherd/);
    }
  });

  it('rejects an unknown option and a bad flag value with a non-zero exit', () => {
    expect(gooseherd('model', 'inspect', '--nope').code).not.toBe(0);
    const r = gooseherd('model', 'bench', '--shape', '7b');
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/0\.1b/);
  });

  it('names a missing checkpoint file in its error', () => {
    const missing = path.join(work, 'nope.pth');
    const r = gooseherd('model', 'inspect', missing);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(missing);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  withFixtures(() => {
    const golden = new GoldenFixture();
    const V = golden.meta.model.vocab_size;
    const tokens = golden.tokens;

    it('inspect prints the derived config as JSON', () => {
      const r = gooseherd('model', 'inspect', golden.pthPath);
      expect(r.code).toBe(0);
      const cfg = JSON.parse(r.stdout);
      expect(cfg).toMatchObject({
        nLayer: 2,
        nEmbd: 128,
        nHead: 2,
        headSize: 64,
        vocabSize: 65536,
        dimFfn: 512,
      });
      expect(cfg.loraDims).toEqual({ decay: 32, a: 32, v: 32, gate: 64 });
    });

    it('inspect refuses a truncated checkpoint, naming the file', () => {
      const cut = path.join(work, 'truncated.pth');
      fs.writeFileSync(cut, fs.readFileSync(golden.pthPath).subarray(0, 1_000_000));
      const r = gooseherd('model', 'inspect', cut);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(cut);
    });

    it('eval writes [T, V] float32 logits and the final state in the reference layout', () => {
      const out = path.join(work, 'logits.bin');
      const stateOut = path.join(work, 'state.bin');
      const r = gooseherd(
        'model',
        'eval',
        '--model',
        golden.safetensorsPath,
        '--tokens',
        tokens.join(','),
        '--out',
        out,
        '--state-out',
        stateOut,
      );
      expect(r.code).toBe(0);
      const logits = readF32(out);
      expect(logits.length).toBe(tokens.length * V);
      const first = golden.f32('logits_first4');
      const last = golden.f32('logits_last4');
      for (let i = 0; i < 4; i++) {
        expect(
          maxAbsDiff(logits.subarray(i * V, (i + 1) * V), first.subarray(i * V, (i + 1) * V)),
        ).toBeLessThan(1e-4);
        const p = tokens.length - 4 + i;
        expect(
          maxAbsDiff(logits.subarray(p * V, (p + 1) * V), last.subarray(i * V, (i + 1) * V)),
        ).toBeLessThan(1e-4);
      }
      expect(maxAbsDiff(readF32(stateOut), golden.packedState('state'))).toBeLessThan(1e-4);
    });

    it('eval resumes from --state-in', () => {
      const stateIn = path.join(work, 'mid.bin');
      const mid = golden.packedState('mid_state');
      fs.writeFileSync(stateIn, new Uint8Array(mid.buffer));
      const out = path.join(work, 'resumed.bin');
      const r = gooseherd(
        'model',
        'eval',
        '--model',
        golden.pthPath,
        '--tokens',
        tokens.slice(24).join(','),
        '--out',
        out,
        '--state-in',
        stateIn,
      );
      expect(r.code).toBe(0);
      const logits = readF32(out);
      const last = golden.f32('logits_last4');
      for (let i = 0; i < 4; i++) {
        const row = tokens.length - 24 - 4 + i;
        expect(
          maxAbsDiff(logits.subarray(row * V, (row + 1) * V), last.subarray(i * V, (i + 1) * V)),
        ).toBeLessThan(1e-4);
      }
    });

    it('eval refuses a state file of the wrong size and bad token lists', () => {
      const bad = path.join(work, 'bad-state.bin');
      fs.writeFileSync(bad, new Uint8Array(100));
      let r = gooseherd(
        'model',
        'eval',
        '--model',
        golden.pthPath,
        '--tokens',
        '1,2',
        '--out',
        path.join(work, 'x.bin'),
        '--state-in',
        bad,
      );
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(bad);
      r = gooseherd(
        'model',
        'eval',
        '--model',
        golden.pthPath,
        '--tokens',
        '1,x',
        '--out',
        path.join(work, 'x.bin'),
      );
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/--tokens/);
      r = gooseherd(
        'model',
        'eval',
        '--model',
        golden.pthPath,
        '--tokens',
        '70000',
        '--out',
        path.join(work, 'x.bin'),
      );
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/70000/);
    });

    it('tokenize prints the ids as a JSON array on the last line, for text and raw bytes', () => {
      const cases = JSON.parse(fs.readFileSync(path.join(golden.dir, 'tokenizer-cases.json'), 'utf8'))
        .cases as Array<{
        kind: string;
        text?: string;
        input_hex: string;
        ids: number[];
      }>;
      const textCase = cases.find((c) => c.kind === 'text' && c.text)!;
      let r = gooseherd('model', 'tokenize', '--vocab', golden.vocabPath, '--text', textCase.text!);
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout.trim().split('\n').pop()!)).toEqual(textCase.ids);
      const bytesCase = cases.find((c) => c.kind === 'bytes')!;
      const file = path.join(work, 'raw.bin');
      fs.writeFileSync(file, Buffer.from(bytesCase.input_hex, 'hex'));
      r = gooseherd('model', 'tokenize', '--vocab', golden.vocabPath, '--input-file', file);
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout.trim().split('\n').pop()!)).toEqual(bytesCase.ids);
      r = gooseherd('model', 'tokenize', '--vocab', path.join(work, 'missing.txt'), '--text', 'hi');
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('missing.txt');
    });

    it('generate streams text, and the same seed gives the same text', () => {
      const args = [
        'model',
        'generate',
        '--model',
        golden.pthPath,
        '--vocab',
        golden.vocabPath,
        '--prompt',
        'Hello',
        '--max-tokens',
        '24',
        '--seed',
        '7',
      ];
      const a = gooseherd(...args);
      const b = gooseherd(...args);
      expect(a.code).toBe(0);
      expect(a.stdout.length).toBeGreaterThan(1);
      expect(b.stdout).toBe(a.stdout);
      const c = gooseherd(...args.slice(0, -1), '8');
      expect(c.code).toBe(0);
      expect(c.stdout).not.toBe(a.stdout);
    });
  });

  it('bench --json ends with one JSON object carrying the throughput figures', () => {
    const r = gooseherd(
      'model',
      'bench',
      '--shape',
      '0.1b',
      '--dtype',
      'int8',
      '--batch',
      '2',
      '--steps',
      '2',
      '--repeats',
      '1',
      '--prefill-tokens',
      '64',
      '--json',
    );
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout.trim().split('\n').pop()!);
    expect(result.decodeTokensPerSecond).toBeGreaterThan(0);
    expect(result.prefillTokensPerSecond).toBeGreaterThan(0);
    expect(result.stateBytes).toBe(12 * (2 * 768 + 12 * 64 * 64) * 4);
  });
});
