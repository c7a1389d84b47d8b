// The orchestration bench's endpoint: the fake OpenAI-compatible server with a fixed latency L,
// in a process of its own, so that neither client's CPU work delays its answers. A share of the
// chat requests (seeded) get a 429 or a 503, alternately, after the same latency and without
// retry-after: a flaky proxy or an overloaded shard, not a rate limit that names its wait.
// Driven over IPC by bench/orchestration.ts: `reset` starts a case, `stats` reads it.
import { seededRandom } from '../lib/random.js';
import { startFakeOpenAI } from '../tests/fakes/fake-openai-server.js';
import { scriptedModel } from '../tests/fakes/scripted-model.js';

export type EndpointCommand = { type: 'reset'; faultRate: number; seed: number } | { type: 'stats' } | { type: 'close' };

export interface EndpointStats {
  /** Chat requests answered, successes and injected faults. */
  requests: number;
  ok: number;
  faults: number;
  /** From the first request's arrival to the last answer, s. */
  busySeconds: number;
  /** Most requests at the server at once (each is there for L before its answer). */
  peakInFlight: number;
}

export type EndpointMessage = { type: 'listening'; url: string } | { type: 'ready' } | { type: 'stats'; stats: EndpointStats };

/** Most of `times` (sorted) within any span of `width`: requests in flight, each answered `width` after it came. */
function peakWithin(times: readonly number[], width: number): number {
  let peak = 0;
  for (let i = 0, j = 0; i < times.length; i++) {
    while (times[i]! - times[j]! > width) j++;
    peak = Math.max(peak, i - j + 1);
  }
  return peak;
}

async function main(): Promise<void> {
  const latencyMs = Number(process.argv[2]);
  if (!(latencyMs > 0)) throw new Error(`fake-endpoint: latency must be > 0 ms, got ${process.argv[2]}`);
  const answer = scriptedModel();
  let random = seededRandom(1);
  let faultRate = 0;
  /** When each chat request was answered (its handler runs after the latency), ms. */
  let answered: number[] = [];
  let faults = 0;
  const server = await startFakeOpenAI({
    latencyMs,
    models: ['bench-model'],
    chat: (request, { callIndex }) => {
      answered.push(performance.now());
      if (random() < faultRate) {
        faults += 1;
        return { kind: 'error', status: callIndex % 2 === 0 ? 429 : 503 };
      }
      return answer(request);
    },
  });
  const send = (message: EndpointMessage) => process.send!(message);
  process.on('message', (command: EndpointCommand) => {
    if (command.type === 'reset') {
      random = seededRandom(command.seed);
      faultRate = command.faultRate;
      answered = [];
      faults = 0;
      send({ type: 'ready' });
    } else if (command.type === 'stats') {
      const first = answered[0];
      const last = answered[answered.length - 1];
      send({
        type: 'stats',
        stats: {
          requests: answered.length, ok: answered.length - faults, faults,
          busySeconds: first === undefined || last === undefined ? 0 : (last - first + latencyMs) / 1000,
          peakInFlight: peakWithin(answered, latencyMs),
        },
      });
    } else {
      void server.close().then(() => process.exit(0));
    }
  });
  send({ type: 'listening', url: server.url });
}

await main();
