import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Listens on host:port (0 = any free port); resolves with the port and a URL a local client can use. */
export async function listen(server: Server, host: string, port: number): Promise<{ port: number; url: string }> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const bound = (server.address() as AddressInfo).port;
  const local = host === '0.0.0.0' ? '127.0.0.1' : host;
  return { port: bound, url: `http://${local.includes(':') ? `[${local}]` : local}:${bound}` };
}
