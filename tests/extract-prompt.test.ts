// The extraction prompt gives every category a definition and sub-category hints, so the same
// feature lands under the same category and first label in every file.
import { describe, expect, it } from 'vitest';
import { CATEGORY_GUIDE, EXTRACT_PROMPT_VERSION, extractMessages } from '../prompts/extract-features.js';
import { FEATURE_CATEGORIES } from '../schemas/categories.js';

const system = extractMessages({ path: 'a.py', language: 'python', content: 'def f():\n    return 1\n' }, 1000)[0]!.content as string;

describe('extraction prompt', () => {
  it('defines every category and lists its typical first labels, one line each', () => {
    for (const category of FEATURE_CATEGORIES) {
      const guide = CATEGORY_GUIDE[category];
      expect(guide.definition.length).toBeGreaterThan(10);
      expect(guide.subcategories.length).toBeGreaterThanOrEqual(4);
      expect(system).toContain(`- ${category}: ${guide.definition} (e.g. ${guide.subcategories.join(', ')})`);
    }
    expect(Object.keys(CATEGORY_GUIDE).sort()).toEqual([...FEATURE_CATEGORIES].sort());
  });

  it('hints are labels as the prompt asks for them: short lowercase phrases, not identifiers, unique within a category', () => {
    for (const category of FEATURE_CATEGORIES) {
      const hints = CATEGORY_GUIDE[category].subcategories;
      expect(new Set(hints).size).toBe(hints.length);
      for (const hint of hints) {
        expect(hint).toBe(hint.toLowerCase());
        expect(hint.split(' ').length).toBeLessThanOrEqual(5);
        expect(hint).not.toMatch(/[_()]|[a-z][A-Z]/);
      }
    }
  });

  it('asks for behaviours, not identifiers, one category per feature, under a new prompt version (recorded in every answer\'s provenance)', () => {
    expect(CATEGORY_GUIDE.functionality.definition).toMatch(/behaviour, never as an identifier/);
    expect(system).toMatch(/not identifiers from it \("configuration parsing", not "parse os release"\)/);
    expect(system).toMatch(/under the one category that fits it best/);
    expect(EXTRACT_PROMPT_VERSION).toBe('extract-v2');
  });
});
