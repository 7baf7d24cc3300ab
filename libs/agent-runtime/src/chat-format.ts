/**
 * The RWKV G1 chat format. Every turn ends with a blank line, so `\n\n` is what separates turns: user text
 * may not contain it, and generation stops at it by default. The prompt text is fed into the agent's
 * recurrent state, which is why a later task "remembers" an earlier one.
 */

/** Ends every turn; user and system text never contain it (see collapseBlankLines). */
export const TURN_SEPARATOR = '\n\n';

/** Stop strings when a task names none: the model ends its turn with the separator. */
export const DEFAULT_STOP: readonly string[] = Object.freeze([TURN_SEPARATOR]);

/** CRLF → LF, runs of newlines → one newline, ends trimmed: the text can no longer close a turn. */
export function collapseBlankLines(text: string): string {
  return text
    .replace(/\r\n/g, '\n')
    .replace(/\n{2,}/g, '\n')
    .trim();
}

/** The system prompt turn, fed once when an agent is created. */
export function systemTurn(system: string): string {
  return `System: ${collapseBlankLines(system)}${TURN_SEPARATOR}`;
}

/** A task's turn, ending where the model starts its answer (it writes `Assistant: Hello`, hence no space). */
export function taskTurn(input: string): string {
  return `User: ${collapseBlankLines(input)}${TURN_SEPARATOR}Assistant:`;
}
