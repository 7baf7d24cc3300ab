import { systemTurn, TURN_SEPARATOR } from './chat-format.js';
import {
  parseAssistantTurn,
  parseSystemTurn,
  renderAssistantBody,
  renderAssistantTurn,
  renderObservations,
  renderObservationTurn,
  renderSystemTurn,
  renderToolCall,
  TOOL_DIALECT,
  ToolDialectError,
  type ToolCall,
  type ToolDefinition,
} from './tool-dialect.js';

const weather: ToolDefinition = {
  name: 'get_weather',
  description: 'Current weather.\n\nIn a city.',
  parameters: {
    type: 'object',
    properties: { city: { type: 'string' }, units: { type: 'string', enum: ['c', 'f'] } },
    required: ['city'],
  },
};
const add: ToolDefinition = {
  name: 'add-numbers',
  description: 'Adds.',
  parameters: { type: 'object', properties: { a: { type: 'number' }, b: { type: 'number' } } },
};

describe('tool dialect hermes-g1@1', () => {
  it('is versioned', () => {
    expect(TOOL_DIALECT).toBe('hermes-g1@1');
  });

  it('lists tools as compact JSON lines inside <tools> in the system turn', () => {
    expect(renderSystemTurn('Be brief.\n\nAlways.', [weather, add])).toBe(
      'System: Be brief.\nAlways.\n<tools>\n' +
        '{"name":"get_weather","description":"Current weather.\\n\\nIn a city.","parameters":{"type":"object",' +
        '"properties":{"city":{"type":"string"},"units":{"type":"string","enum":["c","f"]}},"required":["city"]}}\n' +
        '{"name":"add-numbers","description":"Adds.","parameters":{"type":"object","properties":{"a":{"type":"number"},' +
        '"b":{"type":"number"}}}}\n</tools>\n\n',
    );
  });

  it('writes the plain G1 system turn when the agent has no tools', () => {
    expect(renderSystemTurn('Hi.\n\nthere')).toBe(systemTurn('Hi.\n\nthere'));
  });

  it('never puts a blank line inside a turn, whatever the tool text holds', () => {
    const turn = renderSystemTurn('a', [{ ...weather, description: 'x\n\n\ny' }]);
    expect(turn.slice(0, -2).includes(TURN_SEPARATOR)).toBe(false);
    const obs = renderObservationTurn('line 1\n\n\nline 2\r\n\r\nline 3');
    expect(obs).toBe('Observation: line 1\nline 2\nline 3\n\n');
  });

  it('refuses invalid and duplicate tool names', () => {
    expect(() => renderSystemTurn('s', [{ ...weather, name: 'bad name' }])).toThrow(ToolDialectError);
    expect(() => renderSystemTurn('s', [weather, weather])).toThrow(/listed twice/);
    expect(() => renderToolCall({ name: 'x'.repeat(65), arguments: {} })).toThrow(ToolDialectError);
  });

  it('writes assistant turns: free text, then one call per line, then the separator', () => {
    const calls: ToolCall[] = [
      { name: 'get_weather', arguments: { city: 'Oslo' } },
      { name: 'add-numbers', arguments: { a: 1, b: 2.5 } },
    ];
    expect(renderAssistantTurn('Let me check.', calls)).toBe(
      'Assistant: Let me check.\n<tool_call>{"name":"get_weather","arguments":{"city":"Oslo"}}</tool_call>\n' +
        '<tool_call>{"name":"add-numbers","arguments":{"a":1,"b":2.5}}</tool_call>\n\n',
    );
    expect(renderAssistantBody('', calls.slice(0, 1))).toBe(
      ' <tool_call>{"name":"get_weather","arguments":{"city":"Oslo"}}</tool_call>\n\n',
    );
    expect(renderAssistantTurn('It is 4 °C.')).toBe('Assistant: It is 4 °C.\n\n');
  });

  it('feeds each result back as its own Observation turn, in call order, then Assistant:', () => {
    expect(renderObservations(['sunny\n\n4 C', { total: 3.5, items: [1, null] }])).toBe(
      'Observation: sunny\n4 C\n\nObservation: {"total":3.5,"items":[1,null]}\n\nAssistant:',
    );
  });

  it('parses what it renders back to the same calls and text', () => {
    const calls: ToolCall[] = [
      {
        name: 'get_weather',
        arguments: { city: 'São Paulo', nested: { list: [1, 'two', { three: true }] } },
      },
      { name: 'add-numbers', arguments: {} },
    ];
    const body = renderAssistantBody('Checking both.', calls);
    expect(parseAssistantTurn(body)).toEqual({ text: 'Checking both.', calls, invalid: [] });
    expect(parseAssistantTurn(body.slice(0, -2))).toEqual({ text: 'Checking both.', calls, invalid: [] });
    expect(parseAssistantTurn(' Just an answer.\n\n')).toEqual({
      text: 'Just an answer.',
      calls: [],
      invalid: [],
    });
    const sys = renderSystemTurn('Use tools.', [weather, add]);
    expect(parseSystemTurn(sys)).toEqual({ system: 'Use tools.', tools: [weather, add] });
    expect(parseSystemTurn(renderSystemTurn('No tools.'))).toEqual({ system: 'No tools.', tools: [] });
  });

  it('reports malformed calls instead of throwing', () => {
    const parsed = parseAssistantTurn(
      ' <tool_call>{"name":"a","arguments":{}}</tool_call>\n' +
        '<tool_call>{"name":"b","arguments":[1]}</tool_call>\n' +
        '<tool_call>{not json}</tool_call>\n' +
        '<tool_call>{"name":"bad name"}</tool_call>\n' +
        '<tool_call>{"name":"c","arguments":{},"id":1}</tool_call> and then more\n' +
        '<tool_call>{"name":"d"',
    );
    expect(parsed.calls).toEqual([{ name: 'a', arguments: {} }]);
    expect(parsed.invalid.map((i) => i.reason)).toEqual([
      'the arguments of b are not a JSON object',
      'the call is not valid JSON',
      'the call has no valid "name"',
      'the call has unknown fields: id',
      'text after a tool call',
      '<tool_call> is not closed',
    ]);
  });

  it('accepts a call without arguments as an empty object', () => {
    expect(parseAssistantTurn('<tool_call>{"name":"now"}</tool_call>').calls).toEqual([
      { name: 'now', arguments: {} },
    ]);
  });

  it('refuses a system turn whose tool list is broken', () => {
    expect(() => parseSystemTurn('User: hi\n\n')).toThrow(ToolDialectError);
    expect(() => parseSystemTurn('System: s\n<tools>\n{"name":"a"}\n</tools>\n\n')).toThrow(/needs name/);
    expect(() => parseSystemTurn('System: s\n<tools>\n{"name":"a"\n\n')).toThrow(/not closed/);
  });
});
