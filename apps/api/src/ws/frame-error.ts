import { WsException } from '@nestjs/websockets';

/** Thrown by a gateway handler; the error-frame filter answers `{"type":"error","code","message","field"?}`. */
export class FrameError extends WsException {
  constructor(
    readonly code: string,
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = 'FrameError';
  }
}
