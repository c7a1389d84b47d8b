// Reading run output for measurement: tolerant of records written by other versions (a field
// added, validation details grown), strict about what the figures need. Nothing here throws on
// a bad record; the caller counts it as unreadable instead.
import type { GeneratedSample, Rejection, SynthesisTask, TaskFeature } from '../schemas/contract.js';

/** A node of tree.json as the report reads it (the stores' NestedNode, with the optional parts optional). */
export interface FeatureTreeNode {
  label: string;
  frequency: number;
  origin: 'root' | 'extracted' | 'evolved';
  aliases: string[];
  evolutionRound?: number;
  children: FeatureTreeNode[];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const ORIGINS = new Set(['root', 'extracted', 'evolved']);

/**
 * tree.json as a typed tree, or null when it is not one. A run with one tree per language writes
 * a wrapper `{label: "trees", children: [...]}` without frequency: it becomes a root whose
 * frequency is the sum of its trees'.
 */
export function readFeatureTree(value: unknown, depth = 0): FeatureTreeNode | null {
  if (!isRecord(value) || typeof value['label'] !== 'string' || depth > 64) return null;
  const children: FeatureTreeNode[] = [];
  if (Array.isArray(value['children'])) {
    for (const c of value['children']) {
      const child = readFeatureTree(c, depth + 1);
      if (child) children.push(child);
    }
  }
  const frequency = typeof value['frequency'] === 'number' && Number.isFinite(value['frequency']) ? value['frequency'] : children.reduce((s, c) => s + c.frequency, 0);
  const origin = typeof value['origin'] === 'string' && ORIGINS.has(value['origin']) ? (value['origin'] as FeatureTreeNode['origin']) : depth === 0 ? 'root' : 'extracted';
  const aliases = Array.isArray(value['aliases']) ? value['aliases'].filter((a): a is string => typeof a === 'string') : [];
  const node: FeatureTreeNode = { label: value['label'], frequency, origin, aliases, children };
  if (typeof value['evolutionRound'] === 'number') node.evolutionRound = value['evolutionRound'];
  return node;
}

function isFeature(value: unknown): value is TaskFeature {
  return isRecord(value) && Array.isArray(value['path']) && value['path'].every((p) => typeof p === 'string');
}

/**
 * A generated sample when `value` has what the figures use (id, level, language, instruction,
 * files, features); other fields are passed through as they are.
 */
export function readSample(value: unknown): GeneratedSample | null {
  if (!isRecord(value)) return null;
  const ok =
    typeof value['sampleId'] === 'string' &&
    typeof value['level'] === 'string' &&
    typeof value['language'] === 'string' &&
    typeof value['instruction'] === 'string' &&
    Array.isArray(value['files']) &&
    value['files'].every((f) => isRecord(f) && typeof f['path'] === 'string' && typeof f['content'] === 'string' && typeof f['role'] === 'string') &&
    Array.isArray(value['features']) &&
    value['features'].every(isFeature);
  return ok ? (value as unknown as GeneratedSample) : null;
}

export function readRejection(value: unknown): Rejection | null {
  if (!isRecord(value) || typeof value['stage'] !== 'string' || typeof value['reason'] !== 'string') return null;
  return {
    stage: value['stage'],
    reason: value['reason'],
    detail: typeof value['detail'] === 'string' ? value['detail'] : '',
    recordId: typeof value['recordId'] === 'string' ? value['recordId'] : null,
    path: typeof value['path'] === 'string' ? value['path'] : null,
    source: typeof value['source'] === 'string' ? value['source'] : null,
    position: typeof value['position'] === 'number' ? value['position'] : null,
    record: typeof value['record'] === 'string' ? value['record'] : null,
    at: typeof value['at'] === 'number' ? value['at'] : 0,
  };
}

export function readTask(value: unknown): SynthesisTask | null {
  if (!isRecord(value) || typeof value['taskId'] !== 'string' || !Array.isArray(value['features']) || !value['features'].every(isFeature)) return null;
  return value as unknown as SynthesisTask;
}

/** What a sample's validation says, whatever shape its `turns` has grown into. */
export interface ValidationView {
  passed: boolean;
  /** Debugging turns the sample went through (0: judged as generated). */
  turns: number;
  reason: string | null;
}

/**
 * `validation.turns` is a count today; the validate stage may record each turn as a list, and a
 * list of turns counts by its length.
 */
export function readValidation(value: unknown): ValidationView | null {
  if (!isRecord(value) || typeof value['passed'] !== 'boolean') return null;
  const raw = value['turns'];
  const turns = typeof raw === 'number' && Number.isFinite(raw) ? Math.max(0, Math.floor(raw)) : Array.isArray(raw) ? raw.length : 0;
  return { passed: value['passed'], turns, reason: typeof value['reason'] === 'string' ? value['reason'] : null };
}

/** The record a dead letter carries, parsed; null when absent or cut off past the size limit. */
export function rejectedRecord(rejection: Rejection): Record<string, unknown> | null {
  if (rejection.record === null || rejection.record.endsWith('…[truncated]')) return null;
  try {
    const value: unknown = JSON.parse(rejection.record);
    return isRecord(value) ? value : null;
  } catch {
    return null;
  }
}

/** Dead letters of the validate stage (its name may grow a suffix, e.g. validate-sandbox). */
export const isValidationRejection = (r: Rejection): boolean => /^validat/i.test(r.stage);

/** A feature path as one key; labels cannot contain the separator's control character. */
export const pathKey = (path: readonly string[]): string => path.join('\u001f');
