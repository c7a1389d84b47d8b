// A chat handler for the fake OpenAI server that answers treesynth's structured prompts
// plausibly (by the name of the schema each asks for), so the LLM stages can be tested end to end over real HTTP.
import type { ChatCompletionRequest, ChatReply } from './fake-openai-server.js';

function text(request: ChatCompletionRequest, role: string): string {
  const message = [...request.messages].reverse().find((m) => m.role === role);
  return typeof message?.content === 'string' ? message.content : '';
}

function schemaName(request: ChatCompletionRequest): string {
  const format = request.response_format as { json_schema?: { name?: string } } | undefined;
  return format?.json_schema?.name ?? '';
}

type Subtree = { [label: string]: Subtree | string[] };

/** Path to the first leaf of the nested subtree the evolution prompt shows. */
function firstLeaf(tree: Subtree, path: string[] = []): string[] {
  const [label, child] = Object.entries(tree)[0] ?? [];
  if (label === undefined) return path;
  if (Array.isArray(child) || child === undefined || Object.keys(child).length === 0) return [...path, label];
  return firstLeaf(child, [...path, label]);
}

/** A passing sample's files: one solution module, or two that import each other. */
function sampleFiles(multi: boolean) {
  return [
    { path: 'mathlib.py', role: 'solution', content: 'def add(a, b):\n    return a + b\n' },
    ...(multi ? [{ path: 'stats.py', role: 'solution', content: 'from mathlib import add\n\n\ndef total(xs):\n    s = 0\n    for x in xs:\n        s = add(s, x)\n    return s\n' }] : []),
    { path: 'test_solution.py', role: 'test', content: multi ? 'from stats import total\n\n\ndef test_total():\n    assert total([1, 2, 3]) == 6\n' : 'from mathlib import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n' },
  ];
}

export interface ScriptOptions {
  /** Files whose path contains this get an answer that is not JSON, every time. */
  garbageFor?: string;
}

export function scriptedModel(options: ScriptOptions = {}) {
  return (request: ChatCompletionRequest): string | ChatReply => {
    const user = text(request, 'user');
    switch (schemaName(request)) {
      case 'code_features': {
        // The repair turn's last message is the complaint, so look at every user message.
        const all = request.messages.filter((m) => m.role === 'user').map((m) => String(m.content)).join('\n');
        const path = /^File: (.*)$/m.exec(all)?.[1] ?? '';
        if (options.garbageFor && path.includes(options.garbageFor)) return 'I am sorry, here are the features: algorithm, sorting';
        return JSON.stringify({
          features: [
            { category: 'algorithm', labels: ['graph traversal', 'breadth-first search'] },
            { category: 'data processing', labels: ['data validation', 'input sanitization'] },
            { category: 'implementation style', labels: ['modular design'] },
          ],
          summary: `Summary of ${path}.`,
          purpose: 'Demonstrates a feature.',
          scenario: 'Used in a test.',
        });
      }
      case 'feature_tree_expansion': {
        const tree = JSON.parse(user.slice(user.indexOf('{'))) as Subtree;
        const leaf = firstLeaf(tree);
        return JSON.stringify({
          additions: [
            { parent: leaf, labels: ['finer variant alpha', 'finer variant beta'] },
            ...(leaf.length > 1 ? [{ parent: leaf.slice(0, -1), labels: ['sibling feature one', 'sibling feature two'] }] : []),
            { parent: ['no such category'], labels: ['lost label'] },
          ],
        });
      }
      // Tree demonstration: the listed features in two groups, alternately.
      case 'feature_hierarchy': {
        const features = [...user.matchAll(/^- (.*)$/gm)].map((m) => m[1]!);
        const group = (k: number) => features.filter((_, i) => i % 2 === k);
        return JSON.stringify({ groups: [{ label: 'first group', features: group(0) }, { label: 'second group', features: group(1) }].filter((g) => g.features.length > 0) });
      }
      case 'code_question': {
        // Selects every listed feature, so mandatory ones are always among them. The list is in
        // the first user message (a repair turn's last one is the complaint).
        const list = String(request.messages.find((m) => m.role === 'user')?.content ?? '');
        const listed = [...list.matchAll(/^(\d+)\. /gm)].map((m) => Number(m[1]));
        return JSON.stringify({
          features: listed.slice(0, 64),
          scenario: 'A shop sums the prices on a receipt.',
          task: 'Implement `add(a, b)` returning the sum of two integers; it is the building block of the receipt total.',
          instruction: 'Add two integers.',
          signature: 'def add(a: int, b: int) -> int',
          examples: [{ input: 'add(2, 3)', output: '5' }],
        });
      }
      case 'code_analysis':
        return JSON.stringify({
          understanding: 'Addition is a single operation: add(2, 3) is 5.',
          boundaryCases: ['negative numbers', 'zero'],
          prerequisites: 'Integer arithmetic.',
          extraTests: [{ input: 'add(-1, 1)', expected: '0', reason: 'opposites cancel' }],
        });
      case 'code_solution':
        return JSON.stringify({ files: sampleFiles(/multi-module/.test(text(request, 'system'))), packages: [] });
      // The debugging turns answer in the whole-sample shape.
      case 'code_sample':
        return JSON.stringify({
          instruction: 'Implement `add(a, b)` returning the sum of two integers. Example: add(2, 3) == 5.',
          analysis: 'Addition is a single operation.',
          files: sampleFiles(/multi-module/.test(text(request, 'system'))),
          packages: [],
        });
      default:
        return '{}';
    }
  };
}
