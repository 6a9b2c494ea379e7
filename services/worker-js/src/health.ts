/**
 * The worker's health on a port of its own, for probes (Kubernetes, Compose), as the Python
 * services serve it (`agentlist.core.health`): `GET /livez` answers 200 while the event loop
 * runs; `GET /readyz` 200 while the worker is registered, connected and not draining, else
 * 503. Nothing else is served, and nothing about the mesh is said.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export type Readiness = () => boolean;

/** Start serving the probes on `host:port` (`0`: any free port); resolves once listening. */
export async function serveHealth(host: string, port: number, ready: Readiness): Promise<Server> {
  const server = createServer((request, response) => {
    const path = (request.url ?? "").split("?", 1)[0];
    let status: number;
    if (request.method !== "GET" && request.method !== "HEAD") status = 405;
    else if (path === "/livez") status = 200;
    else if (path === "/readyz") status = ready() ? 200 : 503;
    else status = 404;
    const body = status === 200 ? "ok\n" : `${STATUS_TEXT[status]}\n`;
    response.writeHead(status, { "Content-Type": "text/plain", Connection: "close" });
    response.end(body);
  });
  server.headersTimeout = 2000;
  server.requestTimeout = 2000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  return server;
}

export function boundPort(server: Server): number {
  return (server.address() as AddressInfo).port;
}

const STATUS_TEXT: Record<number, string> = {
  404: "not found",
  405: "method not allowed",
  503: "service unavailable",
};
