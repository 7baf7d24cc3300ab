export { WorldTokenizer, END_OF_TEXT_ID } from './world-tokenizer.js';
export { StreamingTextDecoder, type TokenByteSource } from './streaming-decoder.js';
export { parseVocab, readVocabFile, VocabFormatError, type VocabEntry } from './vocab-file.js';
export { decodePythonLiteral } from './python-literal.js';
