// Where a corpus came from: its licence by SPDX id from the licence text, its repository from
// the checkout's remote (without credentials), each null when the corpus does not say.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { readDirectory } from '../connectors/directory-source.js';
import { directoryMetadata, gitTreeMetadata, redactRemote } from '../connectors/source-metadata.js';
import { identifyLicence } from '../lib/licence.js';

const run = promisify(execFile);

/** The distinctive lines of each licence, wrapped and indented as licence files are. */
const TEXTS: Record<string, string> = {
  MIT: 'MIT License\n\nCopyright (c) 2020 X\n\nPermission is hereby granted, free of charge, to any person obtaining a copy\nof this software',
  'Apache-2.0': '                                 Apache License\n                           Version 2.0, January 2004\n                        http://www.apache.org/licenses/',
  'BSD-3-Clause': 'Redistribution and use in source and binary forms, with or without\nmodification, are permitted provided that the following conditions are met:\n\n1. Redistributions of source code must retain the above copyright notice,\n   this list of conditions and the following disclaimer.\n3. Neither the name of the copyright holder nor the names of its\n   contributors may be used to endorse or promote products',
  'BSD-2-Clause': 'Redistribution and use in source and binary forms, with or without\nmodification, are permitted provided that the following conditions are met:\n\n1. Redistributions of source code must retain the above copyright notice, this\n   list of conditions and the following disclaimer.\n2. Redistributions in binary form must reproduce the above copyright notice,',
  'GPL-3.0': '                    GNU GENERAL PUBLIC LICENSE\n                       Version 3, 29 June 2007\n\n ... use the GNU Lesser General Public License instead of this License.',
  'GPL-2.0': '                    GNU GENERAL PUBLIC LICENSE\n                       Version 2, June 1991\n ... covered by the GNU Lesser General Public License instead.',
  'LGPL-2.1': '                  GNU LESSER GENERAL PUBLIC LICENSE\n                       Version 2.1, February 1999\n ... the ordinary GNU General Public License',
  'LGPL-3.0': '                   GNU LESSER GENERAL PUBLIC LICENSE\n                       Version 3, 29 June 2007\n incorporates the terms and conditions of version 3 of the GNU General Public License',
  'MPL-2.0': 'Mozilla Public License Version 2.0\n==================================\n\n1. Definitions',
  ISC: 'ISC License\n\nPermission to use, copy, modify, and/or distribute this software for any\npurpose with or without fee is hereby granted, provided that the above',
  Unlicense: 'This is free and unencumbered software released into the public domain.\n\nAnyone is free to copy',
};

describe('identifyLicence', () => {
  it.each(Object.entries(TEXTS))('names %s from its text', (spdx, text) => {
    expect(identifyLicence(text)).toBe(spdx);
  });

  it('is null for a text that is none of them', () => {
    expect(identifyLicence('All rights reserved. Do not copy.')).toBeNull();
    expect(identifyLicence('')).toBeNull();
  });
});

describe('corpus metadata', () => {
  const dirs: string[] = [];
  const fresh = () => {
    const dir = mkdtempSync(join(tmpdir(), 'treesynth-meta-'));
    dirs.push(dir);
    return dir;
  };
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('drops credentials from a remote URL and leaves scp-style remotes as they are', () => {
    expect(redactRemote('https://bot:ghp_x@github.com/a/b.git\n')).toBe('https://github.com/a/b.git');
    expect(redactRemote('ssh://git@host:22/a/b')).toBe('ssh://host:22/a/b');
    expect(redactRemote('git@github.com:a/b.git')).toBe('git@github.com:a/b.git');
  });

  it('reads a checkout\'s remote and its COPYING file; every file read carries both', async () => {
    const dir = fresh();
    await run('git', ['init', '-q', dir]);
    await run('git', ['-C', dir, 'remote', 'add', 'origin', 'https://u:secret@example.org/acme/tool.git']);
    writeFileSync(join(dir, 'COPYING'), TEXTS['GPL-3.0']!);
    writeFileSync(join(dir, 'a.py'), 'a = 1\n');
    expect(await directoryMetadata(dir)).toEqual({ repository: 'https://example.org/acme/tool.git', license: 'GPL-3.0' });
    const files = [];
    for await (const o of readDirectory(dir)) if (o.ok) files.push(o.value);
    expect(files.map((f) => [f.path, f.repository, f.license])).toEqual([['COPYING', 'https://example.org/acme/tool.git', 'GPL-3.0'], ['a.py', 'https://example.org/acme/tool.git', 'GPL-3.0']]);
  });

  it('takes the licence of the checkout\'s root for a corpus in a subdirectory, and of a commit for a git ref', async () => {
    const dir = fresh();
    await run('git', ['init', '-q', dir]);
    writeFileSync(join(dir, 'LICENSE.md'), TEXTS['Apache-2.0']!);
    mkdirSync(join(dir, 'src'));
    writeFileSync(join(dir, 'src', 'a.py'), 'a = 1\n');
    expect(await directoryMetadata(join(dir, 'src'))).toEqual({ repository: null, license: 'Apache-2.0' });
    const git = ['-C', dir, '-c', 'user.name=t', '-c', 'user.email=t@t'];
    await run('git', [...git, 'add', '.']);
    await run('git', [...git, 'commit', '-qm', 'one']);
    writeFileSync(join(dir, 'LICENSE.md'), TEXTS.MIT!);
    // The commit's licence, not the work tree's.
    expect(await gitTreeMetadata(dir, 'HEAD')).toEqual({ repository: null, license: 'Apache-2.0' });
  });

  it('is null for a plain directory without a licence file, or with one it cannot name', async () => {
    const dir = fresh();
    writeFileSync(join(dir, 'a.py'), 'a = 1\n');
    expect(await directoryMetadata(dir)).toEqual({ repository: null, license: null });
    writeFileSync(join(dir, 'LICENSE'), 'Proprietary. All rights reserved.');
    expect(await directoryMetadata(dir)).toEqual({ repository: null, license: null });
  });
});
