// Implementation style of the file as a whole, decided once every fact is in: object-oriented when
// it declares classes or methods, otherwise procedural when it defines anything.
import type { Facts } from './facts.js';

export function noteStyle(facts: Facts): void {
  const { keys } = facts;
  if (facts.hasClasses) keys.add('objectOriented');
  const objectOriented = facts.hasClasses || keys.has('objectOriented') || keys.has('interfaces') || keys.has('methods');
  if (!objectOriented && facts.defs.length > 0) keys.add('procedural');
}
