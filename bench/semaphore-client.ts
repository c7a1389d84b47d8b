// The orchestration bench's baseline: what a user writes without treesynth. The `openai` package
// and a semaphore of C; the SDK's own retries and backoff (which honour retry-after); the same
// prompt shape, schema name and file contents as treesynth's extraction. No treesynth code, so
// that the comparison says what treesynth's orchestration adds or costs.
// Usage: node semaphore-client.js '<json: baseURL, model, concurrency, maxRetries, timeoutMs, corpus, count>'
// Prints one JSON line: { ok, failed, seconds }.
import { readFileSync } from 'node:fs';
import OpenAI from 'openai';

interface Args {
  baseURL: string;
  model: string;
  concurrency: number;
  maxRetries: number;
  timeoutMs: number;
  /** JSONL corpus, one {"path","content"} per line. */
  corpus: string;
  /** Requests to send: the first `count` files of the corpus. */
  count: number;
}

const args = JSON.parse(process.argv[2] ?? '') as Args;
const files = readFileSync(args.corpus, 'utf8')
  .split('\n')
  .filter(Boolean)
  .slice(0, args.count)
  .map((line) => JSON.parse(line) as { path: string; content: string });
if (files.length < args.count) throw new Error(`semaphore-client: the corpus has ${files.length} files, ${args.count} asked`);

const client = new OpenAI({ baseURL: args.baseURL, apiKey: 'bench', maxRetries: args.maxRetries, timeout: args.timeoutMs });

// The plainest semaphore: a count and a queue of resolvers.
let free = args.concurrency;
const queue: (() => void)[] = [];
const acquire = (): Promise<void> => (free > 0 ? (free--, Promise.resolve()) : new Promise((resolve) => queue.push(resolve)));
const release = (): void => {
  const next = queue.shift();
  if (next) next();
  else free++;
};

let ok = 0;
let failed = 0;
const started = performance.now();
await Promise.all(
  files.map(async (file) => {
    await acquire();
    try {
      await client.chat.completions.create({
        model: args.model,
        messages: [
          { role: 'system', content: 'Name the features of this code file under the given categories. Answer in JSON.' },
          { role: 'user', content: `File: ${file.path}\n\n${file.content}` },
        ],
        response_format: { type: 'json_schema', json_schema: { name: 'code_features', schema: { type: 'object' } } },
      });
      ok++;
    } catch {
      failed++;
    } finally {
      release();
    }
  }),
);
process.stdout.write(`${JSON.stringify({ ok, failed, seconds: (performance.now() - started) / 1000 })}\n`);
