// Splits a stage's outcomes: values flow on, rejections go to the dead-letter topic.
import { filter, map, share, type Observable } from 'rxjs';
import type { Rejection } from '../schemas/contract.js';
import type { Outcome } from '../schemas/outcome.js';

export interface Split<T> {
  values: Observable<T>;
  rejections: Observable<Rejection>;
}

export function splitOutcomes<T>(outcomes: Observable<Outcome<T>>): Split<T> {
  const once = outcomes.pipe(share());
  return {
    values: once.pipe(
      filter((o): o is { ok: true; value: T } => o.ok),
      map((o) => o.value),
    ),
    rejections: once.pipe(
      filter((o): o is { ok: false; rejection: Rejection } => !o.ok),
      map((o) => o.rejection),
    ),
  };
}
