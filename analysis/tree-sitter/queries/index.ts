// One LanguageSpec per supported language: the query and the meaning of its libraries.
import type { Language } from '../../../schemas/languages.js';
import { go } from './go.js';
import { java } from './java.js';
import { javascript, tsx, typescript } from './javascript.js';
import { python } from './python.js';
import type { LanguageSpec } from './spec.js';

export type { LanguageSpec, Rules } from './spec.js';

export const LANGUAGE_SPECS: Readonly<Record<Language, LanguageSpec>> = { python, javascript, typescript, tsx, java, go };
