// Why a file is refused before any fact is collected: the share of it inside syntax errors, and
// the rejection record (no grammar, parse failure or time-out, too many errors) the stage emits.
import type { CodeFile, FeatureSet } from '../../schemas/contract.js';
import { rejection, type Outcome } from '../../schemas/outcome.js';
import type { SyntaxNode } from '../tree-sitter/grammars.js';
import { EXTRACT_STATIC_STAGE } from './config.js';

export function rejectFile(file: CodeFile, reason: string, detail: string, now: number): Outcome<FeatureSet> {
  // `rejection` rather than `reject` so the timestamp is `now`, keeping the stage a pure function.
  return {
    ok: false,
    rejection: rejection(
      { stage: EXTRACT_STATIC_STAGE, reason, detail, recordId: file.id, path: file.path, source: file.source, record: file },
      now,
    ),
  };
}

/** Share of the text covered by ERROR nodes; a MISSING node (zero width) counts as one character. */
export function errorRatio(root: SyntaxNode, length: number): number {
  if (length === 0) return 0;
  let bad = 0;
  const stack: SyntaxNode[] = [root];
  while (stack.length > 0) {
    const node = stack.pop()!;
    if (node.isError) bad += node.endIndex - node.startIndex;
    else if (node.isMissing) bad += 1;
    else if (node.hasError) for (const child of node.children) stack.push(child);
  }
  return Math.min(1, bad / length);
}
