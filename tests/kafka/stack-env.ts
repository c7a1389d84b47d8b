// Where the Kafka suites find the broker and the schema registry: tests/global-setup.ts decides
// (the developer's KAFKA_BROKERS/SCHEMA_REGISTRY_URL, a docker/stack.sh already running, or
// one it starts) and hands the result over with vitest's provide/inject. The suites are
// skipped only with TREESYNTH_TEST_KAFKA=off; a stack that could not start fails them.
import { describe, inject, it } from 'vitest';

/** What tests/global-setup.ts provides as `kafkaStack`. */
export type KafkaStack =
  | { state: 'ready'; brokers: string; registry: string; source: 'environment' | 'running' | 'started' }
  | { state: 'off'; reason: string }
  | { state: 'failed'; error: string };

declare module 'vitest' {
  export interface ProvidedContext {
    kafkaStack: KafkaStack;
  }
}

export interface StackEnv {
  /** Bootstrap brokers, e.g. 127.0.0.1:9092 ('' when skipped or failed). */
  brokers: string;
  /** Confluent-compatible registry URL ('' when skipped or failed). */
  registry: string;
  /** True only with TREESYNTH_TEST_KAFKA=off. */
  skip: boolean;
  /** Why the stack is not there, when it should be. */
  error: string | null;
}

function resolveStack(): StackEnv {
  // Without the global setup (another config), the environment is all there is.
  const provided: KafkaStack =
    inject('kafkaStack') ??
    (process.env['TREESYNTH_TEST_KAFKA'] === 'off'
      ? { state: 'off', reason: 'TREESYNTH_TEST_KAFKA=off' }
      : process.env['KAFKA_BROKERS'] && process.env['SCHEMA_REGISTRY_URL']
        ? { state: 'ready', brokers: process.env['KAFKA_BROKERS'], registry: process.env['SCHEMA_REGISTRY_URL'], source: 'environment' }
        : { state: 'failed', error: 'no Kafka stack: tests/global-setup.ts did not run and KAFKA_BROKERS/SCHEMA_REGISTRY_URL are not set' });
  switch (provided.state) {
    case 'ready':
      // Child processes (the CLI under test) see the same environment as when the developer
      // exported the two variables; each test file runs in its own worker process.
      process.env['KAFKA_BROKERS'] = provided.brokers;
      process.env['SCHEMA_REGISTRY_URL'] = provided.registry;
      return { brokers: provided.brokers, registry: provided.registry, skip: false, error: null };
    case 'off':
      return { brokers: '', registry: '', skip: true, error: null };
    case 'failed':
      return { brokers: '', registry: '', skip: false, error: provided.error };
  }
}

export const kafkaStack: StackEnv = resolveStack();

/**
 * describe() for a suite that needs the broker and the registry: skipped with
 * TREESYNTH_TEST_KAFKA=off. When the stack could not be started, the suite is one failing test
 * carrying the stack's own error (its tests and hooks are not registered: they would only add
 * errors about clients that were never created).
 */
export function describeKafka(name: string, fn: () => void): void {
  const error = kafkaStack.error;
  if (error !== null) {
    describe(name, () => {
      it('has the Kafka stack (broker and schema registry)', () => {
        throw new Error(error);
      });
    });
    return;
  }
  describe.skipIf(kafkaStack.skip)(name, fn);
}
