import * as http from 'node:http';

/** One HTTP exchange as it went over the wire, for checks and failure messages. */
export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  contentType: string;
  text: string;
  /** The body parsed as JSON when the content type says JSON and it parses; undefined otherwise. */
  json: unknown;
  /** Milliseconds from sending the request to the end of the answer. */
  ms: number;
}

export interface RawRequest {
  method: string;
  /** Sent exactly as given (no normalization of `..`, no re-encoding): `/v1/agents/%ZZ/fork`. */
  path: string;
  /** API key sent as `Authorization: Bearer`; none when undefined. */
  apiKey?: string;
  headers?: Record<string, string>;
  /** Sent as it is; a string is UTF-8. `Content-Type: application/json` is added unless headers set one. */
  body?: Buffer | string;
  /** Send the body with `Transfer-Encoding: chunked` instead of a Content-Length. */
  chunked?: boolean;
  /**
   * Keep the connection alive (the default is `Connection: close`). Only on a kept-alive connection does the
   * API read and discard the rest of a refused upload, so that a client still sending can read the answer.
   */
  keepAlive?: boolean;
  timeoutMs?: number;
}

/**
 * A request over a fresh connection with full control of the path, headers and body bytes (fetch normalizes
 * paths and refuses some bodies). Resolves with whatever the server answered; rejects only on a network
 * error or the timeout, naming the request.
 */
export function rawRequest(baseUrl: string, req: RawRequest): Promise<RawResponse> {
  const url = new URL(baseUrl);
  const headers: Record<string, string> = { ...req.headers };
  if (req.apiKey !== undefined) headers.authorization = `Bearer ${req.apiKey}`;
  const body = typeof req.body === 'string' ? Buffer.from(req.body, 'utf8') : req.body;
  if (body !== undefined) {
    if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) {
      headers['content-type'] = 'application/json';
    }
    if (req.chunked) headers['transfer-encoding'] = 'chunked';
    else headers['content-length'] = String(body.length);
  }
  const started = performance.now();
  const what = `${req.method} ${req.path.length > 200 ? `${req.path.slice(0, 200)}…` : req.path}`;
  const agent = req.keepAlive ? new http.Agent({ keepAlive: true, maxSockets: 1 }) : false;
  return new Promise<RawResponse>((resolve, reject) => {
    const request = http.request(
      {
        host: url.hostname,
        port: url.port,
        method: req.method,
        path: req.path,
        headers,
        agent,
        timeout: req.timeoutMs ?? 15_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', (err) => reject(new Error(`${what}: ${err.message}`)));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const contentType = String(res.headers['content-type'] ?? '');
          let json: unknown;
          if (/json/.test(contentType) && text.length > 0) {
            try {
              json = JSON.parse(text);
            } catch {
              json = undefined;
            }
          }
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            contentType,
            text,
            json,
            ms: performance.now() - started,
          });
        });
      },
    );
    request.on('timeout', () => request.destroy(new Error(`timed out after ${req.timeoutMs ?? 15_000} ms`)));
    request.on('error', (err) => reject(new Error(`${what}: ${err.message}`)));
    if (body !== undefined && req.chunked) {
      // Several chunks, so the server sees a stream without a declared length.
      const step = 64 * 1024;
      for (let i = 0; i < body.length; i += step) request.write(body.subarray(i, i + step));
      request.end();
    } else {
      request.end(body);
    }
  }).finally(() => {
    if (agent) agent.destroy();
  });
}

/** A short description of an exchange for failure messages. */
export function describeExchange(req: RawRequest, res: RawResponse | undefined, maxChars = 400): string {
  const cut = (s: string) => (s.length > maxChars ? `${s.slice(0, maxChars)}… (${s.length} chars)` : s);
  const sent =
    req.body === undefined
      ? ''
      : typeof req.body === 'string'
        ? ` body ${cut(JSON.stringify(req.body))}`
        : ` body bytes ${cut(req.body.toString('hex'))}`;
  const headers = req.headers ? ` headers ${JSON.stringify(req.headers)}` : '';
  const got = res ? ` → ${res.status} ${res.contentType} ${cut(res.text)}` : '';
  return `${req.method} ${cut(req.path)}${headers}${sent}${got}`;
}
