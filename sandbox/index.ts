// The sandbox: runs a generated sample's tests with no network, a read-only host, and limits.
export { Sandbox, type SandboxOptions } from './sandbox.js';
export { classify, failureLine, missingModule, type Verdict } from './classify.js';
export { sandboxLanguage, safeRelativePath, usesPytest } from './plan.js';
export { judgeReport, parseReport, type TestReport } from './report.js';
export * from './types.js';
