import { Injectable, type NestMiddleware } from '@nestjs/common';
import { LIMITS } from '@gooseherd/contracts';
import type { ApiRequest, ApiResponse, Next } from './api-request.js';
import { Problems, sendProblem, type ProblemException } from './problem.js';

const JSON_TYPE = /^application\/(?:[\w.-]+\+)?json$/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The only body parser: JSON in UTF-8, at most LIMITS.bodyBytes. It answers 415 for another media type,
 * 413 for a larger body (without reading it all), 400 for bad UTF-8 or malformed JSON. A request without a
 * body passes with `body` undefined.
 */
@Injectable()
export class JsonBodyMiddleware implements NestMiddleware {
  use(req: ApiRequest, res: ApiResponse, next: Next): void {
    const length = req.headers['content-length'];
    const hasBody =
      req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
    if (!hasBody) return next();

    const type = checkContentType(req.headers['content-type']);
    if (type) return reject(req, res, type);
    if (length !== undefined && Number(length) > LIMITS.bodyBytes) {
      return reject(req, res, Problems.payloadTooLarge(LIMITS.bodyBytes));
    }

    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > LIMITS.bodyBytes) {
        done = true;
        req.off('data', onData);
        return reject(req, res, Problems.payloadTooLarge(LIMITS.bodyBytes));
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('error', () => (done = true));
    req.once('end', () => {
      if (done) return;
      done = true;
      const parsed = parseJson(Buffer.concat(chunks));
      if ('problem' in parsed) return sendProblem(res, parsed.problem);
      req.body = parsed.value;
      next();
    });
  }
}

function checkContentType(header: string | undefined): ProblemException | undefined {
  const [mediaType = '', ...params] = (header ?? '').split(';').map((p) => p.trim().toLowerCase());
  if (!JSON_TYPE.test(mediaType)) return Problems.unsupportedMediaType('send Content-Type: application/json');
  const charset = params
    .find((p) => p.startsWith('charset='))
    ?.slice('charset='.length)
    .replace(/"/g, '');
  if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') {
    return Problems.unsupportedMediaType('JSON bodies must be UTF-8');
  }
  return undefined;
}

function parseJson(bytes: Buffer): { value: unknown } | { problem: ProblemException } {
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    return { problem: Problems.malformedBody('the body is not valid UTF-8') };
  }
  // Only an empty body is "no body"; whitespace alone is not JSON (400 naming body, like any malformed body).
  if (text === '') return { value: undefined };
  try {
    return { value: JSON.parse(text) as unknown };
  } catch (error) {
    return { problem: Problems.malformedBody(`malformed JSON: ${(error as Error).message}`) };
  }
}

/** Bytes of a refused body read and thrown away (so the client sees the answer) before the socket is cut. */
const DISCARD_BYTES = 16 * 1024 * 1024;

/** Answers at once, then discards the rest of the body so a client still uploading can read the answer. */
function reject(req: ApiRequest, res: ApiResponse, problem: ProblemException): void {
  sendProblem(res, problem);
  let discarded = 0;
  req.on('data', (chunk: Buffer) => {
    discarded += chunk.length;
    if (discarded > DISCARD_BYTES) req.socket.destroy();
  });
  req.resume();
}
