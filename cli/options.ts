// Parsers for CLI flags: a bad value is one clear line, never a stack trace.
import { InvalidArgumentError } from 'commander';
import { TaskLevelValues, type TaskLevel } from '../schemas/contract.js';
import type { Upweight } from '../processors/sample.js';

export function integer(min: number, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^-?\d+$/.test(value.trim()) || n < min || n > max) {
      throw new InvalidArgumentError(`expected a whole number from ${min}${max < Number.MAX_SAFE_INTEGER ? ` to ${max}` : ''}`);
    }
    return n;
  };
}

export function decimal(min: number, max: number, exclusiveMin = false) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || n < min || n > max || (exclusiveMin && n === min)) {
      throw new InvalidArgumentError(`expected a number ${exclusiveMin ? 'above' : 'from'} ${min}${Number.isFinite(max) ? ` to ${max}` : ''}`);
    }
    return n;
  };
}

/** Sizes like 1048576, 512k, 1m, 2MiB. */
export function bytes(value: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmg]?)(i?b)?$/i.exec(value.trim());
  if (!m) throw new InvalidArgumentError('expected a size such as 1048576, 512k or 1m');
  const factor = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g'];
  return Math.round(Number(m[1]) * factor);
}

/** "3,1,1": children drawn per depth. */
export function breadth(value: string): number[] {
  const parts = value.split(',').map((p) => p.trim());
  if (parts.length === 0 || parts.length > 8 || parts.some((p) => !/^\d+$/.test(p) || Number(p) < 1)) {
    throw new InvalidArgumentError('expected positive whole numbers separated by commas, e.g. 5,2,1,1');
  }
  return parts.map(Number);
}

/** "function=0.6,file=0.3,multi_file=0.1". */
export function levelMix(value: string): Record<TaskLevel, number> {
  const mix: Record<TaskLevel, number> = { function: 0, file: 0, multi_file: 0 };
  for (const part of value.split(',')) {
    const [name, weight] = part.split('=').map((s) => s.trim());
    const level = name?.replace('-', '_') as TaskLevel;
    if (!TaskLevelValues.includes(level) || weight === undefined || !(Number(weight) >= 0)) {
      throw new InvalidArgumentError('expected level=weight pairs, e.g. function=0.6,file=0.3,multi_file=0.1');
    }
    mix[level] = Number(weight);
  }
  if (Object.values(mix).every((w) => w === 0)) throw new InvalidArgumentError('at least one level needs a weight above 0');
  return mix;
}

/** "error handling/exception handling=3", repeatable. */
export function upweight(value: string, previous: Upweight[] = []): Upweight[] {
  const at = value.lastIndexOf('=');
  const factor = Number(value.slice(at + 1));
  if (at <= 0 || !(factor > 0)) throw new InvalidArgumentError('expected path=factor, e.g. "error handling/retry=3"');
  return [...previous, { path: value.slice(0, at).split('/').map((s) => s.trim().toLowerCase()), factor }];
}

/** "error handling/exception handling", repeatable. */
export function featurePath(value: string, previous: string[][] = []): string[][] {
  const path = value.split('/').map((s) => s.trim().toLowerCase()).filter(Boolean);
  if (path.length === 0) throw new InvalidArgumentError('expected a feature path such as "error handling/exception handling"');
  return [...previous, path];
}

export function choice<T extends string>(allowed: readonly T[]) {
  return (value: string): T => {
    if (!(allowed as readonly string[]).includes(value)) throw new InvalidArgumentError(`expected one of: ${allowed.join(', ')}`);
    return value as T;
  };
}

/** A repeatable option's values, in order. */
export const collect = (value: string, previous: string[] = []): string[] => [...previous, value];
