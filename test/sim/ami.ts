/**
 * Asterisk Manager Interface simulator: a TCP server on 127.0.0.1, port 0, that speaks the AMI
 * text protocol (key: value lines, a blank line ends a message) as Asterisk does for: the
 * greeting line, Action Login (Response Success / Error "Authentication failed"), Action
 * PJSIPShowRegistrationsOutbound (Response Success, one OutboundRegistrationDetail event per
 * registration, then OutboundRegistrationDetailComplete), Action Ping, Action Logoff, and
 * unsolicited Registry events. Nothing else.
 */
import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';

export class AmiSim {
  server: Server | null = null;
  port = 0;
  readonly registrations = new Map<string, string>([['trunk', 'Registered']]);
  readonly actions: Array<Record<string, string>> = [];
  private readonly sockets = new Set<Socket>();

  constructor(private readonly user = 'zhedel', private readonly secret = 'secret') {}

  static async start(user?: string, secret?: string): Promise<AmiSim> {
    const s = new AmiSim(user, secret);
    await new Promise<void>((resolve) => {
      s.server = createServer((sock) => s.accept(sock)).listen(0, '127.0.0.1', () => {
        const a = s.server?.address();
        s.port = typeof a === 'object' && a ? a.port : 0;
        resolve();
      });
    });
    return s;
  }

  private accept(sock: Socket): void {
    this.sockets.add(sock);
    sock.on('close', () => this.sockets.delete(sock));
    sock.on('error', () => undefined);
    sock.write('Asterisk Call Manager/9.0.0\r\n');
    let buf = '';
    let authed = false;
    sock.on('data', (d) => {
      buf += d.toString();
      let i: number;
      while ((i = buf.indexOf('\r\n\r\n')) >= 0) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 4);
        const msg: Record<string, string> = {};
        for (const line of block.split('\r\n')) {
          const k = line.indexOf(':');
          if (k > 0) msg[line.slice(0, k).trim().toLowerCase()] = line.slice(k + 1).trim();
        }
        this.actions.push(msg);
        const id = msg.actionid ? `ActionID: ${msg.actionid}\r\n` : '';
        const action = (msg.action ?? '').toLowerCase();
        if (action === 'login') {
          authed = msg.username === this.user && msg.secret === this.secret;
          sock.write(authed ? `Response: Success\r\n${id}Message: Authentication accepted\r\n\r\n` : `Response: Error\r\n${id}Message: Authentication failed\r\n\r\n`);
          if (!authed) sock.end();
        } else if (!authed) {
          sock.write(`Response: Error\r\n${id}Message: Permission denied\r\n\r\n`);
        } else if (action === 'pjsipshowregistrationsoutbound') {
          sock.write(`Response: Success\r\n${id}EventList: start\r\nMessage: Following are Events for each Outbound registration\r\n\r\n`);
          for (const [name, status] of this.registrations) {
            sock.write(`Event: OutboundRegistrationDetail\r\n${id}ObjectType: registration\r\nObjectName: ${name}\r\nStatus: ${status}\r\n\r\n`);
          }
          sock.write(`Event: OutboundRegistrationDetailComplete\r\n${id}EventList: Complete\r\nListItems: ${this.registrations.size}\r\n\r\n`);
        } else if (action === 'ping') {
          sock.write(`Response: Success\r\n${id}Ping: Pong\r\n\r\n`);
        } else if (action === 'logoff') {
          sock.write(`Response: Goodbye\r\n${id}\r\n`);
          sock.end();
        } else {
          sock.write(`Response: Error\r\n${id}Message: Invalid/unknown command\r\n\r\n`);
        }
      }
    });
  }

  dropAll(): void {
    for (const s of this.sockets) s.destroy();
  }

  async close(): Promise<void> {
    this.dropAll();
    const s = this.server;
    this.server = null;
    if (s) await new Promise<void>((r) => s.close(() => r()));
  }
}
