// The method's fixed top-level feature categories. Every extractor (static or LLM), prompt and
// judge files its labels under one of these, so they belong to the shared records, not to any one
// extractor's vocabulary.

export const FEATURE_CATEGORIES = [
  'programming language',
  'workflow',
  'implementation style',
  'functionality',
  'resource usage',
  'computation operation',
  'security',
  'user interaction',
  'data processing',
  'file operation',
  'error handling',
  'logging',
  'dependency relations',
  'algorithm',
  'data structures',
  'implementation logic',
  'advanced techniques',
  'issues & bugs',
] as const;
export type FeatureCategory = (typeof FEATURE_CATEGORIES)[number];

export const isFeatureCategory = (name: string): name is FeatureCategory =>
  (FEATURE_CATEGORIES as readonly string[]).includes(name);

/** A category and the label path below it, most general first. */
export type FeaturePath = readonly [FeatureCategory, ...string[]];
