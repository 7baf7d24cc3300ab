/**
 * Opens the model a worker serves: a real RWKV-7 checkpoint with the World tokenizer, or, when none is
 * configured, the embedded default model so the platform runs end to end with no downloads.
 */
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  checkpointFingerprint,
  loadCheckpoint,
  randomCheckpoint,
  resolveShape,
  Rwkv7Engine,
  writeSafetensors,
  type RandomModelShape,
  type Rwkv7Checkpoint,
  type WeightDType,
} from '@gooseherd/engine';
import { ByteTokenizer, WorldTextTokenizer, type TextTokenizer } from './text-tokenizer.js';
import { findPulled, pullModel, type PullOptions } from './weights/model-store.js';

/**
 * A checkpoint with fewer embedding rows than this was trained on bytes (256 + end-of-text, padded), not on
 * the World vocabulary (65,536 ids): it is served with the byte tokenizer when no vocabulary file is given.
 */
export const WORLD_VOCAB_ROWS = 65_536;

export interface LoadModelOptions {
  /**
   * A catalogue name (GOOSEHERD_MODEL), e.g. `rwkv7-g1-0.4b`: pulled into `${dataDir}/models` when missing,
   * then served with its vocabulary. Takes precedence over modelPath.
   */
  readonly catalogueModel?: string;
  /** Endpoint, token, progress and retry settings for that pull. */
  readonly pull?: Omit<PullOptions, 'dataDir'>;
  /** A `.pth` / `.safetensors` RWKV-7 checkpoint (GOOSEHERD_MODEL_PATH); absent = the embedded model. */
  readonly modelPath?: string;
  /**
   * The World vocabulary file (GOOSEHERD_VOCAB_PATH). Required with a World-sized modelPath; without it a
   * checkpoint with fewer than 65,536 embedding rows is served with the byte tokenizer.
   */
  readonly vocabPath?: string;
  readonly modelName: string;
  /** The embedded model is written under `${dataDir}/models`; graphs are cached under `${dataDir}/cache`. */
  readonly dataDir: string;
  readonly weights?: WeightDType;
  readonly threads?: number;
  /** Default false: idle onnxruntime threads would otherwise spin on cores shared with Redis and the API. */
  readonly spinning?: boolean;
  /** Graph cache folder; default `${dataDir}/cache`. */
  readonly cacheDir?: string;
}

export interface LoadedModel {
  readonly engine: Rwkv7Engine;
  readonly tokenizer: TextTokenizer;
  readonly modelName: string;
  readonly fingerprint: string;
  /** Token ids the model has logits for but the tokenizer cannot decode; sampling must ban them. */
  readonly bannedTokens: number[];
  /** One line for logs and health checks. */
  readonly describe: string;
}

/**
 * The embedded model: random weights at a small shape, so one decode step takes a few ms on 2 cores.
 * Its output is noise; it exists to exercise scheduling, state and streaming without a download.
 * Vocabulary: 257 byte-tokenizer ids padded to a multiple of 64 (the padding ids are banned).
 */
export const EMBEDDED_MODEL_SHAPE: RandomModelShape = Object.freeze({
  nLayer: 4,
  nEmbd: 256,
  headSize: 64,
  vocabSize: 320,
});
/** Fixed so every worker (and every restart) generates the same weights, hence the same fingerprint. */
export const EMBEDDED_MODEL_SEED = 7;

export function embeddedModelPath(dataDir: string): string {
  const c = resolveShape(EMBEDDED_MODEL_SHAPE);
  const dims = `L${c.nLayer}-C${c.nEmbd}-V${c.vocabSize}-seed${EMBEDDED_MODEL_SEED}`;
  return path.join(dataDir, 'models', `embedded-rwkv7-${dims}.safetensors`);
}

export async function loadModel(opts: LoadModelOptions): Promise<LoadedModel> {
  const { ckpt, tokenizer, origin } = opts.catalogueModel
    ? await openCatalogueModel(opts.catalogueModel, opts)
    : opts.modelPath
      ? await openCheckpointFile(opts.modelPath, opts.vocabPath)
      : await openEmbeddedModel(opts.dataDir);

  const modelVocab = ckpt.config.vocabSize;
  if (tokenizer.vocabSize > modelVocab) {
    throw new Error(
      `tokenizer has ${tokenizer.vocabSize} ids but the model ${origin} only ${modelVocab} logits: wrong vocabulary file?`,
    );
  }
  const fingerprint = checkpointFingerprint(ckpt);
  const engine = Rwkv7Engine.create(ckpt, fingerprint, {
    weights: opts.weights,
    threads: opts.threads,
    spinning: opts.spinning ?? false,
    cacheDir: opts.cacheDir ?? path.join(opts.dataDir, 'cache'),
  });
  // Build/open the graphs now so the first task does not pay for it; then the weights can be freed.
  await engine.warmUp();
  engine.dropCheckpoint();

  const bannedTokens: number[] = [];
  for (let id = tokenizer.vocabSize; id < modelVocab; id++) bannedTokens.push(id);
  const c = ckpt.config;
  const describe =
    `${opts.modelName}: RWKV-7 ${origin}, L${c.nLayer} C${c.nEmbd} H${c.nHead}×${c.headSize} ` +
    `V${modelVocab}, ${engine.weights} weights, fingerprint ${fingerprint.slice(0, 12)}`;
  return { engine, tokenizer, modelName: opts.modelName, fingerprint, bannedTokens, describe };
}

interface OpenedCheckpoint {
  readonly ckpt: Rwkv7Checkpoint;
  readonly tokenizer: TextTokenizer;
  readonly origin: string;
}

/** GOOSEHERD_MODEL: the pulled files, downloading them first when this data folder has none. */
async function openCatalogueModel(name: string, opts: LoadModelOptions): Promise<OpenedCheckpoint> {
  const pulled =
    findPulled(opts.dataDir, name) ?? (await pullModel(name, { ...opts.pull, dataDir: opts.dataDir }));
  const opened = await openCheckpointFile(pulled.modelPath, pulled.vocabPath, 'GOOSEHERD_MODEL');
  return { ...opened, origin: `${name} from ${pulled.modelPath}` };
}

async function openCheckpointFile(
  modelPath: string,
  vocabPath: string | undefined,
  variable = 'GOOSEHERD_MODEL_PATH',
): Promise<OpenedCheckpoint> {
  if (!fs.existsSync(modelPath)) throw new Error(`${variable}=${modelPath}: no such file`);
  if (vocabPath && !fs.existsSync(vocabPath))
    throw new Error(`GOOSEHERD_VOCAB_PATH=${vocabPath}: no such file`);
  let ckpt: Rwkv7Checkpoint;
  try {
    ckpt = await loadCheckpoint(modelPath);
  } catch (err) {
    throw new Error(
      `${variable}=${modelPath}: cannot load as an RWKV-7 checkpoint: ${(err as Error).message}`,
    );
  }
  const rows = ckpt.config.vocabSize;
  const origin = `from ${modelPath}`;
  if (!vocabPath) {
    // The embedding's row count tells which tokenizer the checkpoint was trained with.
    if (rows < WORLD_VOCAB_ROWS)
      return { ckpt, tokenizer: new ByteTokenizer(), origin: `${origin} (byte tokenizer)` };
    throw new Error(
      `GOOSEHERD_VOCAB_PATH is not set: the model ${modelPath} has ${rows} embedding rows and needs the RWKV World ` +
        'vocabulary file (rwkv_vocab_v20230424.txt)',
    );
  }
  const tokenizer = WorldTextTokenizer.fromFile(vocabPath);
  if (tokenizer.vocabSize > rows) {
    throw new Error(
      `GOOSEHERD_VOCAB_PATH=${vocabPath} has ${tokenizer.vocabSize} ids but the model ${modelPath} only ${rows} ` +
        'embedding rows: a byte-level checkpoint needs no vocabulary (unset GOOSEHERD_VOCAB_PATH), otherwise the wrong file',
    );
  }
  return { ckpt, tokenizer, origin };
}

async function openEmbeddedModel(dataDir: string): Promise<OpenedCheckpoint> {
  const file = embeddedModelPath(dataDir);
  const origin = 'embedded (random weights: output is noise)';
  const tokenizer = new ByteTokenizer();
  if (fs.existsSync(file)) {
    try {
      return { ckpt: await loadCheckpoint(file), tokenizer, origin };
    } catch {
      // A damaged copy is only derived data: generate it again below.
    }
  }
  const ckpt = randomCheckpoint(EMBEDDED_MODEL_SHAPE, EMBEDDED_MODEL_SEED);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  // A private name, then rename: concurrent first starts (even in one process) each write whole files and
  // the last rename wins with identical bytes.
  const partial = `${file}.${process.pid}-${randomUUID()}.partial`;
  await writeSafetensors(ckpt, partial);
  fs.renameSync(partial, file);
  return { ckpt, tokenizer, origin };
}
