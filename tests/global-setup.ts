// The CLI tests run the built `treesynth` command, so build it once before the suites. A
// failed build is reported here and then fails the CLI tests themselves.
import { execFileSync } from 'node:child_process';

export default function setup(): void {
  try {
    execFileSync('npm', ['run', '--silent', 'build'], { stdio: 'pipe' });
  } catch (error) {
    const out = (error as { stdout?: Buffer }).stdout?.toString() ?? '';
    process.stderr.write(`[global-setup] build failed; CLI tests will fail:\n${out.slice(0, 4000)}\n`);
  }
}
