// Issues read off the text of single captures: notable comments (TODO, suppressed warnings,
// deprecation) and exception handlers that do nothing.
import type { FeatureKey } from '../tree-sitter/categories.js';

const NOTABLE_COMMENT = /TODO|FIXME|XXX|HACK|noqa|type:\s*ignore|eslint-disable|ts-ignore|ts-expect-error|nolint|NOSONAR|deprecated/i;

export function noteComment(comment: string, keys: Set<FeatureKey>): void {
  if (!NOTABLE_COMMENT.test(comment)) return;
  if (/\b(?:TODO|FIXME|XXX|HACK)\b/.test(comment)) keys.add('todoComments');
  if (/noqa|type:\s*ignore|eslint-disable|ts-ignore|ts-expect-error|nolint|NOSONAR/i.test(comment)) keys.add('suppressedWarnings');
  if (/@deprecated|\bdeprecated\b/i.test(comment)) keys.add('deprecation');
}

export function isEmptyHandler(body: string, python: boolean): boolean {
  if (python) return /^(?:pass|\.\.\.|continue)$/.test(body.replace(/#.*$/gm, '').trim());
  return /^\{\s*\}$/.test(body.replace(/\/\/.*$|\/\*[\s\S]*?\*\//gm, ''));
}
