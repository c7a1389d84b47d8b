// Finalising label paths into features: normalise spellings, drop duplicates and paths another
// one extends, cap each category, and order by the method's fixed categories.
import type { Feature } from '../../schemas/contract.js';
import { FEATURE_CATEGORIES, type FeatureCategory, type FeaturePath } from '../../schemas/categories.js';

export function finalise(paths: readonly FeaturePath[], maxPerCategory: number): Feature[] {
  const unique = new Map<string, [FeatureCategory, string[]]>();
  for (const [category, ...rawLabels] of paths) {
    const labels: string[] = [];
    for (const raw of rawLabels) {
      const label = raw.trim().toLowerCase().replace(/\s+/g, ' ');
      if (label && labels[labels.length - 1] !== label) labels.push(label);
      if (labels.length === 3) break;
    }
    if (labels.length === 0) continue;
    const key = `${category}\u0000${labels.join('\u0000')}`;
    if (!unique.has(key)) unique.set(key, [category, labels]);
  }
  // A path that another one extends says nothing more: keep only the deepest.
  const prefixes = new Set<string>();
  for (const [category, labels] of unique.values()) {
    for (let i = 1; i < labels.length; i++) prefixes.add(`${category}\u0000${labels.slice(0, i).join('\u0000')}`);
  }
  const byCategory = new Map<FeatureCategory, Feature[]>();
  for (const [key, [category, labels]] of unique) {
    if (prefixes.has(key)) continue;
    let list = byCategory.get(category);
    if (!list) byCategory.set(category, (list = []));
    if (list.length < maxPerCategory) list.push({ category, labels });
  }
  const features: Feature[] = [];
  for (const category of FEATURE_CATEGORIES) features.push(...(byCategory.get(category) ?? []));
  return features;
}
