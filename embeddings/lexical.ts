// Offline, model-free embeddings built by feature hashing. They capture spelling and word
// overlap, not meaning: "read file" ≈ "reading files" ≈ "readFile", but "fetch url" and
// "http get" stay apart. Good enough to merge label spellings and to spot near-duplicate files
// without downloading a model; use an OpenAI-compatible embedder when synonyms matter.
import lemmatizer from 'wink-lemmatizer';
import { normalise, type Embedder } from './embedder.js';

export interface LexicalEmbedderOptions {
  /** Vector length; default 128 for labels (quality held at 128 in the tests, and HNSW inserts cost ~40% less than at 256), 256 for code. */
  dimension?: number;
  /** Bound on the per-instance word cache; cleared when exceeded. Default 100,000. */
  maxCacheEntries?: number;
}

// ---------------------------------------------------------------------------------------------
// Hashing: FNV-1a over UTF-16 code units, finished with murmur3's fmix32 so that the low bits
// (bucket) and bit 31 (sign) are independent.

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function hashRange(s: string, start: number, end: number, seed: number): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = start; i < end; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return fmix32(h);
}

function combine(a: number, b: number): number {
  return fmix32((Math.imul(a, 0x9e3779b1) ^ b) >>> 0);
}

/** Adds `weight` to the signed bucket of hash `h`. */
function addHashed(v: Float32Array, h: number, weight: number): void {
  const i = h % v.length;
  v[i] = v[i]! + (h & 0x80000000 ? -weight : weight);
}

function checkDimension(dimension: number): number {
  if (!Number.isInteger(dimension) || dimension < 8) {
    throw new Error(`lexical embedder dimension must be an integer >= 8, got ${dimension}`);
  }
  return dimension;
}

const SEED_WORD = 0x2545f491;
const SEED_GRAM = 0x6a09e667;
const SEED_LEFT = 0x3c6ef372;
const SEED_RIGHT = 0x510e527f;
const SEED_EMPTY = 0x1f83d9ab;

// ---------------------------------------------------------------------------------------------
// Label embedder

// Weights, tuned against tests/lexical-embedder.test.ts at dimension 256; the same tests hold at the
// default 128. A word contributes its
// lemma (1.0) plus its boundary-marked character 3-grams (block norm 0.7, about a third of the
// word's energy), so labels with the same lemmas score 1.00 whatever the order, inflection or
// casing, and spelling variants keep part of the 3-gram block. Measured cosines:
//   1.00  "read file" / "reading files" / "file reading" / "Read_File" / "readFile",
//         "http request" / "HTTP requests", "json parsing" / "parse json", "serialise" / "serialize",
//         "serialize json" / "JSON serialization" (via the -ization rule, not WordNet)
//   0.88  "save to file" / "save file"        0.78  "string to int" / "int to string"
//   0.69  "json parsing" / "JSON parser"      0.61  "http request" / "https request"
//   0.54  "binary search" / "linear search"   0.50  "read file" / "write file"
//   0.45  "json parsing" / "xml parsing"      0.42  "error handling" / "exception handling"
//   0.00  "sorting" / "hashing"
// Sharing k of n words scores about k/n, so a 0.85 merge threshold separates labels that differ
// in one content word up to about 6 content words.
const WORD_WEIGHT = 1.0;
const GRAM_BLOCK_WEIGHT = 0.7;
// "string to int" vs "int to string": the words either side of "to"/"into" also hash with their
// side, weighted so that the swapped pair falls below 0.85 and "save to file" / "save file" stays above.
const DIRECTION_WEIGHT = 0.65;

const STOPWORDS: ReadonlySet<string> = new Set([
  'a', 'an', 'the', 'of', 'for', 'to', 'in', 'on', 'at', 'by', 'with', 'from', 'into', 'onto',
  'via', 'using', 'and', 'or', 'is', 'are', 'was', 'were', 'be', 'been', 'its', 'it', 'this',
  'that', 'these', 'those', 'as', 'per',
]);
const DIRECTION_MARKERS: ReadonlySet<string> = new Set(['to', 'into']);

// Where WordNet's morphology does the wrong thing for code vocabulary.
const LEMMA_OVERRIDES: ReadonlyMap<string, string> = new Map([
  ['https', 'https'], // not "http"
  ['ids', 'id'],
  ['apis', 'api'], // "-is" words are otherwise kept whole ("analysis", "redis")
  ['uris', 'uri'],
  ['cpus', 'cpu'],
  ['gpus', 'gpu'],
  ['ios', 'ios'],
  ['news', 'news'],
  ['lens', 'lens'],
  ['routing', 'route'], // WordNet: "rout"
  ['routed', 'route'],
  ['routes', 'route'],
  ['data', 'data'], // not "datum"
]);

const VOWELS = /[aeiouy]/;

/**
 * Lemma of one lower-case word. Tries WordNet's noun, verb and adjective morphology and keeps the
 * shortest answer ("reading" → "read", "files" → "file", "data" stays "data"); words WordNet does
 * not know ("tokenizing", "apis") get a light suffix-stripping fallback.
 */
function lemmatizeWord(word: string): string {
  const override = LEMMA_OVERRIDES.get(word);
  if (override !== undefined) return override;
  if (word.length <= 2 || !/^[a-z]+$/.test(word)) return word;
  let w = word;
  if (w.length >= 6) {
    // British → American spelling, then -ization → -ize, so the variants share one lemma.
    w = w
      .replace(/is(e|es|ed|ing|er|ers|ation|ations)$/, 'iz$1')
      .replace(/ys(e|es|ed|ing)$/, 'yz$1')
      .replace(/([^o])our(s|ed|ing|ite|ites|able)?$/, '$1or$2')
      .replace(/ization(s?)$/, 'ize');
  }
  const noun = lemmatizer.noun(w);
  const verb = lemmatizer.verb(w);
  const adjective = lemmatizer.adjective(w);
  let best = w;
  for (const candidate of [verb, noun, adjective]) {
    if (candidate !== w && candidate.length >= 2 && candidate.length <= best.length) {
      if (candidate.length < best.length || best === w) best = candidate;
    }
  }
  return best === w ? stripUnknownSuffix(w) : best;
}

/** Porter-like suffix stripping for words the lemmatizer left alone. */
function stripUnknownSuffix(w: string): string {
  const n = w.length;
  let stem: string | undefined;
  if (n >= 6 && w.endsWith('ing')) stem = w.slice(0, -3);
  else if (n >= 5 && w.endsWith('ed') && !w.endsWith('eed')) stem = w.slice(0, -2);
  if (stem !== undefined) {
    if (!VOWELS.test(stem)) return w; // "string", "bring"
    const last = stem.charCodeAt(stem.length - 1);
    if (last === stem.charCodeAt(stem.length - 2) && !'aeioulsz'.includes(stem[stem.length - 1]!)) {
      stem = stem.slice(0, -1); // "mapp" → "map"
    } else if (/(at|bl|iz|yz)$/.test(stem)) {
      stem += 'e'; // "tokeniz" → "tokenize"
    }
    return stem.length >= 3 ? stem : w;
  }
  if (n >= 5 && /(x|ch|sh|z)es$/.test(w)) return w.slice(0, -2); // "regexes"
  if (n >= 4 && w.endsWith('s') && !/(ss|us|is|os|as|ys|js)$/.test(w)) return w.slice(0, -1); // "utils", "enums"
  return w;
}

interface WordInfo {
  readonly lemma: string;
  readonly stop: boolean;
  readonly marker: boolean;
  /** Bucket-ready hashes and signed weights of the lemma and its 3-grams. */
  readonly hashes: Uint32Array;
  readonly weights: Float32Array;
  readonly leftHash: number;
  readonly rightHash: number;
}

const CLS_SEP = 0;
const CLS_LOWER = 1;
const CLS_UPPER = 2;
const CLS_DIGIT = 3;
const CLS_OTHER = 4; // non-ASCII letter or digit: no case splitting

function charClass(c: number): number {
  if (c >= 97 && c <= 122) return CLS_LOWER;
  if (c >= 65 && c <= 90) return CLS_UPPER;
  if (c >= 48 && c <= 57) return CLS_DIGIT;
  if (c < 128) return CLS_SEP;
  if (c >= 0xd800 && c <= 0xdfff) return CLS_OTHER;
  return /[\p{L}\p{N}\p{M}]/u.test(String.fromCharCode(c)) ? CLS_OTHER : CLS_SEP;
}

function isLetterClass(cls: number): boolean {
  return cls === CLS_LOWER || cls === CLS_UPPER || cls === CLS_OTHER;
}

/**
 * Characters that join rather than split: apostrophes inside words ("user's" → "users") and the
 * slash of single-letter pairs ("I/O" → "io", "A/B").
 */
function isJoiner(s: string, i: number, c: number): boolean {
  if (c === 39 || c === 0x2019) {
    return i > 0 && i + 1 < s.length && isLetterClass(charClass(s.charCodeAt(i - 1))) && isLetterClass(charClass(s.charCodeAt(i + 1)));
  }
  if (c === 47) {
    return (
      i > 0 &&
      i + 1 < s.length &&
      isLetterClass(charClass(s.charCodeAt(i - 1))) &&
      (i < 2 || charClass(s.charCodeAt(i - 2)) === CLS_SEP) &&
      isLetterClass(charClass(s.charCodeAt(i + 1))) &&
      (i + 2 >= s.length || charClass(s.charCodeAt(i + 2)) === CLS_SEP)
    );
  }
  return false;
}

/** Lower-case words of a label, split at punctuation, camelCase, snake_case and letter/digit. */
function splitWords(label: string): string[] {
  const out: string[] = [];
  const n = label.length;
  let start = -1;
  let joined = false;
  let acronymPlural = false;
  let prev = CLS_SEP;
  const push = (end: number): void => {
    let word = label.slice(start, end);
    if (joined) word = word.replace(/['\u2019/]/g, '');
    if (acronymPlural && word.endsWith('s')) word = word.slice(0, -1);
    out.push(word.toLowerCase());
    joined = false;
    acronymPlural = false;
  };
  for (let i = 0; i < n; i++) {
    const c = label.charCodeAt(i);
    const cls = charClass(c);
    if (cls === CLS_SEP) {
      if (start >= 0 && isJoiner(label, i, c)) {
        joined = true;
        continue;
      }
      if (start >= 0) push(i);
      start = -1;
      prev = CLS_SEP;
      continue;
    }
    if (start < 0) {
      start = i;
      prev = cls;
      continue;
    }
    let boundary = false;
    if (cls === CLS_UPPER) {
      // "readFile", "HTTPRequest" (split before "R"), but "APIs" is one word: "api".
      if (prev === CLS_LOWER) boundary = true;
      else if (prev === CLS_UPPER && i + 1 < n && charClass(label.charCodeAt(i + 1)) === CLS_LOWER) {
        const pluralS = label.charCodeAt(i + 1) === 115 && (i + 2 >= n || charClass(label.charCodeAt(i + 2)) !== CLS_LOWER);
        if (pluralS) acronymPlural = true;
        else boundary = true;
      }
    } else if (cls === CLS_DIGIT) {
      boundary = prev !== CLS_DIGIT;
    } else {
      boundary = prev === CLS_DIGIT;
    }
    if (boundary) {
      push(i);
      start = i;
    }
    prev = cls;
  }
  if (start >= 0) push(n);
  return out;
}

interface LabelAnalysis {
  readonly words: WordInfo[];
  /** Whether stopwords count as content (the label has nothing else). */
  readonly allContent: boolean;
  /** Index of the "to"/"into" that splits content words into source and target sides, or -1. */
  readonly markerAt: number;
}

function buildWordInfo(word: string): WordInfo {
  const stop = STOPWORDS.has(word);
  const lemma = stop ? word : lemmatizeWord(word);
  const padded = `<${lemma}>`;
  const grams = Math.max(1, padded.length - 2);
  const hashes = new Uint32Array(1 + grams);
  const weights = new Float32Array(1 + grams);
  hashes[0] = hashRange(lemma, 0, lemma.length, SEED_WORD);
  weights[0] = WORD_WEIGHT;
  const gramWeight = GRAM_BLOCK_WEIGHT / Math.sqrt(grams);
  for (let g = 0; g < grams; g++) {
    hashes[1 + g] = hashRange(padded, g, Math.min(g + 3, padded.length), SEED_GRAM);
    weights[1 + g] = gramWeight;
  }
  return {
    lemma,
    stop,
    marker: DIRECTION_MARKERS.has(word),
    hashes,
    weights,
    leftHash: hashRange(lemma, 0, lemma.length, SEED_LEFT),
    rightHash: hashRange(lemma, 0, lemma.length, SEED_RIGHT),
  };
}

function analyseLabel(label: string, wordInfo: (word: string) => WordInfo): LabelAnalysis {
  const words = splitWords(label).map(wordInfo);
  let content = 0;
  let markerAt = -1;
  let contentAfterMarker = 0;
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    if (!w.stop) {
      content++;
      if (markerAt >= 0) contentAfterMarker++;
    } else if (w.marker && markerAt < 0 && content > 0) {
      markerAt = i;
    }
  }
  return { words, allContent: content === 0, markerAt: contentAfterMarker > 0 ? markerAt : -1 };
}

function keyOf(a: LabelAnalysis): string {
  const parts: string[] = [];
  a.words.forEach((w, i) => {
    if (i === a.markerAt) parts.push('to');
    else if (a.allContent || !w.stop) parts.push(w.lemma);
  });
  return parts.join(' ');
}

/**
 * Normalised lemma string of a label: lower-case lemmas of its content words in order
 * ("reading files" → "read file", "readFile" → "read file"). Two labels with the same key get
 * identical `LexicalLabelEmbedder` vectors, so callers can short-circuit exact matches on it.
 */
export function labelKey(label: string): string {
  return keyOf(analyseLabel(label, buildWordInfo));
}

/** Lexical embeddings for short feature labels (1–6 words); see the weights note above. */
export class LexicalLabelEmbedder implements Embedder {
  readonly name = 'lexical-label-v1';
  readonly dimension: number;
  private readonly maxCacheEntries: number;
  private readonly cache = new Map<string, WordInfo>();
  private readonly wordInfo = (word: string): WordInfo => {
    let info = this.cache.get(word);
    if (info === undefined) {
      if (this.cache.size >= this.maxCacheEntries) this.cache.clear();
      info = buildWordInfo(word);
      this.cache.set(word, info);
    }
    return info;
  };

  constructor(options: LexicalEmbedderOptions = {}) {
    this.dimension = checkDimension(options.dimension ?? 128);
    this.maxCacheEntries = options.maxCacheEntries ?? 100_000;
  }

  async embed(texts: readonly string[]): Promise<Float32Array[]> {
    return texts.map((t) => this.embedOne(t));
  }

  /** Same as `labelKey` but with this instance's word cache. */
  labelKey(label: string): string {
    return keyOf(analyseLabel(label, this.wordInfo));
  }

  /** Synchronous single-label form of `embed`. */
  embedOne(label: string): Float32Array {
    const v = new Float32Array(this.dimension);
    const a = analyseLabel(label, this.wordInfo);
    let any = false;
    for (let i = 0; i < a.words.length; i++) {
      const w = a.words[i]!;
      if (w.stop && !a.allContent) continue;
      any = true;
      for (let k = 0; k < w.hashes.length; k++) addHashed(v, w.hashes[k]!, w.weights[k]!);
      if (a.markerAt >= 0) addHashed(v, i < a.markerAt ? w.leftHash : w.rightHash, DIRECTION_WEIGHT);
    }
    // Labels with no words at all share one fixed vector, never a zero vector (cosine spaces divide by the norm).
    if (!any) addHashed(v, fmix32(SEED_EMPTY), 1);
    return normalise(v);
  }
}

// ---------------------------------------------------------------------------------------------
// Code embedder

// Token 1-grams (identifiers, literals; operators at half weight since every file has them) plus
// token 3-gram shingles, each log(1 + tf) weighted. Whitespace and most comments are skipped, so
// reformatting and comment edits barely move the vector; shingles make local edits count.
const CODE_UNIGRAM_WEIGHT = 1.0;
const CODE_OPERATOR_WEIGHT = 0.5;
const CODE_SHINGLE_WEIGHT = 1.0;

const SEED_IDENT = 0x7f4a7c15;
const SEED_NUMBER = 0x94d049bb;
const SEED_STRING = 0xbf58476d;
const SEED_OPERATOR = 0x1b873593;

function isIdentStart(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95 || c === 36 || c > 127;
}

function isIdentPart(c: number): boolean {
  return isIdentStart(c) || (c >= 48 && c <= 57);
}

/** Open-addressing counter keyed by 32-bit hashes; several times faster than Map on 1 MB files. */
class HashCounter {
  private keys = new Uint32Array(1024);
  private counts = new Uint32Array(1024);
  private size = 0;

  add(h: number): void {
    const key = h === 0 ? 1 : h; // 0 marks an empty slot
    let mask = this.keys.length - 1;
    let i = key & mask;
    for (;;) {
      const k = this.keys[i]!;
      if (k === key) {
        this.counts[i]!++;
        return;
      }
      if (k === 0) break;
      i = (i + 1) & mask;
    }
    this.keys[i] = key;
    this.counts[i] = 1;
    if (++this.size * 2 > this.keys.length) {
      this.grow();
      mask = this.keys.length - 1;
    }
  }

  /** Adds every counted hash to `v` with weight `weight * log(1 + tf)`. */
  addTo(v: Float32Array, weight: number, seed: number): void {
    for (let i = 0; i < this.keys.length; i++) {
      const k = this.keys[i]!;
      if (k !== 0) addHashed(v, seed === 0 ? k : fmix32((k ^ seed) >>> 0), weight * Math.log1p(this.counts[i]!));
    }
  }

  private grow(): void {
    const oldKeys = this.keys;
    const oldCounts = this.counts;
    this.keys = new Uint32Array(oldKeys.length * 2);
    this.counts = new Uint32Array(oldKeys.length * 2);
    const mask = this.keys.length - 1;
    for (let j = 0; j < oldKeys.length; j++) {
      const key = oldKeys[j]!;
      if (key === 0) continue;
      let i = key & mask;
      while (this.keys[i] !== 0) i = (i + 1) & mask;
      this.keys[i] = key;
      this.counts[i] = oldCounts[j]!;
    }
  }
}

/** Lexical embeddings of whole source files, for near-duplicate detection. Linear in input size. */
export class LexicalCodeEmbedder implements Embedder {
  readonly name = 'lexical-code-v1';
  readonly dimension: number;

  constructor(options: Pick<LexicalEmbedderOptions, 'dimension'> = {}) {
    this.dimension = checkDimension(options.dimension ?? 256);
  }

  async embed(texts: readonly string[]): Promise<Float32Array[]> {
    return texts.map((t) => this.embedOne(t));
  }

  /** Synchronous single-file form of `embed`. */
  embedOne(source: string): Float32Array {
    const unigrams = new HashCounter();
    const operators = new HashCounter();
    const shingles = new HashCounter();
    let prev1 = 0;
    let prev2 = 0;
    let tokens = 0;
    const emit = (h: number, isOperator: boolean): void => {
      (isOperator ? operators : unigrams).add(h);
      if (tokens >= 2) shingles.add(combine(combine(prev2, prev1), h));
      prev2 = prev1;
      prev1 = h;
      tokens++;
    };

    const s = source;
    const n = s.length;
    let i = 0;
    while (i < n) {
      const c = s.charCodeAt(i);
      if (c <= 32) {
        i++;
        continue;
      }
      const next = i + 1 < n ? s.charCodeAt(i + 1) : -1;
      if (c === 47 && next === 47) {
        // "//" line comment
        const eol = s.indexOf('\n', i + 2);
        i = eol < 0 ? n : eol + 1;
        continue;
      }
      if (c === 47 && next === 42) {
        // "/* */" block comment
        const end = s.indexOf('*/', i + 2);
        i = end < 0 ? n : end + 2;
        continue;
      }
      if (c === 35 && (next === -1 || next === 32 || next === 9 || next === 10 || next === 13 || next === 33 || next === 35)) {
        // "# comment", "#!shebang" (but not "#include")
        const eol = s.indexOf('\n', i + 1);
        i = eol < 0 ? n : eol + 1;
        continue;
      }
      if (c === 34 || c === 39 || c === 96) {
        // String literal: hash the content only, so quote style does not matter.
        const triple = c !== 96 && next === c && i + 2 < n && s.charCodeAt(i + 2) === c;
        if (triple) {
          const close = s.indexOf(c === 34 ? '"""' : "'''", i + 3);
          const end = close < 0 ? n : close;
          emit(hashRange(s, i + 3, end, SEED_STRING), false);
          i = close < 0 ? n : close + 3;
          continue;
        }
        let j = i + 1;
        while (j < n) {
          const d = s.charCodeAt(j);
          if (d === 92) {
            j += 2;
            continue;
          }
          if (d === c || (d === 10 && c !== 96)) break; // unterminated quotes stop at end of line
          j++;
        }
        const end = Math.min(j, n);
        emit(hashRange(s, i + 1, end, SEED_STRING), false);
        i = end + 1;
        continue;
      }
      if (isIdentStart(c)) {
        let j = i + 1;
        while (j < n && isIdentPart(s.charCodeAt(j))) j++;
        emit(hashRange(s, i, j, SEED_IDENT), false);
        i = j;
        continue;
      }
      if (c >= 48 && c <= 57) {
        let j = i + 1;
        while (j < n) {
          const d = s.charCodeAt(j);
          if (!(isIdentPart(d) || d === 46)) break;
          j++;
        }
        emit(hashRange(s, i, j, SEED_NUMBER), false);
        i = j;
        continue;
      }
      emit(fmix32((c ^ SEED_OPERATOR) >>> 0), true);
      i++;
    }

    const v = new Float32Array(this.dimension);
    unigrams.addTo(v, CODE_UNIGRAM_WEIGHT, 0);
    operators.addTo(v, CODE_OPERATOR_WEIGHT, 0);
    shingles.addTo(v, CODE_SHINGLE_WEIGHT, 0x5bd1e995);
    if (tokens === 0) addHashed(v, fmix32(SEED_EMPTY), 1);
    return normalise(v);
  }
}
