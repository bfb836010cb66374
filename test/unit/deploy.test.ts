import { readFileSync } from 'node:fs';
import { validate } from 'dockerfile-utils';
import { describe, expect, it } from 'vitest';

describe('deployment files', () => {
  const dockerfile = readFileSync('Dockerfile', 'utf8');

  it('the Dockerfile passes the linter', () => {
    expect(validate(dockerfile).map((d) => `${d.range.start.line + 1}: ${d.message}`)).toEqual([]);
  });

  it('builds on a supported Node.js LTS that package.json allows, in stages, runs the compiled service', () => {
    const image = /^ARG NODE_IMAGE=node:(\d+)-bookworm-slim$/m.exec(dockerfile);
    expect(image).not.toBeNull();
    const major = Number(image?.[1]);
    expect([22, 24]).toContain(major);
    const engines = (JSON.parse(readFileSync('package.json', 'utf8')) as { engines: { node: string } }).engines.node;
    expect(Number(/^>=(\d+)/.exec(engines)?.[1])).toBeLessThanOrEqual(major);
    expect(dockerfile.match(/^FROM \$\{NODE_IMAGE\} AS (build|test|runtime)$/gm)).toHaveLength(3);
    // the runtime stage gets dist/ from the build stage and starts it without a TypeScript loader
    const runtime = dockerfile.slice(dockerfile.indexOf('AS runtime'));
    expect(runtime).toMatch(/COPY --from=build --chown=node:node \/app\/dist \.\/dist/);
    expect(runtime).not.toMatch(/COPY .*\bsrc\b/);
    expect(runtime).toMatch(/^CMD \["node", "bin\/zhedel\.js", "serve"\]$/m);
  });

  it('runs as a non-root user, checks /health, bakes in no secret', () => {
    expect(dockerfile).toMatch(/npm prune --omit=dev/);
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile).toMatch(/^VOLUME \["\/data"\]$/m);
    expect(dockerfile).toMatch(/^HEALTHCHECK .*\n.*\/health/m);
    expect(dockerfile).toMatch(/COPY --chown=node:node prompts \.\/prompts/);
    const instructions = dockerfile.split('\n').filter((l) => !l.startsWith('#')).join('\n');
    expect(instructions).not.toMatch(/ZHEDEL_(SECRET|SMPP_PASSWORD|ARI_PASSWORD|AMI_SECRET|MONITORING_KEY)/);
  });

  it('compose mounts the dialplan and the prompts into Asterisk and keeps data in a volume', () => {
    const compose = readFileSync('compose.yaml', 'utf8');
    for (const f of ['extensions.conf', 'pjsip.conf', 'ari.conf', 'http.conf', 'manager.conf']) expect(compose).toContain(`./dialplan/${f}:/etc/asterisk/${f}:ro`);
    expect(compose).toContain('./prompts/kk:/var/lib/asterisk/sounds/zhedel/kk:ro');
    expect(compose).toContain('zhedel-data:/data');
  });

  it('every SIP endpoint on the public transport authenticates or is matched by the trunk\'s address', () => {
    const sections: Array<{ name: string; keys: Record<string, string> }> = [];
    for (const raw of readFileSync('dialplan/pjsip.conf', 'utf8').split('\n')) {
      const line = raw.replace(/;.*$/, '').trim();
      const head = /^\[([^\]]+)\]$/.exec(line);
      if (head) sections.push({ name: head[1] as string, keys: {} });
      const kv = /^([\w-]+)\s*=\s*(.*)$/.exec(line);
      if (kv && sections.length) (sections[sections.length - 1] as { keys: Record<string, string> }).keys[kv[1] as string] = kv[2] as string;
    }
    const endpoints = sections.filter((s) => s.keys.type === 'endpoint');
    expect(endpoints.map((e) => e.name)).toEqual(['trunk', 'operators']);
    for (const e of endpoints) {
      const byAddress = sections.some((s) => s.keys.type === 'identify' && s.keys.endpoint === e.name && s.keys.match);
      const auth = e.keys.auth ? sections.find((s) => s.name === e.keys.auth && s.keys.type === 'auth') : undefined;
      expect({ endpoint: e.name, authenticated: byAddress || (auth !== undefined && (auth.keys.password ?? '').length > 0) }).toEqual({ endpoint: e.name, authenticated: true });
    }
  });
});
