// Readiness probe for docker/stack.sh: succeeds only when the service answers its real API
// (Kafka: a Metadata round trip through kafkajs' admin client; registry: HTTP 200 from the
// ccompat subjects endpoint), not merely when a port is open.
//
//   node docker/stack-wait.mjs kafka <brokers> <pid|-> <timeoutSeconds>
//   node docker/stack-wait.mjs http  <url>     <pid|-> <timeoutSeconds>
//
// Exit 0 when ready, 1 on timeout, 2 when the watched process has died.
const [mode, target, pidArg, timeoutArg] = process.argv.slice(2);
const deadline = Date.now() + Number(timeoutArg ?? 60) * 1000;
const pid = pidArg && pidArg !== '-' ? Number(pidArg) : undefined;

function alive() {
  if (pid === undefined) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function kafkaReady() {
  const { Kafka, logLevel } = (await import('kafkajs')).default;
  const kafka = new Kafka({
    clientId: 'treesynth-stack-probe',
    brokers: target.split(','),
    logLevel: logLevel.NOTHING,
    connectionTimeout: 2000,
    requestTimeout: 5000,
    retry: { retries: 0 },
  });
  const admin = kafka.admin();
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    return cluster.brokers.length > 0;
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

async function httpReady() {
  const res = await fetch(target, { signal: AbortSignal.timeout(5000) });
  await res.arrayBuffer();
  return res.status === 200;
}

let lastError = 'no answer';
for (;;) {
  if (!alive()) {
    process.stderr.write(`process ${pid} exited while waiting for ${target}\n`);
    process.exit(2);
  }
  try {
    if (await (mode === 'kafka' ? kafkaReady() : httpReady())) process.exit(0);
    lastError = 'not ready yet';
  } catch (error) {
    lastError = error instanceof Error ? error.message : String(error);
  }
  if (Date.now() > deadline) {
    process.stderr.write(`${target} did not answer in time (last: ${lastError})\n`);
    process.exit(1);
  }
  await sleep(500);
}
