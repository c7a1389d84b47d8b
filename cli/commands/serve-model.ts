// `treesynth serve-model`: the tiny local model (llm/local-model.ts) as an OpenAI-compatible
// endpoint on 127.0.0.1, until SIGINT/SIGTERM. `run` starts one itself when no endpoint is
// configured; this is the same server for other tools, or for several runs to share.
import type { Command } from 'commander';
import { LOCAL_MODEL_LIMITS } from '../../llm/local-model.js';
import { describeLocalModel, serveLocalModel } from '../local-model.js';
import { integer } from '../options.js';

interface ServeModelOptions {
  host: string;
  port: number;
  modelPath?: string;
  threads: number;
  maxString: number;
  maxItems: number;
  maxTokens: number;
  context: number;
  queue: number;
  quiet: boolean;
}

export function registerServeModelCommand(program: Command): void {
  program
    .command('serve-model')
    .description('Serve the tiny local model ./setup.sh installs (SmolLM2-135M-Instruct, CPU) as an OpenAI-compatible endpoint: /v1/models and /v1/chat/completions with JSON-schema answers.')
    .option('--host <host>', 'address to listen on (the server has no key: keep it on this machine)', '127.0.0.1')
    .option('--port <port>', 'port (0 picks a free one)', integer(0, 65535), 8080)
    .option('--model-path <file>', 'the GGUF file (default: models/smollm2-135m/ under the package, as ./setup.sh installs it)')
    .option('--threads <n>', 'llama.cpp threads (more than one is slower on a busy 2-core machine)', integer(1, 256), LOCAL_MODEL_LIMITS.threads)
    .option('--max-string <n>', 'longest string in a JSON answer, characters (a schema\'s smaller maxLength wins)', integer(1), LOCAL_MODEL_LIMITS.maxLength)
    .option('--max-items <n>', 'most items of a JSON array (a schema\'s smaller maxItems wins, its minItems is kept)', integer(1), LOCAL_MODEL_LIMITS.maxItems)
    .option('--max-tokens <n>', 'output tokens of one answer at most', integer(1), LOCAL_MODEL_LIMITS.maxTokens)
    .option('--context <n>', 'context window, tokens (prompts that do not fit are answered 400 context_length_exceeded)', integer(256, 8192), LOCAL_MODEL_LIMITS.contextSize)
    .option('--queue <n>', 'requests waiting or running at most; the next is answered 503 with retry-after', integer(1, 1024), 4)
    .option('-q, --quiet', 'no line per answer', false)
    .action(async (options: ServeModelOptions) => {
      const served = await serveLocalModel({
        ...(options.modelPath ? { path: options.modelPath } : {}),
        limits: { threads: options.threads, maxLength: options.maxString, maxItems: options.maxItems, maxTokens: options.maxTokens, contextSize: options.context },
        host: options.host, port: options.port, maxQueue: options.queue,
        ...(options.quiet ? {} : { onCompletion: ({ ms, completionTokens }) => process.stderr.write(`treesynth: answered ${completionTokens} tokens in ${(ms / 1000).toFixed(1)} s (${(completionTokens / (ms / 1000)).toFixed(1)} tokens/s)\n`) }),
      });
      process.stderr.write(`treesynth: serving the tiny local model ${describeLocalModel(served.model)}; its answers are poor, it is for trying the pipeline. ^C stops\n`);
      process.stdout.write(`OPENAI_BASE_URL=${served.baseURL}\n`);
      const signal = await new Promise<NodeJS.Signals>((resolvePromise) => {
        process.once('SIGINT', resolvePromise);
        process.once('SIGTERM', resolvePromise);
      });
      process.stderr.write(`treesynth: ${signal}: stopping\n`);
      await served.close();
    });
}
