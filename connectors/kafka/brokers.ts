// Parsing a bootstrap list, apart from the client: the CLI checks --kafka for every Kafka
// command without loading kafkajs (or the registry client) until the command runs.

/** "127.0.0.1:9092,host:9093" → brokers; a bad entry is a usage error. */
export function parseBrokers(value: string): string[] {
  const brokers = value.split(',').map((b) => b.trim()).filter(Boolean);
  if (brokers.length === 0 || brokers.some((b) => !/^[^\s:/]+:\d{1,5}$/.test(b))) {
    throw new Error(`--kafka expects host:port[,host:port...], got "${value}"`);
  }
  return brokers;
}
