import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomCheckpoint, writeSafetensors } from '@gooseherd/engine';
import { embeddedModelPath, loadModel } from './model-loader.js';
import { ByteTokenizer } from './text-tokenizer.js';
import { fixtureDir, TEST_DATA_DIR } from './testing/test-model.js';

const cacheDir = path.join(TEST_DATA_DIR, 'cache');

describe('loadModel', () => {
  it('generates the embedded model on first start and loads the same model from disk afterwards', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gooseherd-embedded-'));
    try {
      const first = await loadModel({ modelName: 'default', dataDir, cacheDir, threads: 2 });
      expect(fs.existsSync(embeddedModelPath(dataDir))).toBe(true);
      expect(first.tokenizer.vocabSize).toBe(257);
      expect(first.bannedTokens).toEqual(Array.from({ length: 320 - 257 }, (_, i) => 257 + i));
      expect(first.describe).toMatch(/noise/);
      const again = await loadModel({ modelName: 'default', dataDir, cacheDir, threads: 2 });
      expect(again.fingerprint).toBe(first.fingerprint);
      const a = await first.engine.step([66], first.engine.zeroState());
      const b = await again.engine.step([66], again.engine.zeroState());
      expect(Array.from(b.logits)).toEqual(Array.from(a.logits));
      await Promise.all([first.engine.release(), again.engine.release()]);
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('two processes starting at once both end up with one complete model file', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gooseherd-embedded-'));
    try {
      const [a, b] = await Promise.all([
        loadModel({ modelName: 'a', dataDir, cacheDir, threads: 1 }),
        loadModel({ modelName: 'b', dataDir, cacheDir, threads: 1 }),
      ]);
      expect(a.fingerprint).toBe(b.fingerprint);
      expect(fs.readdirSync(path.join(dataDir, 'models'))).toEqual([
        path.basename(embeddedModelPath(dataDir)),
      ]);
      await Promise.all([a.engine.release(), b.engine.release()]);
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('names the missing variable or file when a model path is given without its vocabulary', async () => {
    const modelPath = __filename; // any existing file that is no checkpoint
    // The checkpoint's shape now decides whether a vocabulary is needed (see the byte-level test below), so a
    // file that is no checkpoint is named as such; a World-sized one without a vocabulary is tested below.
    await expect(loadModel({ modelName: 'm', dataDir: TEST_DATA_DIR, modelPath })).rejects.toThrow(
      /GOOSEHERD_MODEL_PATH=.*model-loader\.spec\.ts: cannot load as an RWKV-7 checkpoint/,
    );
    await expect(
      loadModel({ modelName: 'm', dataDir: TEST_DATA_DIR, modelPath, vocabPath: '/nonexistent/vocab.txt' }),
    ).rejects.toThrow(/GOOSEHERD_VOCAB_PATH=\/nonexistent\/vocab.txt: no such file/);
    await expect(
      loadModel({ modelName: 'm', dataDir: TEST_DATA_DIR, modelPath: '/nonexistent/model.pth' }),
    ).rejects.toThrow(/GOOSEHERD_MODEL_PATH=\/nonexistent\/model.pth/);
  });

  const dir = fixtureDir();
  (dir ? it : it.skip)(
    'loads a checkpoint file with the World tokenizer and bans the ids it cannot decode',
    async () => {
      const m = await loadModel({
        modelName: 'tiny',
        dataDir: TEST_DATA_DIR,
        modelPath: path.join(dir!, 'rwkv7-tiny-A.safetensors'),
        vocabPath: path.join(dir!, 'rwkv_vocab_v20230424.txt'),
        threads: 2,
      });
      expect(m.tokenizer.vocabSize).toBe(65530);
      expect(m.bannedTokens).toEqual([65530, 65531, 65532, 65533, 65534, 65535]);
      await m.engine.release();
    },
  );

  (dir ? it : it.skip)('still requires the World vocabulary for a checkpoint with 65,536 rows', async () => {
    await expect(
      loadModel({
        modelName: 'm',
        dataDir: TEST_DATA_DIR,
        modelPath: path.join(dir!, 'rwkv7-tiny-A.safetensors'),
      }),
    ).rejects.toThrow(/GOOSEHERD_VOCAB_PATH is not set: the model .* has 65536 embedding rows/);
  });

  describe('a byte-level checkpoint (fewer than 65,536 embedding rows)', () => {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'gooseherd-bytes-'));
    const modelPath = path.join(work, 'byte-model.safetensors');
    beforeAll(async () => {
      // The shape of training/models/gooseherd-tiny (byte vocabulary padded to 320 rows), smaller.
      await writeSafetensors(randomCheckpoint({ nLayer: 2, nEmbd: 128, vocabSize: 320 }, 3), modelPath);
    });
    afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

    it('loads without a vocabulary file, with the byte tokenizer, banning the padding ids', async () => {
      const m = await loadModel({
        modelName: 'bytes',
        dataDir: TEST_DATA_DIR,
        cacheDir,
        modelPath,
        threads: 1,
      });
      try {
        expect(m.tokenizer).toBeInstanceOf(ByteTokenizer);
        expect(m.bannedTokens).toEqual(Array.from({ length: 320 - 257 }, (_, i) => 257 + i));
        expect(m.describe).toMatch(/byte tokenizer/);
        const out = await m.engine.step(m.tokenizer.encode('h'), m.engine.zeroState());
        expect(out.logits.length).toBe(320);
      } finally {
        await m.engine.release();
      }
    });

    it('loads the trained byte-level model in training/models/gooseherd-tiny the same way', async () => {
      const trained = path.resolve(
        __dirname,
        '../../../training/models/gooseherd-tiny/gooseherd-tiny-L8-C384.safetensors',
      );
      const m = await loadModel({
        modelName: 'tiny',
        dataDir: TEST_DATA_DIR,
        cacheDir,
        modelPath: trained,
        threads: 1,
      });
      try {
        expect(m.tokenizer).toBeInstanceOf(ByteTokenizer);
        expect(m.describe).toMatch(/L8 C384 .*V320/);
      } finally {
        await m.engine.release();
      }
    });

    (dir ? it : it.skip)('refuses a World vocabulary larger than its rows, naming both sizes', async () => {
      await expect(
        loadModel({
          modelName: 'bytes',
          dataDir: TEST_DATA_DIR,
          modelPath,
          vocabPath: path.join(dir!, 'rwkv_vocab_v20230424.txt'),
        }),
      ).rejects.toThrow(/GOOSEHERD_VOCAB_PATH=.* has 65530 ids but the model .* only 320 embedding rows/);
    });
  });
});
