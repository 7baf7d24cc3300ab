import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { embeddedModelPath, loadModel } from './model-loader.js';
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
    const modelPath = __filename; // any existing file: the vocabulary is checked first
    await expect(loadModel({ modelName: 'm', dataDir: TEST_DATA_DIR, modelPath })).rejects.toThrow(
      /GOOSEHERD_VOCAB_PATH is not set/,
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
});
