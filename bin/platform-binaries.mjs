// Prints, one per line as name@version, the optional packages of package-lock.json that this
// machine needs: those whose os, cpu and libc match, and of node-llama-cpp's prebuilt binaries
// only the CPU build for this platform (its GPU builds are hundreds of MB we never load).
// ./setup.sh installs them after `npm ci --omit=optional`.
import { readFileSync } from 'node:fs';

const lock = JSON.parse(readFileSync(new URL('../package-lock.json', import.meta.url), 'utf8'));
const libc = process.report.getReport().header.glibcVersionRuntime ? 'glibc' : 'musl';
const fits = (list, value) =>
  !list || (list.some((v) => v.startsWith('!')) ? !list.includes(`!${value}`) : list.includes(value));
const os = { darwin: 'mac', win32: 'win' }[process.platform] ?? process.platform;
const llamaCpu = [`@node-llama-cpp/${os}-${process.arch}`, `@node-llama-cpp/${os}-${process.arch}-metal`];

const wanted = new Set();
for (const [where, entry] of Object.entries(lock.packages)) {
  if (!entry.optional || entry.link || !where.startsWith('node_modules/')) continue;
  const name = where.slice(where.lastIndexOf('node_modules/') + 'node_modules/'.length);
  if (name.startsWith('@node-llama-cpp/') && !llamaCpu.includes(name)) continue;
  if (fits(entry.os, process.platform) && fits(entry.cpu, process.arch) && fits(entry.libc, libc)) {
    wanted.add(`${name}@${entry.version}`);
  }
}
process.stdout.write([...wanted].map((spec) => `${spec}\n`).join(''));
