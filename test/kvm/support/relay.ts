// STAND-IN for QEMU's virtio-serial bridging, for tests that run the real agent on this host:
// the agent connects as a client to a unix socket (its `--port`), and memcoop connects as a
// client to QEMU's chardev socket; in a real guest QEMU joins the two. Here a small relay listens
// on both paths and copies bytes between the one connection on each side, dropping what the
// agent writes while memcoop is not connected (as the port does: writes go nowhere then).
import { createServer, type Server, type Socket } from 'node:net';

export interface Relay {
  /** Bytes the agent sent, for the test to look at. */
  fromAgent(): string;
  /** Bytes memcoop sent toward the agent. */
  fromHost(): string;
  close(): Promise<void>;
}

export async function startRelay(agentSide: string, hostSide: string): Promise<Relay> {
  let agent: Socket | null = null;
  let host: Socket | null = null;
  let seen = '';
  let sent = '';
  const servers: Server[] = [];
  const agentSrv = createServer((s) => {
    agent?.destroy();
    agent = s;
    s.on('error', () => {});
    s.on('data', (b) => {
      seen += b.toString('utf8');
      host?.write(b);
    });
    s.on('close', () => {
      if (agent === s) agent = null;
    });
  });
  const hostSrv = createServer((s) => {
    host?.destroy();
    host = s;
    s.on('error', () => {});
    s.on('data', (b) => {
      sent += b.toString('utf8');
      agent?.write(b);
    });
    s.on('close', () => {
      if (host === s) host = null;
    });
  });
  servers.push(agentSrv, hostSrv);
  await Promise.all([
    new Promise<void>((r) => agentSrv.listen(agentSide, r)),
    new Promise<void>((r) => hostSrv.listen(hostSide, r)),
  ]);
  return {
    fromAgent: () => seen,
    fromHost: () => sent,
    close: async () => {
      agent?.destroy();
      host?.destroy();
      await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
    },
  };
}
