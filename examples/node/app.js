// The article's flip server, rewritten for this example: POST /flip copies a
// photo into a temporary directory, flips it vertically with Jimp, saves it,
// deletes both files and answers; GET / answers with the process's PID. An
// X-Response-Time header times each request, as in the article. The
// X-Worker-Pid header is flipbench's addition, so that its reports can count
// requests per worker.
import { copyFile, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import Koa from "koa";
import { Jimp } from "jimp";

const photo = resolve(process.env.PHOTO || fileURLToPath(new URL("../../fixtures/photo.jpg", import.meta.url)));
const port = Number(process.env.PORT || 3000);

export function start() {
  const app = new Koa();
  app.use(async (ctx, next) => {
    const start = process.hrtime.bigint();
    ctx.set("X-Worker-Pid", String(process.pid));
    await next();
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    ctx.set("X-Response-Time", `${ms.toFixed(1)}ms`);
  });
  app.use(async (ctx) => {
    if (ctx.method === "GET" && ctx.path === "/") {
      ctx.body = `Process ${process.pid}`;
      return;
    }
    if (ctx.method !== "POST" || ctx.path !== "/flip") {
      ctx.status = 404;
      return;
    }
    const dir = await mkdtemp(join(tmpdir(), "flip-"));
    try {
      const src = join(dir, "photo.jpg");
      const dst = join(dir, "flipped.jpg");
      await copyFile(photo, src);
      const image = await Jimp.read(src);
      image.flip({ horizontal: false, vertical: true });
      await image.write(dst);
      ctx.body = { pid: process.pid, width: image.bitmap.width, height: image.bitmap.height };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
  const server = app.listen(port, "127.0.0.1", () => console.log(`pid ${process.pid} listening on ${port}`));
  process.on("SIGTERM", () => server.close(() => process.exit(0)));
}
