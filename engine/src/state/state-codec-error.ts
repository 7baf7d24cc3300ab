/** Why a state blob was refused; `code` is for programs, the message for people. */
export type StateCodecErrorCode =
  | 'BAD_MAGIC'
  | 'UNSUPPORTED_VERSION'
  | 'UNSUPPORTED_DTYPE'
  | 'UNSUPPORTED_FLAGS'
  | 'FINGERPRINT_MISMATCH'
  | 'CONFIG_MISMATCH'
  | 'BAD_LENGTH'
  | 'CHECKSUM_MISMATCH'
  | 'INVALID_ARGUMENT';

export class StateCodecError extends Error {
  constructor(
    readonly code: StateCodecErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'StateCodecError';
  }
}
