// Chat handlers for the student tests: a teacher whose tasks name their features, and a student
// that gets `add` wrong exactly when the task uses one category, so its weak area is known.
import type { ChatCompletionRequest } from './fake-openai-server.js';
import { scriptedModel } from './scripted-model.js';

const schemaName = (r: ChatCompletionRequest) => (r.response_format as { json_schema?: { name?: string } } | undefined)?.json_schema?.name ?? '';
const firstUser = (r: ChatCompletionRequest) => String(r.messages.find((m) => m.role === 'user')?.content ?? '');

/** The scripted teacher, with "It uses: <features>." added to each question's task. */
export function teacherNamingFeatures() {
  const script = scriptedModel();
  return (request: ChatCompletionRequest) => {
    if (schemaName(request) !== 'code_question') return script(request);
    const answer = JSON.parse(String(script(request))) as { task: string };
    const features = [...firstUser(request).matchAll(/^\d+\. (.*?)(?:\s+\(mandatory\))?$/gm)].map((m) => m[1]).join('; ');
    return JSON.stringify({ ...answer, task: `${answer.task} It uses: ${features}.` });
  };
}

/** Solves every task, except those whose features include `category`: then `add` subtracts. */
export function studentWeakAt(category: string) {
  return (request: ChatCompletionRequest) => {
    const wrong = new RegExp(`It uses: [^\\n]*${category}`).test(firstUser(request));
    return JSON.stringify({ files: [{ path: 'mathlib.py', content: `def add(a, b):\n    return a ${wrong ? '-' : '+'} b\n` }] });
  };
}
