import { collapseBlankLines, DEFAULT_STOP, systemTurn, taskTurn, TURN_SEPARATOR } from './chat-format.js';

describe('chat format', () => {
  it('collapses CRLF and blank lines so user text can never contain the turn separator', () => {
    expect(collapseBlankLines('  a\r\n\r\n\r\nb\n\nc\nd  \n\n')).toBe('a\nb\nc\nd');
    expect(collapseBlankLines('x\n\n\n\n\ny').includes(TURN_SEPARATOR)).toBe(false);
  });

  it('writes the RWKV G1 system and user turns', () => {
    expect(systemTurn('Be brief.\n\nAlways.')).toBe('System: Be brief.\nAlways.\n\n');
    expect(taskTurn(' Hi there\r\n\r\nok ')).toBe('User: Hi there\nok\n\nAssistant:');
  });

  it('stops at the turn separator by default', () => {
    expect(DEFAULT_STOP).toEqual(['\n\n']);
  });
});
