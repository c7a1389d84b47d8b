// `treesynth request-tasks`: TaskRequest records on tasks.requests for the sample stage.
import { Option, type Command } from 'commander';
import type { TaskLevel } from '../../schemas/contract.js';
import { addKafkaOptions, brokersOf, registryOf, taskLevel, topicSettings, treeKeys, type KafkaCommandOptions } from '../kafka-options.js';
import { integer } from '../options.js';

interface RequestTasksCommandOptions extends KafkaCommandOptions {
  count: number;
  treeKey: string;
  level?: TaskLevel;
  startIndex?: number;
}

export function registerRequestTasksCommand(program: Command): void {
  addKafkaOptions(
    program
      .command('request-tasks')
      .description('Ask the sample stage for synthesis tasks: writes TaskRequest records to the tasks.requests topic.'),
  )
    .requiredOption('--count <n>', 'tasks to request', integer(1, 10_000_000))
    .option('--tree-key <keys>', 'tree(s) to sample from, comma-separated (requests go round-robin)', treeKeys, 'all')
    .addOption(new Option('--level <level>', 'task level (default: the sampler draws it from its mix)').argParser(taskLevel))
    .option('--start-index <n>', 'index of the first request (default: after the requests already in the topic); with the seed it fixes a task', integer(0))
    .action(async (options: RequestTasksCommandOptions) => {
      const { requestTasks } = await import('../../topology/ingest.js'); // Kafka clients load on use
      await requestTasks({ ...options, brokers: brokersOf(options.kafka), registryUrl: registryOf(options.registry), topics: topicSettings(options) });
    });
}
