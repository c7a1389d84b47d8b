// Kafka mode of `treesynth run`: implemented with the Kafka connectors.
import type { RunOptions } from './main.js';

export async function runKafka(options: RunOptions): Promise<void> {
  throw new Error(`Kafka mode is not built yet (asked for ${options.kafka})`);
}
