// One worker per CPU on one port, crashed workers re-forked, as the
// article's cluster.js (Node's cluster module).
import cluster from "node:cluster";
import { availableParallelism } from "node:os";
import { start } from "./app.js";

if (cluster.isPrimary) {
  const workers = Number(process.env.WORKERS || availableParallelism());
  for (let i = 0; i < workers; i++) cluster.fork();
  let stopping = false;
  cluster.on("exit", (worker, code, signal) => {
    if (stopping) return;
    console.log(`worker ${worker.process.pid} died (${signal || code}), forking another`);
    cluster.fork();
  });
  process.on("SIGTERM", () => {
    stopping = true;
    for (const w of Object.values(cluster.workers)) w.process.kill("SIGTERM");
    process.exit(0);
  });
} else {
  start();
}
