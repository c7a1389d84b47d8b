// What local mode's wiring needs from a transport: read a topic as a stream, write a stream
// into a topic. The in-memory transport provides it; Kafka mode runs the same stage specs as
// consumer groups with transactions instead (topology/run-kafka.ts).
import type { Observable } from 'rxjs';
import type { RecordName, Records } from '../schemas/contract.js';
import type { TopicSpec } from '../schemas/topics.js';

export interface Transport {
  /** The records of a topic, checked against its schema. */
  consume<N extends RecordName>(topic: TopicSpec<N>, group: string): Observable<Records[N]>;
  /**
   * Writes `records` into a topic, checking each against its schema. A topic with several
   * producers completes when all of them have.
   */
  produce<N extends RecordName>(topic: TopicSpec<N>, records: Observable<Records[N]>): void;
  /** Lets records flow once everything is wired. */
  start(): void;
}
