import { StopMatcher } from './stop-matcher';

/** Feeds pieces; returns everything emitted plus whether/what stopped. */
function run(stops: string[], pieces: string[]) {
  const m = new StopMatcher(stops);
  const emitted: string[] = [];
  let stopString: string | undefined;
  for (const piece of pieces) {
    const r = m.push(piece);
    emitted.push(r.emit);
    if (r.stopped) {
      stopString = r.stopString;
      break;
    }
  }
  if (!m.stopped) emitted.push(m.flush());
  return { emitted, text: emitted.join(''), stopped: m.stopped, stopString };
}

describe('StopMatcher', () => {
  test('stop string split across tokens is found and never emitted', () => {
    const r = run(['\n\nUser:'], ['Hello', '\n', '\nUs', 'er: more']);
    expect(r).toMatchObject({ text: 'Hello', stopped: true, stopString: '\n\nUser:' });
    expect(r.emitted).toEqual(['Hello', '', '', '']); // the "\n", "\n\nUs" were held back
  });

  test('a false alarm releases the held text', () => {
    const r = run(['\n\nUser:'], ['a\n', '\nUx', 'yz']);
    expect(r.emitted).toEqual(['a', '\n\nUx', 'yz', '']);
    expect(r.stopped).toBe(false);
  });

  test('held text is released by flush when generation ends otherwise', () => {
    const r = run(['###'], ['abc', '#', '#']);
    expect(r.emitted).toEqual(['abc', '', '', '##']);
  });

  test('the earliest stop string wins; longest on a tie', () => {
    expect(run(['world', 'o w'], ['hello world'])).toMatchObject({ text: 'hell', stopString: 'o w' });
    expect(run(['ab', 'abc'], ['xabcd'])).toMatchObject({ text: 'x', stopString: 'abc' });
  });

  test('stop string inside a single token, text after it is dropped', () => {
    expect(run(['</s>'], ['ok</s>ignored'])).toMatchObject({ text: 'ok', stopped: true });
  });

  test('CJK and emoji stop strings across pieces', () => {
    expect(run(['。\n'], ['你好', '。', '\n再见'])).toMatchObject({ text: '你好', stopped: true });
    expect(run(['🛑'], ['go ', '🛑', 'x'])).toMatchObject({ text: 'go ', stopped: true });
  });

  test('no stop strings: everything passes straight through', () => {
    const m = new StopMatcher([]);
    expect(m.push('abc')).toEqual({ emit: 'abc', stopped: false });
    expect(m.flush()).toBe('');
  });

  test('after stopping, pushes emit nothing; empty stop strings are refused', () => {
    const m = new StopMatcher(['x']);
    expect(m.push('axb').emit).toBe('a');
    expect(m.push('more')).toEqual({ emit: '', stopped: true });
    expect(() => new StopMatcher([''])).toThrow(RangeError);
  });
});
