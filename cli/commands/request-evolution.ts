// `treesynth request-evolution`: EvolutionRequest records on tree.evolve for the evolve stage,
// numbered per tree after the rounds already requested (topology/evolution.ts).
import type { Command } from 'commander';
import { addKafkaOptions, brokersOf, registryOf, topicSettings, treeKeys, type KafkaCommandOptions } from '../kafka-options.js';
import { integer } from '../options.js';

interface RequestEvolutionCommandOptions extends KafkaCommandOptions {
  rounds: number;
  treeKey: string;
}

export function registerRequestEvolutionCommand(program: Command): void {
  addKafkaOptions(
    program
      .command('request-evolution')
      .description('Evolve the feature tree on demand: writes EvolutionRequest records to the tree.evolve topic for the evolve stage.'),
  )
    .option('--rounds <n>', 'evolution rounds per tree', integer(1, 1000), 1)
    .option('--tree-key <keys>', 'tree(s) to evolve, comma-separated', treeKeys, 'all')
    .action(async (options: RequestEvolutionCommandOptions) => {
      const { requestEvolution } = await import('../../topology/ingest.js'); // Kafka clients load on use
      await requestEvolution({ ...options, brokers: brokersOf(options.kafka), registryUrl: registryOf(options.registry), topics: topicSettings(options) });
    });
}
