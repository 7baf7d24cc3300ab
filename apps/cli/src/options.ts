import * as fs from 'node:fs';
import { InvalidArgumentError } from 'commander';
import { WEIGHT_DTYPES, WeightDType } from '@gooseherd/engine';

/** Commander parsers that reject bad values with a message naming the flag's rule. */
export function parseIntArg(min: number, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^-?\d+$/.test(value.trim()) || n < min || n > max) {
      throw new InvalidArgumentError(`expected an integer in ${min}..${max}, got '${value}'`);
    }
    return n;
  };
}

export function parseFloatArg(min = -Infinity, max = Infinity) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || n < min || n > max) {
      throw new InvalidArgumentError(`expected a number in [${min}, ${max}], got '${value}'`);
    }
    return n;
  };
}

export function parseDType(value: string): WeightDType {
  if (!(WEIGHT_DTYPES as readonly string[]).includes(value)) {
    throw new InvalidArgumentError(`expected one of ${WEIGHT_DTYPES.join(', ')}, got '${value}'`);
  }
  return value as WeightDType;
}

/** `1,2,3` → [1, 2, 3]; rejects anything that is not a comma-separated list of non-negative integers. */
export function parseTokenList(value: string): number[] {
  const parts = value.split(',').map((s) => s.trim());
  if (parts.length === 0 || parts.some((p) => !/^\d+$/.test(p))) {
    throw new InvalidArgumentError(`expected comma-separated token ids like 1,2,3, got '${value}'`);
  }
  return parts.map(Number);
}

export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** Reads a file the user named, with errors that say which flag and file. */
export function readUserFile(flag: string, file: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : (err as Error).message;
    throw new Error(`${flag} ${file}: ${why}`);
  }
}

export function writeUserFile(flag: string, file: string, data: Uint8Array): void {
  try {
    fs.writeFileSync(file, data);
  } catch (err) {
    throw new Error(
      `${flag} ${file}: cannot write (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
    );
  }
}
