// Which common licence a LICENSE/COPYING text is, as its SPDX id, from phrases only that
// licence's text has. A text that matches none (a custom or rare licence, a notice that only
// names one) is null: a sample's lineage says "unknown" rather than guess.

/** A licence and the phrases (lower case, single-spaced) its text always contains. */
interface LicenceSignature {
  readonly spdx: string;
  readonly all: readonly string[];
  /** Phrases that rule it out (BSD-2-Clause is BSD-3-Clause without its third clause). */
  readonly none?: readonly string[];
}

// Headers are matched whole: the GPL's text names the Lesser GPL ("use the GNU Lesser General
// Public License instead"), so "lesser" alone would misread it. Most specific first.
const SIGNATURES: readonly LicenceSignature[] = [
  { spdx: 'AGPL-3.0', all: ['gnu affero general public license version 3'] },
  { spdx: 'LGPL-3.0', all: ['gnu lesser general public license version 3'] },
  { spdx: 'LGPL-2.1', all: ['gnu lesser general public license version 2.1'] },
  { spdx: 'LGPL-2.0', all: ['gnu library general public license version 2'] },
  { spdx: 'GPL-3.0', all: ['gnu general public license version 3'] },
  { spdx: 'GPL-2.0', all: ['gnu general public license version 2'] },
  { spdx: 'MPL-2.0', all: ['mozilla public license version 2.0'] },
  { spdx: 'MPL-2.0', all: ['mozilla public license, v. 2.0'] },
  { spdx: 'Apache-2.0', all: ['apache license version 2.0'] },
  { spdx: 'Apache-2.0', all: ['licensed under the apache license, version 2.0'] },
  { spdx: 'Unlicense', all: ['this is free and unencumbered software released into the public domain'] },
  { spdx: 'MIT', all: ['permission is hereby granted, free of charge, to any person obtaining a copy'] },
  { spdx: 'ISC', all: ['permission to use, copy, modify, and/or distribute this software for any purpose with or without fee is hereby granted'] },
  { spdx: 'BSD-3-Clause', all: ['redistribution and use in source and binary forms', 'neither the name'] },
  { spdx: 'BSD-2-Clause', all: ['redistribution and use in source and binary forms', 'this list of conditions and the following disclaimer'], none: ['neither the name', 'endorse or promote'] },
];

/** The SPDX id of a licence text, or null when it is not one of the common licences. */
export function identifyLicence(text: string): string | null {
  // Licence files wrap lines anywhere and some put comment markers before each line.
  const plain = text.toLowerCase().replace(/[#*]+/g, ' ').replace(/\s+/g, ' ');
  for (const sig of SIGNATURES) {
    if (sig.all.every((p) => plain.includes(p)) && !(sig.none ?? []).some((p) => plain.includes(p))) return sig.spdx;
  }
  return null;
}
