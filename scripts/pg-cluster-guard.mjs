#!/usr/bin/env node
// Started by the test runner's global setup beside each throw-away PostgreSQL cluster
// (scripts/test-prereqs.mjs), in a session of its own. Its stdin is a pipe from the test
// runner: when that ends — the runner finished, or died in any way, SIGKILL included —, the
// cluster is stopped and its folder removed (nothing to do when the runner already did it).
// Argument: the cluster as JSON, { dir, pgCtl }.
import { stopCluster } from './test-prereqs.mjs';

const cluster = JSON.parse(process.argv[2] ?? '{}');
if (typeof cluster.dir !== 'string' || typeof cluster.pgCtl !== 'string') {
  process.stderr.write('usage: pg-cluster-guard.mjs \'{"dir":"…","pgCtl":"…"}\'\n');
  process.exit(2);
}

let done = false;
const finish = () => {
  if (done) return;
  done = true;
  try {
    stopCluster(cluster);
  } finally {
    process.exit(0);
  }
};
for (const signal of ['SIGINT', 'SIGHUP', 'SIGTERM']) process.on(signal, finish);
process.stdin.on('end', finish);
process.stdin.on('close', finish);
process.stdin.on('error', finish);
process.stdin.resume();
