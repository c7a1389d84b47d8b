// The static import scan that decides, before a Python sample runs, which packages it needs:
// every real import statement counts, and nothing that only looks like one does.
import { describe, expect, it } from 'vitest';
import { pythonImports, topLevel } from '../sandbox/python-imports.js';

const modules = (source: string): string[] => pythonImports(source).map((i) => i.module);

describe('python import scan', () => {
  it('finds the plain forms: import a.b, import a as b, from a import b', () => {
    expect(modules('import os\nimport os.path\nimport numpy as np\nfrom collections import OrderedDict\nfrom xml.etree import ElementTree as ET\n'))
      .toEqual(['os', 'os.path', 'numpy', 'collections', 'xml.etree']);
  });

  it('finds several modules on one line, aliased or not, and statements joined by semicolons', () => {
    expect(modules('import os, sys as system, yaml.constructor as yc\n')).toEqual(['os', 'sys', 'yaml.constructor']);
    expect(modules('x = 1; import requests; from pandas import DataFrame\n')).toEqual(['requests', 'pandas']);
  });

  it('finds imports indented in functions, classes, try blocks and one-line compound statements', () => {
    const source = [
      'def f():',
      '    import json',
      '    if True: import csv',
      'class A:',
      '    from decimal import Decimal',
      'try:',
      '    import ujson as json',
      'except ImportError: import json',
      'else: from fractions import Fraction',
    ].join('\n');
    expect(modules(source)).toEqual(['json', 'csv', 'decimal', 'ujson', 'json', 'fractions']);
  });

  it('reads parenthesised and backslash-continued import lists as one statement', () => {
    expect(modules('from typing import (\n    Any,\n    # import requests\n    Dict,\n)\nimport os, \\\n    sys\n')).toEqual(['typing', 'os', 'sys']);
  });

  it('gives the line of each statement', () => {
    expect(pythonImports('"""doc\nstring"""\n\nimport os\nfrom a import (\n  b)\nimport c\n').map((i) => [i.module, i.line])).toEqual([['os', 4], ['a', 5], ['c', 7]]);
  });

  it('leaves out relative imports: they are the sample\'s own modules', () => {
    expect(modules('from . import util\nfrom .util import helper\nfrom ..pkg.mod import x\nfrom .  import  y\n')).toEqual([]);
  });

  it('never counts comments', () => {
    expect(modules('# import requests\nx = 1  # from flask import Flask\n#import os\n')).toEqual([]);
  });

  it('never counts strings, in any quoting, however they look inside', () => {
    const source = [
      'a = "import requests"',
      "b = 'from flask import Flask'",
      'c = """',
      'import django',
      'from scipy import stats',
      '"""',
      "d = '''\nimport torch\n'''",
      'e = r"\\" import lxml"',
      "f = f'{x} import bs4'",
      'g = b"import boto3"',
      'h = "escaped \\" quote"; import os',
      'i = rb"raw \\"" ; import sys',
    ].join('\n');
    expect(modules(source)).toEqual(['os', 'sys']);
  });

  it('does not take a name containing "import" or a keyword argument for a statement', () => {
    expect(modules('important = 1\nreimport(x)\nimport_ = 2\nobj.import_data()\nfrom_ = 3\nraise ValueError() from None\nyield_from = 4\n')).toEqual([]);
  });

  it('sees __import__ and importlib.import_module with a literal name', () => {
    expect(pythonImports('m = __import__("requests")\nimport importlib\nn = importlib.import_module(\'yaml.loader\')\nfrom importlib import import_module\nimport_module("flask")\n'))
      .toEqual([
        { module: 'requests', line: 1, kind: 'dynamic' },
        { module: 'importlib', line: 2, kind: 'import' },
        { module: 'yaml.loader', line: 3, kind: 'dynamic' },
        { module: 'importlib', line: 4, kind: 'from' },
        { module: 'flask', line: 5, kind: 'dynamic' },
      ]);
  });

  it('cannot see a computed or relative dynamic name, and does not invent one', () => {
    // These are caught at run time instead: ModuleNotFoundError is classified the same way.
    expect(modules('name = "req" + "uests"\n__import__(name)\nimportlib.import_module(f"{x}")\nimportlib.import_module(".sibling", __package__)\n')).toEqual([]);
  });

  it('survives unterminated strings, stray brackets and an empty file without losing later imports', () => {
    expect(modules('')).toEqual([]);
    expect(modules('x = "unterminated\nimport os\n')).toEqual(['os']);
    expect(modules('x = (1,\n]\n)\nimport sys\n')).toEqual(['sys']);
  });

  it('handles Windows line ends and non-ASCII identifiers', () => {
    expect(modules('import os\r\nfrom sys import argv\r\nnombre_ñ = 1\r\nimport café\r\n')).toEqual(['os', 'sys', 'café']);
  });

  it('names the top-level package of a dotted module', () => {
    expect(topLevel('os.path')).toBe('os');
    expect(topLevel('numpy')).toBe('numpy');
  });
});
