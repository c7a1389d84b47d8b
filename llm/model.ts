// What the LLM stages need from a model: structured completions. The real one is
// llm/client.ts; without an endpoint, stages record the prompts they would have sent.
import type { CompleteRequest, LlmResult } from './client.js';
import type { LlmMessage } from './structured.js';

export interface StructuredModel {
  complete<T>(request: CompleteRequest<T>): Promise<LlmResult<T>>;
}

/** A prompt a stage would have sent, written to pending.jsonl when no endpoint is configured. */
export interface PendingPrompt {
  stage: string;
  /** The record the prompt is about: file id, task id, evolution round. */
  recordId: string;
  promptVersion: string;
  messages: LlmMessage[];
  responseFormat: { name: string; schema: Record<string, unknown> };
}

/**
 * A model to call, or a place to record what would have been asked. Stages await the record,
 * so a slow disk slows the stage instead of queueing prompts in memory.
 */
export type ModelAccess = { model: StructuredModel } | { pending: (prompt: PendingPrompt) => Promise<void> };

/** Errors that stop a stage cleanly (budget, breaker): each further record is a dead letter. */
export function stopReason(error: unknown): string | null {
  const name = error instanceof Error ? error.name : '';
  if (name === 'BudgetExhaustedError') return 'budget-exhausted';
  if (name === 'BreakerOpenError') return 'breaker-open';
  return null;
}
