import { STATUS_CODES, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { problem } from './problem.js';

/**
 * Requests Node's HTTP parser refuses before the app sees them (headers over its size limit, malformed
 * request lines) still get a problem+json answer, like every other 4xx, instead of Node's bare one.
 */
export function answerParserErrorsAsProblems(server: Server): void {
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    if (!socket.writable || (err.code === 'ECONNRESET' && !socket.readable)) {
      socket.destroy();
      return;
    }
    const status =
      err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    const body = problem(
      status,
      status === 431 ? 'headers-too-large' : status === 408 ? 'request-timeout' : 'bad-request',
      STATUS_CODES[status] ?? 'Bad Request',
      status === 431
        ? 'the request line or headers exceed 16 KiB'
        : 'the request could not be parsed as HTTP',
    );
    const json = JSON.stringify(body);
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/problem+json\r\n` +
        `Content-Length: ${Buffer.byteLength(json)}\r\nConnection: close\r\n\r\n${json}`,
    );
  });
}
