import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';

const dir = join(dirname(fileURLToPath(import.meta.url)), 'pages');
const CSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'";

/** The web chat (/chat) and the operators' console (/console): static pages over the same API. */
export async function pageRoutes(app: FastifyInstance): Promise<void> {
  const files: Array<[string, string, string]> = [
    ['/chat', 'chat.html', 'text/html; charset=utf-8'],
    ['/chat.js', 'chat.js', 'text/javascript; charset=utf-8'],
    ['/console', 'console.html', 'text/html; charset=utf-8'],
    ['/console.js', 'console.js', 'text/javascript; charset=utf-8'],
  ];
  for (const [path, file, type] of files) {
    const body = readFileSync(join(dir, file), 'utf8');
    app.get(path, { schema: { hide: true } }, async (_req, reply) =>
      reply.type(type).header('content-security-policy', CSP).header('x-content-type-options', 'nosniff').header('cache-control', 'no-cache').send(body));
  }
}
