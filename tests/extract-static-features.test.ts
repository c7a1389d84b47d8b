import { firstValueFrom, from, toArray } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  EXTRACT_STATIC_STAGE,
  extractFeatures,
  extractStaticFeatures,
  type ExtractHereConfig,
} from '../analysis/static-features/index.js';
import type { Outcome } from '../schemas/outcome.js';
import { FEATURE_CATEGORIES } from '../schemas/categories.js';
import { loadGrammars, type Grammars } from '../analysis/tree-sitter/grammars.js';
import type { CodeFile, FeatureSet } from '../schemas/contract.js';

let grammars: Grammars;
let config: ExtractHereConfig;

beforeAll(async () => {
  grammars = await loadGrammars();
  config = { grammars };
});
afterAll(() => grammars.delete());

function codeFile(language: string, path: string, content: string): CodeFile {
  return {
    id: 'a1b2c3d4e5f6',
    path,
    language,
    content,
    sizeBytes: Buffer.byteLength(content),
    lines: content.split('\n').length,
    source: 'test',
    treeKey: 'all',
  };
}

function accepted(outcome: Outcome<FeatureSet>): FeatureSet {
  if (!outcome.ok) throw new Error(`rejected: ${outcome.rejection.reason} ${outcome.rejection.detail}`);
  return outcome.value;
}

/** Features as sorted `category: a > b` lines, so a failing test shows exactly what changed. */
function labels(file: CodeFile, overrides: Partial<ExtractHereConfig> = {}): string[] {
  return accepted(extractFeatures(file, { ...config, ...overrides }))
    .features.map((f) => `${f.category}: ${f.labels.join(' > ')}`)
    .sort();
}

const PYTHON = `import os.path
import logging
from collections import deque

import numpy as np

logger = logging.getLogger(__name__)


class ConfigError(Exception):
    pass


def parse_config_file(path):
    try:
        with open(path) as handle:
            return [line.strip() for line in handle]
    except OSError as err:
        logger.error("cannot read %s: %s", path, err)
        raise ConfigError(path) from err
    finally:
        logger.debug("done")


def factorial(n):
    return 1 if n <= 1 else n * factorial(n - 1)


def walk_breadth_first(root):
    queue = deque([root])
    while queue:
        node = queue.popleft()
        yield node
        queue.extend(node.children)


async def fetch_all(client, urls):
    for url in urls:
        await client.get(url)


if __name__ == "__main__":
    print(parse_config_file(os.path.join("etc", "app.cfg")))
`;

const JAVASCRIPT = `import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import express from 'express';
import { formatReport } from './report.js';

const app = express();
const cache = new Map();

export async function loadUsers(dir) {
  const raw = await readFile(path.join(dir, 'users.json'), 'utf8');
  return JSON.parse(raw);
}

function fibonacci(n) {
  return n < 2 ? n : fibonacci(n - 1) + fibonacci(n - 2);
}

export class HttpError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

app.get('/users', async (req, res) => {
  try {
    const users = await loadUsers(process.env.DATA_DIR);
    for (const user of users) cache.set(user.id, user);
    res.json(users.filter((u) => u.active).map(formatReport));
  } catch (err) {
    console.error(\`failed: \${err.message}\`);
    res.status(500).end();
  }
});

export async function saveSummary(file, users) {
  let i = 0;
  while (i < users.length) i++;
  await writeFile(file, JSON.stringify({ count: i }));
}
`;

const TYPESCRIPT = `import { EventEmitter } from 'node:events';
import type { Logger } from './logger';

export interface Shape {
  area(): number;
}

export abstract class Base implements Shape {
  protected constructor(private readonly logger: Logger) {}
  abstract area(): number;
}

export class Circle extends Base {
  constructor(logger: Logger, private radius: number) {
    super(logger);
  }
  area(): number {
    return Math.PI * this.radius ** 2;
  }
}

export class TypedQueue<T> extends EventEmitter {
  private items: T[] = [];
  enqueue(item: T): void {
    this.items.push(item);
    this.emit('added', item);
  }
  *drain(): Generator<T> {
    while (this.items.length) yield this.items.shift() as T;
  }
}

export function sortByArea(shapes: readonly Shape[]): Shape[] {
  return [...shapes].sort((a, b) => a.area() - b.area());
}

export enum Color {
  Red,
  Green,
}

switch (process.argv[2]) {
  case '--help':
    console.log('usage: shapes [file]');
    break;
  default:
    throw new Error('unknown command');
}
`;

const JAVA = `package com.example.inventory;

import java.io.BufferedReader;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.logging.Logger;
import com.example.inventory.model.Item;

public class InventoryLoader {
    private static final Logger LOGGER = Logger.getLogger(InventoryLoader.class.getName());
    private final Map<String, Item> items = new HashMap<>();

    public List<Item> loadItems(Path file) throws IOException {
        List<Item> result = new ArrayList<>();
        try (BufferedReader reader = Files.newBufferedReader(file)) {
            String line;
            while ((line = reader.readLine()) != null) {
                result.add(parseItem(line.trim()));
            }
        } catch (IOException e) {
            LOGGER.warning("cannot read " + file);
            throw e;
        }
        return result;
    }

    private Item parseItem(String line) {
        String[] parts = line.split(",");
        return new Item(parts[0], Integer.parseInt(parts[1]));
    }

    public static long countCombinations(int n, int k) {
        if (k == 0 || k == n) {
            return 1;
        }
        return countCombinations(n - 1, k - 1) + countCombinations(n - 1, k);
    }

    public static void main(String[] args) throws IOException {
        InventoryLoader loader = new InventoryLoader();
        for (Item item : loader.loadItems(Path.of(args[0]))) {
            System.out.println(item);
        }
        loader.items.values().stream().filter(i -> i.quantity() > 0).forEach(System.out::println);
    }
}
`;

const GO = `package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"sync"
)

type Result struct {
	URL    string
	Status int
}

func fetchStatus(url string) (Result, error) {
	resp, err := http.Get(url)
	if err != nil {
		return Result{}, fmt.Errorf("fetch %s: %w", url, err)
	}
	defer resp.Body.Close()
	return Result{URL: url, Status: resp.StatusCode}, nil
}

func gcd(a, b int) int {
	if b == 0 {
		return a
	}
	return gcd(b, a%b)
}

func main() {
	urls := os.Args[1:]
	results := make(chan Result, len(urls))
	var wg sync.WaitGroup
	for _, u := range urls {
		wg.Add(1)
		go func(u string) {
			defer wg.Done()
			if r, err := fetchStatus(u); err == nil {
				results <- r
			}
		}(u)
	}
	wg.Wait()
	close(results)
	counts := map[int]int{}
	for r := range results {
		counts[r.Status]++
	}
	if err := json.NewEncoder(os.Stdout).Encode(counts); err != nil {
		panic(err)
	}
}
`;

describe('extractFeatures on realistic files', () => {
  it('Python: imports, recursion, loops, try/except/finally, async, generators, inheritance, file ops, logging, names', () => {
    expect(labels(codeFile('python', 'app/config.py', PYTHON))).toEqual([
      'advanced techniques: context managers',
      'algorithm: graph traversal > breadth-first search',
      'computation operation: numerical computing',
      'data processing: string manipulation',
      'data structures: deque',
      'data structures: list',
      'dependency relations: collections',
      'dependency relations: logging',
      'dependency relations: numpy',
      'dependency relations: os > path',
      'error handling: exception handling > custom exceptions',
      'error handling: exception handling > finally block',
      'error handling: exception handling > raise exception',
      'error handling: exception handling > try-except',
      'file operation: path manipulation',
      'file operation: read file',
      'functionality: data retrieval',
      'functionality: parsing',
      'functionality: traversal',
      'implementation logic: asynchronous programming > async functions',
      'implementation logic: asynchronous programming > await',
      'implementation logic: comprehensions > list comprehension',
      'implementation logic: generators',
      'implementation logic: loops > for loop',
      'implementation logic: loops > while loop',
      'implementation logic: recursion',
      'implementation style: object-oriented > inheritance',
      'logging: console output',
      'logging: logging framework > debug level',
      'logging: logging framework > error level',
      'programming language: python',
      'workflow: script entry point',
    ]);
  });

  it('JavaScript: ESM imports, fs/promises, express, async/await, for-of, custom errors, console.error', () => {
    expect(labels(codeFile('javascript', 'src/server.js', JAVASCRIPT))).toEqual([
      'data processing: data serialization > json',
      'data processing: string manipulation > string formatting',
      'data structures: hash map',
      'data structures: object literal',
      'dependency relations: express',
      'dependency relations: fs > promises',
      'dependency relations: local modules',
      'dependency relations: path',
      'error handling: exception handling > custom exceptions',
      'error handling: exception handling > try-catch',
      'file operation: path manipulation',
      'file operation: read file',
      'file operation: write file',
      'functionality: data persistence',
      'functionality: data retrieval',
      'implementation logic: asynchronous programming > async functions',
      'implementation logic: asynchronous programming > await',
      'implementation logic: loops > for-of loop',
      'implementation logic: loops > while loop',
      'implementation logic: recursion',
      'implementation style: functional > arrow functions',
      'implementation style: functional > higher-order functions',
      'implementation style: object-oriented > inheritance',
      'logging: console output > standard error',
      'programming language: javascript',
      'resource usage: environment variables',
      'resource usage: network > http server',
    ]);
  });

  it('TypeScript: interfaces, abstract classes, generics, enums, generators, events, argv', () => {
    expect(labels(codeFile('typescript', 'src/shapes.ts', TYPESCRIPT))).toEqual([
      'advanced techniques: generics',
      'algorithm: sorting',
      'computation operation: mathematical',
      'data structures: array',
      'data structures: enumeration',
      'data structures: queue',
      'dependency relations: events',
      'dependency relations: local modules',
      'error handling: exception handling > throw exception',
      'functionality: ordering',
      'functionality: queue operations',
      'implementation logic: event-driven programming',
      'implementation logic: generators',
      'implementation logic: loops > while loop',
      'implementation logic: switch statement',
      'implementation style: functional > arrow functions',
      'implementation style: object-oriented > abstract classes',
      'implementation style: object-oriented > encapsulation',
      'implementation style: object-oriented > inheritance',
      'implementation style: object-oriented > interfaces',
      'implementation style: type annotations',
      'logging: console output',
      'programming language: typescript',
      'user interaction: command line arguments',
    ]);
  });

  it('TSX uses its own grammar and sees JSX', () => {
    const tsx = `import React from 'react';\nexport function UserList({ users }: { users: string[] }) {\n  return <ul>{users.map((u) => <li key={u}>{u}</li>)}</ul>;\n}\n`;
    expect(labels(codeFile('tsx', 'src/UserList.tsx', tsx))).toEqual(
      expect.arrayContaining([
        'programming language: tsx',
        'dependency relations: react',
        'user interaction: web interface > jsx components',
        'user interaction: web interface > ui framework',
        'implementation style: type annotations',
      ]),
    );
  });

  it('Java: package-relative imports, try-with-resources, checked exceptions, streams, recursion, main', () => {
    expect(labels(codeFile('java', 'src/main/java/InventoryLoader.java', JAVA))).toEqual([
      'algorithm: combinatorics',
      'data processing: string manipulation',
      'data structures: hash map',
      'data structures: list',
      'dependency relations: java.io > bufferedreader',
      'dependency relations: java.io > ioexception',
      'dependency relations: java.nio.file > files',
      'dependency relations: java.nio.file > path',
      'dependency relations: java.util > arraylist',
      'dependency relations: java.util > hashmap',
      'dependency relations: java.util > list',
      'dependency relations: java.util > map',
      'dependency relations: java.util.logging > logger',
      'dependency relations: local modules',
      'error handling: exception handling > checked exceptions',
      'error handling: exception handling > throw exception',
      'error handling: exception handling > try-catch',
      'error handling: exception handling > try-with-resources',
      'file operation: path manipulation',
      'file operation: read file',
      'functionality: aggregation',
      'functionality: data retrieval',
      'functionality: parsing',
      'implementation logic: loops > for-each loop',
      'implementation logic: loops > while loop',
      'implementation logic: recursion',
      'implementation style: functional > higher-order functions',
      'implementation style: functional > lambda functions',
      'implementation style: functional > method references',
      'implementation style: functional > streams',
      'implementation style: object-oriented > encapsulation',
      'logging: console output',
      'logging: logging framework > warning level',
      'programming language: java',
      'workflow: script entry point',
    ]);
  });

  it('Go: goroutines, channels, WaitGroup, defer, panic, if err != nil, os.Args, net/http', () => {
    expect(labels(codeFile('go', 'cmd/status/main.go', GO))).toEqual([
      'algorithm: number theory > greatest common divisor',
      'data processing: data serialization > json',
      'data structures: hash map',
      'data structures: struct',
      'dependency relations: encoding > json',
      'dependency relations: fmt',
      'dependency relations: net > http',
      'dependency relations: os',
      'dependency relations: sync',
      'error handling: error values > error checking',
      'error handling: error values > error wrapping',
      'error handling: panic',
      'functionality: data retrieval',
      'implementation logic: deferred execution',
      'implementation logic: loops > range loop',
      'implementation logic: recursion',
      'implementation style: functional > anonymous functions',
      'implementation style: procedural',
      'logging: console output',
      'programming language: go',
      'resource usage: concurrency > channels',
      'resource usage: concurrency > goroutines',
      'resource usage: concurrency > synchronization',
      'resource usage: network > http requests',
      'user interaction: command line arguments',
      'workflow: script entry point',
    ]);
  });
});

describe('label rules', () => {
  it('keeps the top module and one submodule level per language convention', () => {
    const deps = (language: string, path: string, content: string) =>
      labels(codeFile(language, path, content)).filter((l) => l.startsWith('dependency relations'));
    expect(deps('python', 'a.py', 'import os.path\nimport a.b.c\nfrom ..pkg import x\n')).toEqual([
      'dependency relations: a > b',
      'dependency relations: local modules',
      'dependency relations: os > path',
    ]);
    expect(deps('javascript', 'a.js', "import x from '@scope/pkg/x';\nimport y from './util';\nconst z = require('lodash/fp');\n")).toEqual([
      'dependency relations: @scope/pkg',
      'dependency relations: local modules',
      'dependency relations: lodash',
    ]);
    expect(deps('go', 'a.go', 'package a\nimport (\n\t"net/http"\n\t"github.com/pkg/errors"\n)\n')).toEqual([
      'dependency relations: github.com/pkg/errors',
      'dependency relations: net > http',
    ]);
    expect(deps('java', 'A.java', 'import java.util.List;\nimport static org.junit.Assert.assertEquals;\nclass A {}\n')).toEqual([
      'dependency relations: java.util > list',
      'dependency relations: org.junit > assert',
    ]);
    // A path already implied by a deeper one is dropped.
    expect(deps('java', 'A.java', 'import java.io.*;\nimport java.util.*;\nimport java.util.Map;\nclass A {}\n')).toEqual([
      'dependency relations: java.io',
      'dependency relations: java.util > map',
    ]);
  });

  it('names the behaviour a verb-led name describes, never the identifier, and skips trivial names', () => {
    const py = [
      'def parseConfigFile(): pass',
      'def parse_os_release(): pass',
      'def dump_stats(): pass',
      'def main(): pass',
      'def __init__(self): pass',
      'def test_parse(): pass',
      'def get_name(): pass',
      'def run(): pass',
      'def is_valid(x): pass',
      'def helper(): pass',
    ].join('\n');
    const found = labels(codeFile('python', 'a.py', py)).filter((l) => l.startsWith('functionality'));
    // Two parsers are one behaviour; no label carries a word of an identifier that is not a behaviour.
    expect(found).toEqual(['functionality: data persistence', 'functionality: parsing', 'functionality: validation']);
    for (const word of ['config', 'os', 'release', 'stats', 'valid', 'name']) expect(found.join(' ')).not.toMatch(new RegExp(`\\b${word}\\b`));
  });

  it('caps each category at maxLabelsPerCategory', () => {
    const py = Array.from({ length: 20 }, (_, i) => `import pkg${i}\ndef compute_value_${i}(): pass`).join('\n');
    const features = accepted(extractFeatures(codeFile('python', 'a.py', py), { ...config, maxLabelsPerCategory: 5 })).features;
    expect(features.filter((f) => f.category === 'dependency relations')).toHaveLength(5);
    // Twenty functions that compute are one behaviour.
    expect(features.filter((f) => f.category === 'functionality').map((f) => f.labels)).toEqual([['computation']]);
    const byDefault = accepted(extractFeatures(codeFile('python', 'a.py', py), config)).features;
    expect(byDefault.filter((f) => f.category === 'dependency relations')).toHaveLength(12);
  });

  it('tells a write mode of open() from a read', () => {
    const writes = labels(codeFile('python', 'a.py', "with open('out.txt', 'w') as f:\n    f.write('x')\n"));
    expect(writes).toContain('file operation: write file');
    expect(writes).not.toContain('file operation: read file');
  });

  it('does not take methods for same-named builtins', () => {
    // `x.set()` is not a set, `/re/.test()` is not a unit test.
    expect(labels(codeFile('python', 'a.py', 'cache.set(1)\n'))).not.toContain('data structures: set');
    expect(labels(codeFile('javascript', 'a.js', 'if (/^-/.test(arg)) {}\n'))).not.toContain('workflow: unit testing');
  });

  const ALL = [
    ['python', 'a.py', PYTHON],
    ['javascript', 'a.js', JAVASCRIPT],
    ['typescript', 'a.ts', TYPESCRIPT],
    ['java', 'A.java', JAVA],
    ['go', 'a.go', GO],
  ] as const;

  it.each(ALL)('%s: labels are trimmed lowercase, paths 1-3 deep and unique, categories only the fixed ones', (language, path, content) => {
    const set = accepted(extractFeatures(codeFile(language, path, content), config));
    const keys = set.features.map((f) => `${f.category}\u0000${f.labels.join('\u0000')}`);
    expect(new Set(keys).size).toBe(keys.length);
    for (const { category, labels: path_ } of set.features) {
      expect(FEATURE_CATEGORIES).toContain(category);
      expect(path_.length).toBeGreaterThanOrEqual(1);
      expect(path_.length).toBeLessThanOrEqual(3);
      for (const label of path_) expect(label).toBe(label.trim().toLowerCase());
      expect(new Set(path_).size).toBe(path_.length);
    }
  });
});

describe('the FeatureSet record', () => {
  it('copies the file identity, marks the extractor and time, and leaves LLM fields null', () => {
    const file = codeFile('go', 'x/main.go', GO);
    const set = accepted(extractFeatures(file, config, 1_700_000_000_000));
    expect(set).toMatchObject({
      fileId: file.id,
      path: 'x/main.go',
      language: 'go',
      treeKey: 'all',
      extractor: 'static',
      summary: null,
      purpose: null,
      scenario: null,
      extractedAt: 1_700_000_000_000,
    });
  });

  it('is a pure function of the file', () => {
    const file = codeFile('python', 'a.py', PYTHON);
    expect(extractFeatures(file, config, 1)).toEqual(extractFeatures(file, config, 1));
  });

  it('yields at least the programming language for a file of comments only (or nothing)', () => {
    expect(labels(codeFile('python', 'a.py', '# just a note\n# another one\n'))).toEqual(['programming language: python']);
    expect(labels(codeFile('go', 'a.go', ''))).toEqual(['programming language: go']);
    expect(labels(codeFile('javascript', 'a.js', '/* license */\n'))).toEqual(['programming language: javascript']);
  });
});

describe('rejections', () => {
  it('rejects garbage as unparseable, with the file identity', () => {
    const file = codeFile('python', 'bad.py', 'def (((( :: }}} class {{');
    const outcome = extractFeatures(file, config, 42);
    expect(outcome.ok).toBe(false);
    if (outcome.ok) return;
    expect(outcome.rejection).toMatchObject({
      stage: EXTRACT_STATIC_STAGE,
      reason: 'unparseable',
      recordId: file.id,
      path: 'bad.py',
      source: 'test',
      at: 42,
    });
  });

  it('accepts a file with a small syntax error and respects maxErrorRatio', () => {
    const content = `${PYTHON}\ndef broken(:\n    pass\n`;
    expect(extractFeatures(codeFile('python', 'a.py', content), config).ok).toBe(true);
    expect(extractFeatures(codeFile('python', 'a.py', content), { ...config, maxErrorRatio: 0 }).ok).toBe(false);
  });

  it('rejects a parse that exceeds parseTimeoutMs, and the parser keeps working afterwards', () => {
    const big = 'def f(x):\n    return [i * 2 for i in range(x) if i % 3]\n'.repeat(20_000);
    const outcome = extractFeatures(codeFile('python', 'big.py', big), { ...config, parseTimeoutMs: 1 });
    expect(outcome.ok ? 'accepted' : outcome.rejection.reason).toBe('unparseable');
    expect(labels(codeFile('python', 'a.py', 'while True:\n    pass\n'))).toContain('implementation logic: loops > while loop');
  });

  it('rejects a language without a loaded grammar', async () => {
    const onlyGo = await loadGrammars(['go']);
    try {
      const outcome = extractFeatures(codeFile('python', 'a.py', 'x = 1\n'), { grammars: onlyGo });
      expect(outcome.ok ? 'accepted' : outcome.rejection.reason).toBe('unsupported-language');
      const ruby = extractFeatures(codeFile('ruby', 'a.rb', 'puts 1\n'), config);
      expect(ruby.ok ? 'accepted' : ruby.rejection.reason).toBe('unsupported-language');
    } finally {
      onlyGo.delete();
    }
  });
});

describe('extractStaticFeatures operator', () => {
  it('maps every CodeFile to one Outcome, in order', async () => {
    const files = [codeFile('go', 'a.go', GO), codeFile('python', 'bad.py', 'def (((( :: }}} class {{'), codeFile('java', 'A.java', JAVA)];
    const outcomes = await firstValueFrom(from(files).pipe(extractStaticFeatures(config), toArray()));
    expect(outcomes.map((o) => (o.ok ? o.value.path : `rejected ${o.rejection.path}`))).toEqual(['a.go', 'rejected bad.py', 'A.java']);
  });
});

describe('memory', () => {
  it('frees every tree: resident memory stays flat over repeated extraction', () => {
    // An undeleted tree of this file holds ~2.5 MB of WASM heap: a leak would add ~400 MB here.
    const content = Array.from({ length: 400 }, (_, i) => `def handler_${i}(request):\n    items = [x for x in request.items if x]\n    return {"count": len(items), "first": items[0] if items else None}\n`).join('\n');
    const file = codeFile('python', 'handlers.py', content);
    for (let i = 0; i < 20; i++) extractFeatures(file, config);
    const before = process.memoryUsage().rss;
    for (let i = 0; i < 150; i++) extractFeatures(file, config);
    const grownMb = (process.memoryUsage().rss - before) / 1e6;
    expect(grownMb).toBeLessThan(64);
  });
});
