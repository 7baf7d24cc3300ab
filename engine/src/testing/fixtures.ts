/**
 * Test-only access to the shared RWKV-7 fixtures (`../shared/fixtures/rwkv7` beside the repository, or
 * `$GOOSEHERD_FIXTURES`). They are never copied into the repository. Where they are absent, a suite that
 * needs them must not look as if it passed: under CI (`CI=true`) it registers one failing test naming the
 * folder; elsewhere one skipped test naming the folder, so Jest reports it as skipped.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export function fixtureDir(): string {
  const fromEnv = process.env['GOOSEHERD_FIXTURES'];
  if (fromEnv) return path.resolve(fromEnv);
  return path.resolve(__dirname, '../../..', '../shared/fixtures/rwkv7');
}

export function fixturesPresent(): boolean {
  return fs.existsSync(path.join(fixtureDir(), 'golden-A.json'));
}

/** Whether absent fixtures fail the run (CI) rather than being reported as skipped (a developer's machine). */
export function fixturesRequired(): boolean {
  return process.env['CI'] === 'true';
}

/**
 * Registers `body` when the fixtures exist. Otherwise one test that names the folder they were looked for in:
 * failing under `CI=true`, skipped elsewhere (never a passing test that checked nothing).
 */
export function withFixtures(body: (dir: string) => void): void {
  const dir = fixtureDir();
  if (fixturesPresent()) {
    body(dir);
    return;
  }
  const title = `needs the RWKV-7 fixtures in ${dir}`;
  if (fixturesRequired()) {
    it(title, () => {
      throw new Error(
        `RWKV-7 fixtures not found in ${dir} (no golden-A.json); CI=true requires them: ` +
          'put them there or point GOOSEHERD_FIXTURES at them',
      );
    });
  } else {
    // Jest does not list the titles of a file whose every test is skipped, so say it once here too.
    console.warn(`RWKV-7 fixtures not found in ${dir}: the tests that need them are skipped`);
    it.skip(`${title} (absent here: skipped)`, () => undefined);
  }
}

interface ArrayEntry {
  dtype: 'f32' | 'i32' | 'float32' | 'int32';
  shape: number[];
  offset: number;
  nbytes: number;
}

/** golden-A.json + golden-A.bin: reference outputs of the official RWKV-7 implementation. */
export class GoldenFixture {
  readonly meta: {
    input: { tokens: number[] };
    model: { n_layer: number; n_embd: number; head_size: number; vocab_size: number };
    arrays: Record<string, ArrayEntry>;
  };
  private readonly bin: Buffer;

  constructor(readonly dir = fixtureDir()) {
    this.meta = JSON.parse(fs.readFileSync(path.join(dir, 'golden-A.json'), 'utf8'));
    this.bin = fs.readFileSync(path.join(dir, 'golden-A.bin'));
  }

  get tokens(): number[] {
    return this.meta.input.tokens;
  }

  get pthPath(): string {
    return path.join(this.dir, 'rwkv7-tiny-A.pth');
  }

  get safetensorsPath(): string {
    return path.join(this.dir, 'rwkv7-tiny-A.safetensors');
  }

  get vocabPath(): string {
    return path.join(this.dir, 'rwkv_vocab_v20230424.txt');
  }

  private entry(name: string): ArrayEntry {
    const e = this.meta.arrays[name];
    if (!e) throw new Error(`golden array ${name} not found`);
    return e;
  }

  f32(name: string): Float32Array {
    const e = this.entry(name);
    const copy = this.bin.buffer.slice(
      this.bin.byteOffset + e.offset,
      this.bin.byteOffset + e.offset + e.nbytes,
    );
    return new Float32Array(copy);
  }

  i32(name: string): Int32Array {
    const e = this.entry(name);
    const copy = this.bin.buffer.slice(
      this.bin.byteOffset + e.offset,
      this.bin.byteOffset + e.offset + e.nbytes,
    );
    return new Int32Array(copy);
  }

  /** The reference's state arrays (`state_*` or `mid_state_*`) packed into the engine's layout. */
  packedState(prefix: 'state' | 'mid_state'): Float32Array {
    const { n_layer: L, n_embd: C, head_size: N } = this.meta.model;
    const H = C / N;
    const att = this.f32(`${prefix}_att_x_prev`);
    const wkv = this.f32(`${prefix}_wkv`);
    const ffn = this.f32(`${prefix}_ffn_x_prev`);
    const per = 2 * C + H * N * N;
    const out = new Float32Array(L * per);
    for (let l = 0; l < L; l++) {
      out.set(att.subarray(l * C, (l + 1) * C), l * per);
      out.set(wkv.subarray(l * H * N * N, (l + 1) * H * N * N), l * per + C);
      out.set(ffn.subarray(l * C, (l + 1) * C), l * per + C + H * N * N);
    }
    return out;
  }
}

/** Largest |a[i] − b[i]|. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length mismatch: ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= m)) m = Number.isNaN(d) ? Infinity : d;
  }
  return m;
}
