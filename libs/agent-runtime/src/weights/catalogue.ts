/**
 * The catalogue of official RWKV-7 releases `gooseherd model pull` knows by name, and the override file
 * (GOOSEHERD_MODEL_CATALOGUE) that adds or replaces entries, e.g. for a mirror's own files or for tests.
 *
 * Checksums: only the World vocabulary's SHA-256 is pinned here. For the weights neither the exact byte
 * size nor the SHA-256 was available when this catalogue was written (no network), so those entries carry
 * `sha256: undefined` and an approximate size (parameters × 2 bytes, bf16). A pull of such an entry verifies
 * against the SHA-256 the server states for the LFS object (Hugging Face's `X-Linked-Etag` header on
 * `resolve/main/<file>`); where the server states none, the digest of the first complete download is recorded
 * next to the file (trust on first use) and `gooseherd model list` shows how each file was verified.
 * Nothing here is a made-up checksum.
 */
import * as fs from 'node:fs';
import { z } from 'zod';

export interface CatalogueFile {
  /** Hugging Face repository, `owner/name`. */
  readonly repo: string;
  /** File name in the repository's `main` revision (downloaded from `<endpoint>/<repo>/resolve/main/<file>`). */
  readonly file: string;
  /** Exact size in bytes, when known. */
  readonly bytes?: number;
  /** Approximate size in bytes, for display only (never checked). */
  readonly approxBytes?: number;
  /** Lower-case hex SHA-256 of the file, when known; otherwise see the module comment. */
  readonly sha256?: string;
}

export interface CatalogueModel extends CatalogueFile {
  /** The name users type: `gooseherd model pull <name>`, `GOOSEHERD_MODEL=<name>`. */
  readonly name: string;
  readonly description: string;
  /** The vocabulary the model needs; null = a byte-level model (256 + 1 ids) that needs none. */
  readonly vocab: CatalogueFile | null;
}

/** The RWKV World tokenizer vocabulary (65,536 ids), shared by every G1 and World release. */
export const WORLD_VOCAB: CatalogueFile = Object.freeze({
  repo: 'RWKV/v5-Eagle-7B-HF',
  file: 'rwkv_vocab_v20230424.txt',
  sha256: 'e6dee3d4e31b4d5c40ac99508ac6c701ceef4bed681bf2167ce9a908552bca89',
});

function official(
  name: string,
  repo: string,
  file: string,
  params: number,
  description: string,
): CatalogueModel {
  // bf16 .pth: two bytes per parameter; approximate, for display.
  return Object.freeze({
    name,
    repo,
    file,
    approxBytes: Math.round(params * 2),
    description,
    vocab: WORLD_VOCAB,
  });
}

/** File names as published on huggingface.co/BlinkDL/rwkv7-g1 and huggingface.co/BlinkDL/rwkv-7-world. */
export const OFFICIAL_MODELS: readonly CatalogueModel[] = Object.freeze([
  official(
    'rwkv7-g1-0.1b',
    'BlinkDL/rwkv7-g1',
    'rwkv7-g1-0.1b-20250307-ctx4096.pth',
    0.191e9,
    'RWKV-7 G1 0.1B, reasoning + chat',
  ),
  official(
    'rwkv7-g1-0.4b',
    'BlinkDL/rwkv7-g1',
    'rwkv7-g1-0.4b-20250324-ctx4096.pth',
    0.45e9,
    'RWKV-7 G1 0.4B, reasoning + chat',
  ),
  official(
    'rwkv7-g1-1.5b',
    'BlinkDL/rwkv7-g1',
    'rwkv7-g1-1.5b-20250429-ctx4096.pth',
    1.53e9,
    'RWKV-7 G1 1.5B, reasoning + chat',
  ),
  official(
    'rwkv7-g1-2.9b',
    'BlinkDL/rwkv7-g1',
    'rwkv7-g1-2.9b-20250519-ctx4096.pth',
    2.95e9,
    'RWKV-7 G1 2.9B, reasoning + chat',
  ),
  official(
    'rwkv7-world-0.1b',
    'BlinkDL/rwkv-7-world',
    'RWKV-x070-World-0.1B-v2.8-20241210-ctx4096.pth',
    0.191e9,
    'RWKV-7 World 0.1B base model',
  ),
  official(
    'rwkv7-world-0.4b',
    'BlinkDL/rwkv-7-world',
    'RWKV-x070-World-0.4B-v2.9-20250107-ctx4096.pth',
    0.45e9,
    'RWKV-7 World 0.4B base model',
  ),
  official(
    'rwkv7-world-1.5b',
    'BlinkDL/rwkv-7-world',
    'RWKV-x070-World-1.5B-v3-20250127-ctx4096.pth',
    1.53e9,
    'RWKV-7 World 1.5B base model',
  ),
  official(
    'rwkv7-world-2.9b',
    'BlinkDL/rwkv-7-world',
    'RWKV-x070-World-2.9B-v3-20250211-ctx4096.pth',
    2.95e9,
    'RWKV-7 World 2.9B base model',
  ),
]);

const Sha256 = z
  .string()
  .regex(/^[0-9a-fA-F]{64}$/, 'expected 64 hex digits')
  .transform((s) => s.toLowerCase());
const FileSchema = z.object({
  repo: z.string().regex(/^[\w.-]+\/[\w.-]+$/, 'expected owner/name'),
  file: z.string().regex(/^[\w.-]+$/, 'expected a plain file name'),
  bytes: z.number().int().nonnegative().optional(),
  approxBytes: z.number().int().nonnegative().optional(),
  sha256: Sha256.optional(),
});
const OverrideSchema = z.object({
  models: z
    .array(
      FileSchema.extend({
        name: z.string().regex(/^[\w.-]{1,128}$/, 'expected letters, digits, . _ -'),
        description: z.string().max(500).default(''),
        /** Absent = the World vocabulary; null = a byte-level model. */
        vocab: FileSchema.nullable().optional(),
      }),
    )
    .max(1000),
});

/**
 * The built-in catalogue, with the entries of the JSON file named by GOOSEHERD_MODEL_CATALOGUE
 * (`{"models": [{"name", "repo", "file", "sha256"?, "bytes"?, "vocab"?}]}`) added or replacing by name.
 */
export function loadCatalogue(overrideFile = process.env.GOOSEHERD_MODEL_CATALOGUE): CatalogueModel[] {
  const byName = new Map(OFFICIAL_MODELS.map((m) => [m.name, m]));
  if (overrideFile) {
    let raw: unknown;
    try {
      raw = JSON.parse(fs.readFileSync(overrideFile, 'utf8'));
    } catch (err) {
      throw new CatalogueError(`GOOSEHERD_MODEL_CATALOGUE=${overrideFile}: ${(err as Error).message}`);
    }
    const parsed = OverrideSchema.safeParse(raw);
    if (!parsed.success) {
      const first = parsed.error.issues[0]!;
      throw new CatalogueError(
        `GOOSEHERD_MODEL_CATALOGUE=${overrideFile}: ${first.path.join('.')}: ${first.message}`,
      );
    }
    for (const m of parsed.data.models) {
      byName.set(m.name, { ...m, vocab: m.vocab === undefined ? WORLD_VOCAB : m.vocab });
    }
  }
  return [...byName.values()];
}

export function findCatalogueModel(name: string, catalogue = loadCatalogue()): CatalogueModel {
  const found = catalogue.find((m) => m.name === name);
  if (!found) {
    throw new CatalogueError(
      `unknown model '${name}'; known: ${catalogue.map((m) => m.name).join(', ')} ` +
        '(or add it with GOOSEHERD_MODEL_CATALOGUE)',
    );
  }
  return found;
}

export class CatalogueError extends Error {
  override name = 'CatalogueError';
}
