import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { createServer as createHttpServer, type Server as HttpServer } from "node:http";
import { createServer as createTcpServer, type Server, type Socket } from "node:net";
import { describe, it } from "node:test";
import { RawGetFailed, RawHttpGetter } from "../../src/backend/raw-http-get.js";

async function listen<T extends Server | HttpServer>(s: T): Promise<T & { port: number }> {
  await new Promise<void>((resolve) => s.listen(0, "127.0.0.1", resolve));
  return Object.assign(s, { port: (s.address() as { port: number }).port });
}

function getter(port: number, idleTimeoutMs = 5000): RawHttpGetter {
  return new RawHttpGetter({ host: "127.0.0.1", port, connectTimeoutMs: 2000, idleTimeoutMs, maxIdle: 2 });
}

async function failure(p: Promise<unknown>): Promise<Error & { code?: string }> {
  try {
    await p;
  } catch (err) {
    return err as Error & { code?: string };
  }
  throw new Error("expected a failure");
}

/** A server that answers each connection's first request with `answer` (raw bytes), then does `after`. */
async function rawServer(answer: (s: Socket) => void): Promise<Server & { port: number }> {
  return listen(
    createTcpServer((s) => {
      s.once("data", () => answer(s));
      s.on("error", () => {});
    }),
  );
}

describe("RawHttpGetter", () => {
  it("reads a large body whole, over one kept-alive connection for several requests", async () => {
    const body = randomBytes(3 * 1024 * 1024 + 17);
    let connections = 0;
    const seen: { url?: string; range?: string | undefined }[] = [];
    const http = await listen(createHttpServer((req, res) => {
      seen.push({ url: req.url, range: req.headers.range });
      res.writeHead(206, { "content-length": body.length, "content-range": `bytes 0-${body.length - 1}/${body.length}` }).end(body);
    }));
    http.on("connection", () => connections++);
    const g = getter(http.port);
    try {
      for (let i = 0; i < 3; i++) {
        const r = await g.get("/bucket/some%20key", { host: `127.0.0.1:${http.port}`, range: "bytes=0-" });
        assert.equal(r.status, 206);
        assert.equal(r.headers.get("content-range"), `bytes 0-${body.length - 1}/${body.length}`);
        assert.ok(r.body.equals(body));
        assert.equal(r.body.byteOffset, 0);
        assert.equal(r.body.buffer.byteLength, body.length, "a buffer of its own");
      }
      assert.equal(connections, 1);
      assert.deepEqual(seen[0], { url: "/bucket/some%20key", range: "bytes=0-" });
    } finally {
      g.close();
      http.close();
    }
  });

  it("opens a new connection when the kept one was closed by the server", async () => {
    let connections = 0;
    const tcp = await rawServer((s) => {
      connections++;
      s.write("HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello");
      setTimeout(() => s.destroy(), 20); // no Connection: close, just gone
    });
    const g = getter(tcp.port);
    try {
      assert.equal((await g.get("/a", { host: "x" })).body.toString(), "hello");
      await new Promise((r) => setTimeout(r, 100));
      assert.equal((await g.get("/b", { host: "x" })).body.toString(), "hello");
      assert.equal(connections, 2);
    } finally {
      g.close();
      tcp.close();
    }
  });

  it("does not ask again when a kept-alive connection breaks in the middle of an answer", async () => {
    let connections = 0;
    const tcp = await listen(
      createTcpServer((s) => {
        connections++;
        let n = 0;
        s.on("data", () => {
          if (n++ === 0) s.write("HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello");
          else {
            s.write("HTTP/1.1 200 OK\r\ncontent-length: 500\r\n\r\npart");
            setTimeout(() => s.destroy(), 20);
          }
        });
        s.on("error", () => {});
      }),
    );
    const g = getter(tcp.port);
    try {
      assert.equal((await g.get("/a", { host: "x" })).body.toString(), "hello");
      const err = await failure(g.get("/b", { host: "x" }));
      assert.equal(err.code, "ECONNRESET");
      assert.equal(connections, 1, "not made again on a new connection");
    } finally {
      g.close();
      tcp.close();
    }
  });

  it("gives an error's status and body, whether sent with a length or in chunks", async () => {
    const xml = "<Error><Code>NoSuchKey</Code><Message>gone</Message></Error>";
    const http = await listen(createHttpServer((req, res) => {
      if (req.url === "/len") res.writeHead(404, { "content-length": Buffer.byteLength(xml) }).end(xml);
      else {
        res.writeHead(500);
        res.write(xml.slice(0, 10));
        setTimeout(() => res.end(xml.slice(10)), 20);
      }
    }));
    const g = getter(http.port);
    try {
      const a = await g.get("/len", { host: "x" });
      assert.deepEqual([a.status, a.body.toString()], [404, xml]);
      const b = await g.get("/chunked", { host: "x" });
      assert.deepEqual([b.status, b.body.toString()], [500, xml]);
      const c = await g.get("/len", { host: "x" });
      assert.equal(c.status, 404);
    } finally {
      g.close();
      http.close();
    }
  });

  it("leaves responses it does not handle to the caller: a chunked success, more bytes than announced, not HTTP", async () => {
    const answers = [
      "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
      "HTTP/1.1 200 OK\r\n\r\nno length",
      "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\ntoo long",
      "SSH-2.0-OpenSSH\r\n\r\n",
    ];
    let i = 0;
    const tcp = await rawServer((s) => s.write(answers[i++] ?? ""));
    const g = getter(tcp.port);
    try {
      for (const _ of answers) assert.ok((await failure(g.get("/", { host: "x" }))) instanceof RawGetFailed);
    } finally {
      g.close();
      tcp.close();
    }
  });

  it("fails with Node's codes for a refused connection, one cut in the middle of a body, and a silent server", async () => {
    const closed = await listen(createTcpServer());
    const port = closed.port;
    closed.close();
    const refused = await failure(getter(port).get("/", { host: "x" }));
    assert.equal(refused.code, "ECONNREFUSED");
    assert.ok(!(refused instanceof RawGetFailed));

    const cut = await rawServer((s) => {
      s.write("HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\npart of it");
      setTimeout(() => s.destroy(), 20);
    });
    const g = getter(cut.port);
    const broke = await failure(g.get("/", { host: "x" }));
    assert.equal(broke.code, "ECONNRESET");
    g.close();
    cut.close();

    const sockets: Socket[] = [];
    const silent = await listen(createTcpServer((s) => void sockets.push(s)));
    const t0 = Date.now();
    const slow = await failure(getter(silent.port, 200).get("/", { host: "x" }));
    assert.equal(slow.name, "TimeoutError");
    assert.ok(Date.now() - t0 < 3000);
    for (const s of sockets) s.destroy();
    silent.close();
  });
});
