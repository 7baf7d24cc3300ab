/** @gooseherd/grammar: grammar-constrained decoding (tool calls, JSON Schema). See README.md. */
export {
  GrammarEngine,
  applyTokenBitmask,
  bitmaskWords,
  isTokenAllowed,
  type GrammarEngineOptions,
  type TokenMatcher,
  type TokenVocabulary,
} from './constrained-decoding.js';
export {
  ConstraintSpecError,
  MAX_TOOLS,
  TOOL_CALL_CLOSE,
  TOOL_CALL_OPEN,
  TOOL_CALL_SEPARATOR,
  TOOL_NAME,
  TURN_END,
  resolveSpec,
  type ConstraintSpec,
  type ResolvedSpec,
  type ResponseFormat,
  type ToolChoice,
  type ToolSpec,
} from './constraint-spec.js';
export { SCHEMA_LIMITS, UnsupportedSchemaError, checkSchema } from './schema-support.js';
