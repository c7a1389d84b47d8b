import { describe, expect, it } from 'vitest';
import { cosine } from '../embeddings/embedder.js';
import { LexicalCodeEmbedder, LexicalLabelEmbedder, labelKey } from '../embeddings/lexical.js';

const MERGE_THRESHOLD = 0.85;

async function similarity(embedder: { embed(texts: readonly string[]): Promise<Float32Array[]> }, a: string, b: string): Promise<number> {
  const [va, vb] = await embedder.embed([a, b]);
  return cosine(va!, vb!);
}

function norm(v: Float32Array): number {
  return Math.sqrt(cosine(v, v));
}

describe('LexicalLabelEmbedder', () => {
  const embedder = new LexicalLabelEmbedder();

  it('names itself and has the configured dimension', async () => {
    expect(embedder.name).toBe('lexical-label-v1');
    expect(embedder.dimension).toBe(128);
    const small = new LexicalLabelEmbedder({ dimension: 64 });
    const [v] = await small.embed(['read file']);
    expect(small.dimension).toBe(64);
    expect(v).toHaveLength(64);
    expect(() => new LexicalLabelEmbedder({ dimension: 0 })).toThrow(/dimension/);
  });

  it('returns unit vectors, one per input, in order, deterministically', async () => {
    const labels = ['read file', 'json parsing', 'I/O', 'os.path', '', '   ', 'to', '文件读取', 'naïve bayes'];
    const first = await embedder.embed(labels);
    const second = await new LexicalLabelEmbedder().embed(labels);
    expect(first).toHaveLength(labels.length);
    first.forEach((v, i) => {
      expect(norm(v)).toBeCloseTo(1, 5);
      expect(Array.from(v)).toEqual(Array.from(second[i]!));
    });
    expect(cosine(first[0]!, first[1]!)).toBeLessThan(0.6);
  });

  it.each([
    ['read file', 'reading files'],
    ['read file', 'file reading'],
    ['read file', 'Read_File'],
    ['read file', 'readFile'],
    ['reading files', 'READ-FILES'],
    ['http request', 'HTTP requests'],
    ['HTTPRequest', 'http request'],
    ['json parsing', 'parse json'],
    ['json parsing', 'parsed JSON'],
    // The -ization rule maps "serialization" to "serialize"; WordNet alone would not.
    ['serialize json', 'JSON serialization'],
    ['serialise', 'serialize'],
    ['utilities', 'utility'],
    ['I/O', 'io'],
    ['APIs', 'api'],
    ['sha256 hashing', 'SHA-256 hash'],
    ['tokenizing text', 'text tokenization'],
    ['convert string to int', 'converting strings into ints'],
  ])('same meaning: %j ≈ %j (≥ 0.9)', async (a, b) => {
    expect(await similarity(embedder, a, b)).toBeGreaterThanOrEqual(0.9);
  });

  it.each([
    ['json parsing', 'xml parsing'],
    ['binary search', 'linear search'],
    ['read file', 'write file'],
    ['sorting', 'hashing'],
    ['csv parsing', 'json parsing'],
    ['http request', 'database query'],
  ])('different labels: %j vs %j (< 0.6)', async (a, b) => {
    expect(await similarity(embedder, a, b)).toBeLessThan(0.6);
  });

  it('keeps the direction of conversions apart at the merge threshold', async () => {
    expect(await similarity(embedder, 'string to int', 'int to string')).toBeLessThan(MERGE_THRESHOLD);
    expect(await similarity(embedder, 'save to file', 'save file')).toBeGreaterThan(MERGE_THRESHOLD);
  });

  it('is lexical, not semantic: synonyms are not merged (documented limitation)', async () => {
    expect(await similarity(embedder, 'error handling', 'exception handling')).toBeLessThan(MERGE_THRESHOLD);
  });

  it('gives labels without words one shared non-zero vector', async () => {
    const [a, b] = await embedder.embed(['', '--']);
    expect(norm(a!)).toBeCloseTo(1, 5);
    expect(cosine(a!, b!)).toBeCloseTo(1, 5);
  });

  it('works with a tiny word cache (cleared when full)', async () => {
    const tiny = new LexicalLabelEmbedder({ maxCacheEntries: 2 });
    const labels = ['read file', 'json parsing', 'binary search', 'read file'];
    const vectors = await tiny.embed(labels);
    const reference = await embedder.embed(labels);
    vectors.forEach((v, i) => expect(Array.from(v)).toEqual(Array.from(reference[i]!)));
  });
});

describe('labelKey', () => {
  it.each([
    ['reading files', 'read file'],
    ['readFile', 'read file'],
    ['Read_File', 'read file'],
    ['HTTP requests', 'http request'],
    ['parseJSON', 'parse json'],
    ['I/O', 'io'],
    ['os.path', 'os path'],
    ["user's files", 'user file'],
    ['APIs', 'api'],
    ['the list of files', 'list file'],
    ['string to int', 'string to int'],
    ['the', 'the'],
    ['', ''],
  ])('%j → %j', (label, key) => {
    expect(labelKey(label)).toBe(key);
    expect(new LexicalLabelEmbedder().labelKey(label)).toBe(key);
  });

  it('equal keys give identical vectors', async () => {
    const embedder = new LexicalLabelEmbedder();
    const [a, b] = await embedder.embed(['Reading the files', 'readFiles']);
    expect(labelKey('Reading the files')).toBe(labelKey('readFiles'));
    expect(Array.from(a!)).toEqual(Array.from(b!));
  });
});

const CSV_LOADER = `import csv
import sys
from dataclasses import dataclass
from typing import Iterator, List


@dataclass
class Record:
    name: str
    age: int
    email: str


def parse_row(row: List[str]) -> Record:
    """Turns one CSV row into a Record, stripping whitespace."""
    name, age, email = (cell.strip() for cell in row)
    return Record(name=name, age=int(age), email=email.lower())


def load_records(path: str, delimiter: str = ",") -> Iterator[Record]:
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        header = next(reader, None)
        if header is None:
            return
        for line_number, row in enumerate(reader, start=2):
            if not row or all(not cell.strip() for cell in row):
                continue
            try:
                yield parse_row(row)
            except ValueError as error:
                print(f"skipping line {line_number}: {error}", file=sys.stderr)


def main() -> None:
    records = list(load_records(sys.argv[1]))
    adults = [r for r in records if r.age >= 18]
    print(f"{len(records)} records, {len(adults)} adults")
    for record in sorted(adults, key=lambda r: r.name):
        print(record.name, record.email)


if __name__ == "__main__":
    main()
`;

const HTTP_SERVER = `import json
import logging
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import urlparse, parse_qs

logging.basicConfig(level=logging.INFO)
ITEMS = {}


class ItemHandler(BaseHTTPRequestHandler):
    def _send(self, status, payload):
        body = json.dumps(payload).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        url = urlparse(self.path)
        if url.path == "/items":
            query = parse_qs(url.query)
            limit = int(query.get("limit", ["10"])[0])
            self._send(200, list(ITEMS.values())[:limit])
        else:
            self._send(404, {"error": "not found"})

    def do_POST(self):
        length = int(self.headers.get("Content-Length", 0))
        data = json.loads(self.rfile.read(length) or b"{}")
        item_id = str(len(ITEMS) + 1)
        ITEMS[item_id] = {"id": item_id, **data}
        logging.info("created item %s", item_id)
        self._send(201, ITEMS[item_id])


def run(port=8080):
    server = HTTPServer(("127.0.0.1", port), ItemHandler)
    logging.info("listening on %d", port)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        server.server_close()


if __name__ == "__main__":
    run()
`;

const TS_CACHE = `// A small LRU cache.
export class LruCache<K, V> {
  private readonly entries = new Map<K, V>();

  constructor(private readonly capacity: number) {
    if (capacity <= 0) throw new Error('capacity must be positive');
  }

  get(key: K): V | undefined {
    const value = this.entries.get(key);
    if (value === undefined) return undefined;
    this.entries.delete(key);
    this.entries.set(key, value);
    return value;
  }

  set(key: K, value: V): void {
    /* move to the end: Map keeps insertion order */
    this.entries.delete(key);
    this.entries.set(key, value);
    while (this.entries.size > this.capacity) {
      const oldest = this.entries.keys().next().value as K;
      this.entries.delete(oldest);
    }
  }
}
`;

describe('LexicalCodeEmbedder', () => {
  const embedder = new LexicalCodeEmbedder();

  it('names itself, returns unit vectors of the configured dimension, deterministically', async () => {
    expect(embedder.name).toBe('lexical-code-v1');
    expect(embedder.dimension).toBe(256);
    const [a, b, empty] = await embedder.embed([CSV_LOADER, CSV_LOADER, '']);
    expect(a).toHaveLength(256);
    expect(norm(a!)).toBeCloseTo(1, 5);
    expect(norm(empty!)).toBeCloseTo(1, 5);
    expect(Array.from(a!)).toEqual(Array.from(b!));
    const [c] = await new LexicalCodeEmbedder({ dimension: 512 }).embed([CSV_LOADER]);
    expect(c).toHaveLength(512);
  });

  const variants: [string, string][] = [
    ['reformatted (tabs, blank lines, quote style, spacing)', CSV_LOADER.replace(/ {4}/g, '\t').replace(/\n\n\n/g, '\n\n').replace(/"/g, "'").replace(/, /g, ',')],
    ['comment added', CSV_LOADER.replace('def main() -> None:', '# Entry point: prints a summary of adults.\ndef main() -> None:')],
    ['one line changed', CSV_LOADER.replace('adults = [r for r in records if r.age >= 18]', 'adults = [r for r in records if r.age > 20]')],
  ];
  it.each(variants)('near duplicate: %s (≥ 0.95)', async (_name, variant) => {
    expect(await similarity(embedder, CSV_LOADER, variant)).toBeGreaterThanOrEqual(0.95);
  });

  it('ignores // and /* */ comments in C-like code', async () => {
    const commented = TS_CACHE.replace('get(key: K)', '// Reads and refreshes an entry.\n  get(key: K)');
    expect(await similarity(embedder, TS_CACHE, commented)).toBeGreaterThanOrEqual(0.99);
  });

  it('tolerates partly renamed identifiers', async () => {
    const renamed = CSV_LOADER.replace(/\brecords\b/g, 'rows').replace(/\bhandle\b/g, 'fh');
    expect(await similarity(embedder, CSV_LOADER, renamed)).toBeGreaterThanOrEqual(0.9);
  });

  it.each([
    ['CSV loader', CSV_LOADER, 'HTTP server', HTTP_SERVER],
    ['CSV loader', CSV_LOADER, 'TS cache', TS_CACHE],
    ['HTTP server', HTTP_SERVER, 'TS cache', TS_CACHE],
  ])('different files: %s vs %s (< 0.7)', async (_a, a, _b, b) => {
    expect(await similarity(embedder, a, b)).toBeLessThan(0.7);
  });

  it('handles a 1 MB input and unterminated strings or comments', async () => {
    const big = CSV_LOADER.repeat(Math.ceil(1_000_000 / CSV_LOADER.length));
    const [v, w, x] = await embedder.embed([big, 'x = "unterminated\ny = 1', 'a = 1 /* never closed']);
    for (const vec of [v, w, x]) expect(norm(vec!)).toBeCloseTo(1, 5);
  });
});
