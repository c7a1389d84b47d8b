// The in-memory transport of local mode: a topic is a hot stream shared by its consumers.
// Records are checked against their Avro schema as they are produced, as on Kafka, and a
// record that fails becomes a dead letter instead of crashing the run.
import { Observable, Subject } from 'rxjs';
import { SchemaViolation, type Contracts, type RecordName, type Records, type Rejection } from '../schemas/contract.js';
import { TOPICS, type TopicSpec } from '../schemas/topics.js';
import type { Transport } from './transport.js';

interface MemoryTopic {
  readonly subject: Subject<unknown>;
  producers: number;
  completed: number;
}

export class MemoryTransport implements Transport {
  private readonly topics = new Map<string, MemoryTopic>();
  private started = false;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly contracts: Contracts) {}

  consume<N extends RecordName>(topic: TopicSpec<N>, _group: string): Observable<Records[N]> {
    return this.topic(topic.name).subject.asObservable() as Observable<Records[N]>;
  }

  produce<N extends RecordName>(topic: TopicSpec<N>, records: Observable<Records[N]>): void {
    const target = this.topic(topic.name);
    const contract = this.contracts[topic.record];
    target.producers += 1;
    const connect = () => records.subscribe({
      next: (record) => {
        try {
          contract.check(record);
          target.subject.next(record);
        } catch (error) {
          if (!(error instanceof SchemaViolation) || topic.name === TOPICS.deadLetters.name) throw error;
          this.deadLetter({
            stage: `produce:${topic.name}`, reason: 'schema-violation', detail: error.message, recordId: null,
            path: null, source: null, position: null, record: JSON.stringify(record).slice(0, 16_384), at: Date.now(),
          });
        }
      },
      error: (error: unknown) => target.subject.error(error),
      complete: () => {
        target.completed += 1;
        if (target.completed === target.producers) target.subject.complete();
      },
    });
    if (this.started) connect();
    else this.waiting.push(connect);
  }

  /**
   * Lets records flow. Producers wired before this only connect now, so a producer that
   * completes at once cannot close a topic that other producers still feed.
   */
  start(): void {
    this.started = true;
    for (const connect of this.waiting.splice(0)) connect();
  }

  private deadLetter(rejection: Rejection): void {
    this.topic(TOPICS.deadLetters.name).subject.next(this.contracts.Rejection.check(rejection));
  }

  private topic(name: string): MemoryTopic {
    let t = this.topics.get(name);
    if (!t) {
      t = { subject: new Subject<unknown>(), producers: 0, completed: 0 };
      this.topics.set(name, t);
    }
    return t;
  }
}

