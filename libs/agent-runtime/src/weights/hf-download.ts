/**
 * The one adapter to a Hugging Face-style file server: downloads `<endpoint>/<repo>/resolve/main/<file>`
 * into `<dest>.part`, resuming with an HTTP Range request after a cut connection or an interrupted run,
 * verifies the SHA-256 and renames the file into place (atomic on one file system).
 *
 * Limits: at most `retries` further attempts (default 5) with exponential backoff (0.5 s doubling, capped at
 * 8 s); an attempt that receives no bytes for `idleTimeoutMs` (default 30 s) is aborted and counts as one.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable, Transform } from 'node:stream';
import type { CatalogueFile } from './catalogue.js';

export const DEFAULT_HF_ENDPOINT = 'https://huggingface.co';

/** Why a pull failed; the CLI maps each kind to its own exit code. */
export type PullErrorKind = 'not-found' | 'unauthorized' | 'http' | 'network' | 'checksum' | 'disk';

export class PullError extends Error {
  override name = 'PullError';
  constructor(
    readonly kind: PullErrorKind,
    message: string,
  ) {
    super(message);
  }
}

export interface DownloadProgress {
  readonly file: string;
  /** Bytes on disk so far, resumed ones included. */
  readonly received: number;
  /** Total size when the server says; undefined otherwise. */
  readonly total?: number;
  /** Bytes already on disk when this attempt started (excluded from rate calculations). */
  readonly resumedFrom: number;
}

export interface DownloadOptions {
  readonly endpoint?: string;
  /** Sent as `Authorization: Bearer <token>` (gated repositories). */
  readonly token?: string;
  readonly retries?: number;
  readonly backoffMs?: number;
  readonly idleTimeoutMs?: number;
  readonly onProgress?: (p: DownloadProgress) => void;
  /** Logs a retry; the CLI prints it on stderr. */
  readonly onRetry?: (attempt: number, reason: string, delayMs: number) => void;
}

export type Verification = 'catalogue' | 'server-etag' | 'first-use';

export interface DownloadResult {
  readonly path: string;
  readonly bytes: number;
  readonly sha256: string;
  /** What the digest was checked against: the catalogue, the server's LFS ETag, or nothing (recorded). */
  readonly verifiedBy: Verification;
  readonly url: string;
}

export function fileUrl(endpoint: string, f: Pick<CatalogueFile, 'repo' | 'file'>): string {
  return `${endpoint.replace(/\/+$/, '')}/${f.repo}/resolve/main/${encodeURIComponent(f.file)}`;
}

/** Downloads one catalogue file to `dest` (the final path), verified; returns its digest. */
export async function downloadFile(
  source: CatalogueFile,
  dest: string,
  opts: DownloadOptions = {},
): Promise<DownloadResult> {
  const url = fileUrl(opts.endpoint ?? DEFAULT_HF_ENDPOINT, source);
  const retries = opts.retries ?? 5;
  const backoffMs = opts.backoffMs ?? 500;
  const part = `${dest}.part`;
  const headers: Record<string, string> = {};
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  ensureDir(path.dirname(dest));

  let expectedSha = source.sha256?.toLowerCase();
  let verifiedBy: Verification = expectedSha ? 'catalogue' : 'first-use';
  let total = source.bytes;
  for (let attempt = 0; ; attempt++) {
    try {
      const have = sizeOf(part);
      const { res, linkedEtag } = await fetchFollowing(
        url,
        have > 0 ? { ...headers, range: `bytes=${have}-` } : headers,
      );
      if (!expectedSha && linkedEtag) {
        expectedSha = linkedEtag;
        verifiedBy = 'server-etag';
      }
      if (res.status === 416 && have > 0) {
        // The part is already whole (or longer than the file): start again from zero rather than guess.
        await res.body?.cancel();
        fs.rmSync(part, { force: true });
        throw new Retryable('server refused the resume range (416); restarting from zero');
      }
      if (res.status === 404) {
        await res.body?.cancel();
        throw new PullError(
          'not-found',
          `${source.file} not found at ${url} (HTTP 404): the file is not in ${source.repo} at revision main, ` +
            'or GOOSEHERD_HF_ENDPOINT points at a mirror without it',
        );
      }
      if (res.status === 401 || res.status === 403) {
        await res.body?.cancel();
        throw new PullError(
          'unauthorized',
          `${url}: HTTP ${res.status}: the repository ${source.repo} needs access; ` +
            (opts.token ? 'GOOSEHERD_HF_TOKEN was refused' : 'set GOOSEHERD_HF_TOKEN'),
        );
      }
      if (res.status >= 500 || res.status === 429) {
        await res.body?.cancel();
        throw new Retryable(`HTTP ${res.status}`);
      }
      if (res.status !== 200 && res.status !== 206) {
        await res.body?.cancel();
        throw new PullError('http', `${url}: unexpected HTTP ${res.status}`);
      }
      const resumed = res.status === 206 ? have : 0;
      const length = Number(res.headers.get('content-length') ?? NaN);
      if (Number.isFinite(length)) total = resumed + length;
      const hash = createHash('sha256');
      if (resumed > 0) await hashInto(hash, part);
      await receive(res, part, resumed, hash, source.file, total, opts);
      const bytes = sizeOf(part);
      if (total !== undefined && bytes !== total) {
        throw new Retryable(`connection closed after ${bytes} of ${total} bytes`);
      }
      const sha256 = hash.digest('hex');
      if (expectedSha && sha256 !== expectedSha) {
        fs.rmSync(part, { force: true });
        throw new PullError(
          'checksum',
          `${source.file}: SHA-256 mismatch (expected ${expectedSha} from the ${verifiedBy === 'catalogue' ? 'catalogue' : "server's ETag"}, ` +
            `got ${sha256}); the download was removed`,
        );
      }
      try {
        fs.renameSync(part, dest);
      } catch (err) {
        throw diskError(dest, err);
      }
      return { path: dest, bytes, sha256, verifiedBy, url };
    } catch (err) {
      if (err instanceof PullError) throw err;
      const reason = err instanceof Retryable ? err.message : describeNetworkError(err);
      if (attempt >= retries) {
        const kept =
          sizeOf(part) > 0 ? ` (the partial file ${part} is kept; run the pull again to resume)` : '';
        throw new PullError('network', `${url}: ${reason}; gave up after ${attempt + 1} attempts${kept}`);
      }
      const delay = Math.min(backoffMs * 2 ** attempt, 8000);
      opts.onRetry?.(attempt + 1, reason, delay);
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}

class Retryable extends Error {}

/** mkdir -p, failing with a PullError of kind `disk` that names the folder. */
export function ensureDir(dir: string): void {
  try {
    fs.mkdirSync(dir, { recursive: true });
  } catch (err) {
    throw diskError(dir, err);
  }
}

/** Redirects followed per request (Hugging Face: one, from `resolve/main` to its CDN). */
const MAX_REDIRECTS = 5;

/**
 * fetch with redirects followed by hand, so that (1) the `X-Linked-Etag` of the `resolve/main` answer (a 302
 * on huggingface.co, carrying the LFS object's SHA-256) is seen, and (2) the token never leaves the origin it
 * was meant for: Authorization is dropped when a redirect changes the origin.
 */
async function fetchFollowing(
  url: string,
  headers: Record<string, string>,
): Promise<{ res: Response; linkedEtag?: string }> {
  let current = url;
  let sendHeaders = headers;
  let linkedEtag: string | undefined;
  for (let hop = 0; ; hop++) {
    const res = await fetch(current, { headers: sendHeaders, redirect: 'manual' });
    // Hugging Face sends the LFS object's SHA-256 as the (linked) ETag of large files.
    const etag = (res.headers.get('x-linked-etag') ?? res.headers.get('etag') ?? '').replace(/^W\/|"/g, '');
    if (!linkedEtag && /^[0-9a-f]{64}$/i.test(etag)) linkedEtag = etag.toLowerCase();
    const location = res.headers.get('location');
    if (res.status < 300 || res.status >= 400 || !location) return { res, linkedEtag };
    await res.body?.cancel();
    if (hop >= MAX_REDIRECTS) throw new PullError('http', `${url}: more than ${MAX_REDIRECTS} redirects`);
    const next = new URL(location, current);
    if (next.origin !== new URL(current).origin) {
      const { authorization: _dropped, ...rest } = sendHeaders;
      sendHeaders = rest;
    }
    current = next.href;
  }
}

async function receive(
  res: Response,
  part: string,
  resumed: number,
  hash: ReturnType<typeof createHash>,
  file: string,
  total: number | undefined,
  opts: DownloadOptions,
): Promise<void> {
  if (!res.body) throw new Retryable('empty response body');
  let received = resumed;
  let out: fs.WriteStream;
  try {
    out = fs.createWriteStream(part, { flags: resumed > 0 ? 'a' : 'w' });
  } catch (err) {
    throw diskError(part, err);
  }
  const idleMs = opts.idleTimeoutMs ?? 30_000;
  const body = Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>);
  let idle = setTimeout(() => body.destroy(new Retryable(`no data for ${idleMs} ms`)), idleMs);
  const meter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      clearTimeout(idle);
      idle = setTimeout(() => body.destroy(new Retryable(`no data for ${idleMs} ms`)), idleMs);
      hash.update(chunk);
      received += chunk.length;
      opts.onProgress?.({ file, received, total, resumedFrom: resumed });
      done(null, chunk);
    },
  });
  try {
    await pipeline(body, meter, out);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOSPC' || code === 'EACCES' || code === 'EROFS' || code === 'EDQUOT' || code === 'EIO') {
      throw diskError(part, err);
    }
    throw err;
  } finally {
    clearTimeout(idle);
  }
}

async function hashInto(hash: ReturnType<typeof createHash>, file: string): Promise<void> {
  for await (const chunk of fs.createReadStream(file)) hash.update(chunk as Buffer);
}

function sizeOf(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}

function diskError(file: string, err: unknown): PullError {
  const code = (err as NodeJS.ErrnoException).code ?? '';
  const why =
    code === 'ENOSPC'
      ? 'no space left on the device'
      : code === 'EACCES' || code === 'EPERM'
        ? 'permission denied'
        : code === 'EROFS'
          ? 'read-only file system'
          : code === 'EEXIST' || code === 'ENOTDIR'
            ? 'a file is in the way where a folder is needed'
            : (err as Error).message;
  return new PullError('disk', `${file}: cannot write: ${why}`);
}

function describeNetworkError(err: unknown): string {
  // undici wraps the socket error: `fetch failed` with the cause (or an AggregateError of causes) inside.
  type Cause = { code?: string; message?: string; errors?: Cause[] };
  const cause = (err as { cause?: Cause }).cause;
  const inner = cause?.code ? cause : cause?.errors?.find((e) => e.code);
  if (inner?.code) return `${inner.code}${inner.message ? ` (${inner.message})` : ''}`;
  if (cause?.message) return `${(err as Error).message}: ${cause.message}`;
  return (err as Error).message ?? String(err);
}
