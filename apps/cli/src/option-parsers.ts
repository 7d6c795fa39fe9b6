import { InvalidArgumentError } from 'commander';

// Commander argument parsers for numeric flags: a bad value is a usage error (exit code 2)
// that names the flag, what it expects and what it got.

/** Parses an integer >= `min`. */
export function int(min: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`expected an integer >= ${min}, got "${value}"`);
    return n;
  };
}

/** Parses a finite number that passes `check`; `what` describes the domain in the error. */
export function real(check: (v: number) => boolean, what: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || !check(n)) throw new InvalidArgumentError(`expected ${what}, got "${value}"`);
    return n;
  };
}
