/**
 * Pulled models under `${dataDir}/models`: each weights file sits next to a `<file>.pulled.json` record
 * (catalogue name, digest, how it was verified), the vocabulary files beside them. A file without its record
 * is not counted as pulled (it may be an interrupted run's leftover or the embedded model).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { findCatalogueModel, loadCatalogue, type CatalogueFile, type CatalogueModel } from './catalogue.js';
import { withFileLock } from './file-lock.js';
import {
  downloadFile,
  ensureDir,
  PullError,
  type DownloadOptions,
  type DownloadResult,
  type Verification,
} from './hf-download.js';

export interface PulledRecord {
  readonly name: string;
  readonly file: string;
  readonly bytes: number;
  readonly sha256: string;
  readonly verifiedBy: Verification;
  readonly url: string;
  readonly pulledAt: string;
  readonly vocab: { readonly file: string; readonly sha256: string } | null;
}

export interface PulledModel {
  readonly record: PulledRecord;
  readonly modelPath: string;
  /** Absent for a byte-level model. */
  readonly vocabPath?: string;
}

export function modelsDir(dataDir: string): string {
  return path.join(dataDir, 'models');
}

function recordPath(dataDir: string, file: string): string {
  return path.join(modelsDir(dataDir), `${file}.pulled.json`);
}

/** The pulled files of `name`, or undefined when it is not (wholly) pulled. */
export function findPulled(dataDir: string, name: string): PulledModel | undefined {
  return listPulled(dataDir).find((p) => p.record.name === name);
}

export function listPulled(dataDir: string): PulledModel[] {
  const dir = modelsDir(dataDir);
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  const pulled: PulledModel[] = [];
  for (const entry of names.filter((n) => n.endsWith('.pulled.json')).sort()) {
    let record: PulledRecord;
    try {
      record = JSON.parse(fs.readFileSync(path.join(dir, entry), 'utf8')) as PulledRecord;
    } catch {
      continue; // an unreadable record: the model counts as not pulled and a pull writes it again
    }
    const modelPath = path.join(dir, record.file);
    const vocabPath = record.vocab ? path.join(dir, record.vocab.file) : undefined;
    if (!fs.existsSync(modelPath) || (vocabPath && !fs.existsSync(vocabPath))) continue;
    pulled.push({ record, modelPath, vocabPath });
  }
  return pulled;
}

export interface PullOptions extends DownloadOptions {
  readonly dataDir: string;
  readonly catalogue?: CatalogueModel[];
  /** Download again even when the files are present. */
  readonly force?: boolean;
  /** Told when another process holds the file's lock and this one waits for it. */
  readonly onLockWait?: (lock: string) => void;
}

export interface PullOutcome extends PulledModel {
  /** False when everything was already on disk. */
  readonly downloaded: boolean;
}

/** Downloads the model (and its vocabulary) unless already pulled; returns the files. */
export async function pullModel(name: string, opts: PullOptions): Promise<PullOutcome> {
  const entry = findCatalogueModel(name, opts.catalogue ?? loadCatalogue());
  const current = (): PulledModel | undefined => {
    const found = findPulled(opts.dataDir, name);
    return found && !opts.force && found.record.file === entry.file ? found : undefined;
  };
  const existing = current();
  if (existing) return { ...existing, downloaded: false };
  const dir = modelsDir(opts.dataDir);
  try {
    ensureDir(dir);
    // Another process sharing this folder may be pulling the same file: wait for it, then use its result.
    return await withFileLock(
      path.join(dir, entry.file),
      async () => {
        const meanwhile = current();
        if (meanwhile) return { ...meanwhile, downloaded: false };
        const vocab = entry.vocab ? await ensureVocab(entry.vocab, dir, opts) : null;
        const weights = await downloadFile(entry, path.join(dir, entry.file), opts);
        const record: PulledRecord = {
          name,
          file: entry.file,
          bytes: weights.bytes,
          sha256: weights.sha256,
          verifiedBy: weights.verifiedBy,
          url: weights.url,
          pulledAt: new Date().toISOString(),
          vocab: vocab ? { file: path.basename(vocab.path), sha256: vocab.sha256 } : null,
        };
        const target = recordPath(opts.dataDir, entry.file);
        fs.writeFileSync(`${target}.tmp`, `${JSON.stringify(record, null, 2)}\n`);
        fs.renameSync(`${target}.tmp`, target);
        return { record, modelPath: weights.path, vocabPath: vocab?.path, downloaded: true };
      },
      opts.onLockWait,
    );
  } catch (err) {
    // Name the model the user asked for; the message below it names the file and URL.
    if (err instanceof PullError) throw new PullError(err.kind, `model ${name}: ${err.message}`);
    throw err;
  }
}

/** The vocabulary is shared by many models: download it only when missing (its digest is pinned). */
async function ensureVocab(
  vocab: CatalogueFile,
  dir: string,
  opts: PullOptions,
): Promise<Pick<DownloadResult, 'path' | 'sha256'>> {
  const dest = path.join(dir, vocab.file);
  return withFileLock(
    dest,
    async () => {
      if (fs.existsSync(dest) && vocab.sha256) return { path: dest, sha256: vocab.sha256 };
      return downloadFile(vocab, dest, opts);
    },
    opts.onLockWait,
  );
}

/** Removes a pulled model's weights and record (the shared vocabulary stays); false when not pulled. */
export function removePulled(dataDir: string, name: string): PulledRecord | undefined {
  const dir = modelsDir(dataDir);
  const found = findPulled(dataDir, name);
  if (!found) {
    // A half-finished pull leaves only a .part: remove that too so `rm` always frees the space.
    const entry = loadCatalogue().find((m) => m.name === name);
    if (entry) fs.rmSync(path.join(dir, `${entry.file}.part`), { force: true });
    return undefined;
  }
  fs.rmSync(found.modelPath, { force: true });
  fs.rmSync(`${found.modelPath}.part`, { force: true });
  fs.rmSync(recordPath(dataDir, found.record.file), { force: true });
  return found.record;
}
