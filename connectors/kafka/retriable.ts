// Admin calls kafkajs does not retry itself (metadata and offsets right after topics are
// created: UNKNOWN_TOPIC_OR_PARTITION, LEADER_NOT_AVAILABLE, NOT_LEADER_FOR_PARTITION).

/**
 * `call`, tried again every 250 ms while it fails with an error kafkajs marks retriable, for up
 * to 15 s (a broker busy creating and deleting other topics took more than 5 s to elect leaders).
 */
export async function whileRetriable<T>(call: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      if (!(error as { retriable?: boolean }).retriable || attempt >= 60) throw error;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}
